package deploytest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/bsc-sim/bsc/internal/config"
)

// loadCompose loads docker-compose.yml as `docker compose` would, with an
// empty environment and the given profiles active, and validates it
// against the compose schema. No Docker engine is involved.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, ComposePath)}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("bsc", true)
		o.Profiles = profiles
	})
	if err != nil {
		t.Fatalf("load %s: %v", ComposePath, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

// clusterNodes are the services of the profile cluster.
var clusterNodes = []string{"bsc-n1", "bsc-n2", "bsc-n3"}

// Without a profile: bsc, Prometheus and Grafana; each profile adds its
// services and no other, and the services without one always start.
func TestComposeServicesAndProfiles(t *testing.T) {
	always := []string{"bsc", "grafana", "prometheus"}
	for _, c := range []struct {
		profile string
		adds    []string
	}{
		{"", nil},
		{"load", []string{"load"}},
		{"cluster", clusterNodes},
	} {
		var p *types.Project
		if c.profile == "" {
			p = loadCompose(t)
		} else {
			p = loadCompose(t, c.profile)
		}
		want := sortedNames(append(slices.Clone(always), c.adds...))
		if got := sortedNames(p.ServiceNames()); !slices.Equal(got, want) {
			t.Errorf("services with profile %q: %v, want %v", c.profile, got, want)
		}
		for _, name := range c.adds {
			if s := service(t, p, name); !slices.Equal(s.Profiles, []string{c.profile}) {
				t.Errorf("service %s: profiles %v, want [%s]", name, s.Profiles, c.profile)
			}
		}
		for _, name := range always {
			if s := service(t, p, name); len(s.Profiles) != 0 {
				t.Errorf("service %s has profiles %v; it must always start", name, s.Profiles)
			}
		}
	}
	base := loadCompose(t)
	for _, name := range append([]string{"load"}, clusterNodes...) {
		if _, ok := base.DisabledServices[name]; !ok {
			t.Errorf("service %s is not disabled without its profile (disabled: %v)", name, base.DisabledServices)
		}
	}
}

func TestComposeBscBuiltFromDockerfile(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, "load", "cluster")
	runsBsc := append([]string{"bsc", "load"}, clusterNodes...)
	for _, name := range runsBsc {
		s := service(t, p, name)
		if s.Build == nil {
			t.Fatalf("service %s has no build", name)
		}
		if filepath.Clean(s.Build.Context) != root {
			t.Errorf("service %s: build context %q, want the repository root %q", name, s.Build.Context, root)
		}
		df := s.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if !filepath.IsAbs(df) {
			df = filepath.Join(s.Build.Context, df)
		}
		if df != filepath.Join(root, "Dockerfile") {
			t.Errorf("service %s: dockerfile %q, want the repository's Dockerfile", name, df)
		}
	}
	bsc := service(t, p, "bsc")
	if bsc.Image == "" {
		t.Error("service bsc names no image")
	}
	for _, name := range runsBsc[1:] {
		if s := service(t, p, name); s.Image != bsc.Image {
			t.Errorf("%s image %q, want bsc's image %q (same build)", name, s.Image, bsc.Image)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".dockerignore")); err != nil {
		t.Error(err)
	}
}

func TestComposeBscService(t *testing.T) {
	bsc := service(t, loadCompose(t), "bsc")
	if len(bsc.Command) == 0 || bsc.Command[0] != "serve" {
		t.Fatalf("bsc command %q, want serve ...", bsc.Command)
	}
	// The flags are those of `bsc serve`: parse them as it does.
	cfg, err := config.Load(bsc.Command[1:], func(string) string { return "" })
	if err != nil {
		t.Fatalf("bsc command %q: %v", bsc.Command, err)
	}
	if cfg.Listen != "0.0.0.0:8080" {
		t.Errorf("bsc listens on %q, want 0.0.0.0:8080", cfg.Listen)
	}
	if cfg.DB != "/data/bsc.db" {
		t.Errorf("bsc database %q, want /data/bsc.db (in the volume)", cfg.DB)
	}
	if tok, ok := bsc.Environment["BSC_API_TOKEN"]; !ok {
		t.Error("bsc environment lacks BSC_API_TOKEN")
	} else if tok != nil && *tok != "" {
		t.Errorf("BSC_API_TOKEN defaults to %q, want empty (none)", *tok)
	}
	wantVolume(t, bsc, "bsc-data", "/data")
	wantPort(t, bsc, 8080)
}

// The profile cluster is docs/cluster.md's three nodes: embedded NATS,
// each node its own name, database and volume, its routes on the compose
// network at its own service name, every node the same peers (all three
// route addresses), its HTTP port published on its own host port, the
// same settings otherwise; and Prometheus's job bsc-cluster scrapes them
// all, at the port they listen on.
func TestComposeClusterProfile(t *testing.T) {
	p := loadCompose(t, "cluster")
	bsc := service(t, p, "bsc")
	var routes, peers, scraped []string
	names, volumes, published := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, name := range clusterNodes {
		s := service(t, p, name)
		if len(s.Command) == 0 || s.Command[0] != "serve" {
			t.Fatalf("%s command %q, want serve ...", name, s.Command)
		}
		cfg, err := config.Load(s.Command[1:], func(string) string { return "" })
		if err != nil {
			t.Fatalf("%s command %q: %v", name, s.Command, err)
		}
		if cfg.Mode() != config.Embedded {
			t.Errorf("%s: mode %s, want %s", name, cfg.Mode(), config.Embedded)
		}
		if want := fmt.Sprintf("n%d", i+1); cfg.Node != want {
			t.Errorf("%s: --node %q, want %q", name, cfg.Node, want)
		}
		names[cfg.Node] = true
		host, port, err := net.SplitHostPort(cfg.ClusterListen)
		if err != nil || host != name {
			t.Errorf("%s: --cluster-listen %q, want %s:PORT (its name on the compose network)", name, cfg.ClusterListen, name)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil || port == "0" {
			t.Errorf("%s: --cluster-listen %q: a fixed port, which the peers dial", name, cfg.ClusterListen)
		}
		routes = append(routes, cfg.ClusterListen)
		got := strings.Split(cfg.ClusterPeers, ",")
		if peers == nil {
			peers = got
		} else if !slices.Equal(got, peers) {
			t.Errorf("%s: --cluster-peers %v, n1's %v: every node is given the same", name, got, peers)
		}
		_, listenPort, err := net.SplitHostPort(cfg.Listen)
		if err != nil || !strings.HasPrefix(cfg.Listen, "0.0.0.0:") {
			t.Errorf("%s listens on %q, want 0.0.0.0:PORT", name, cfg.Listen)
		}
		scraped = append(scraped, net.JoinHostPort(name, listenPort))
		if cfg.DB != "/data/bsc.db" {
			t.Errorf("%s database %q, want /data/bsc.db (in its volume)", name, cfg.DB)
		}
		volume := name + "-data"
		wantVolume(t, s, volume, "/data")
		volumes[volume] = true
		for _, pc := range s.Ports {
			if strconv.FormatUint(uint64(pc.Target), 10) != listenPort || pc.HostIP != "127.0.0.1" || published[pc.Published] {
				t.Errorf("%s publishes %+v: want its port %s on 127.0.0.1, on a host port of its own", name, pc, listenPort)
			}
			published[pc.Published] = true
		}
		if len(s.Ports) != 1 {
			t.Errorf("%s publishes %d ports, want 1 (HTTP)", name, len(s.Ports))
		}
		// The settings of the single node: the same token and log level.
		for _, k := range []string{"BSC_API_TOKEN", "BSC_LOG_LEVEL"} {
			if a, b := s.Environment[k], bsc.Environment[k]; a == nil || b == nil || *a != *b {
				t.Errorf("%s: %s = %v, bsc's %v", name, k, a, b)
			}
		}
		if len(s.Networks) != len(bsc.Networks) {
			t.Errorf("%s: networks %v, bsc's %v: every service on the compose network", name, s.Networks, bsc.Networks)
		}
	}
	if len(names) != len(clusterNodes) || len(volumes) != len(clusterNodes) {
		t.Errorf("node names %v, volumes %v: one each per node", names, volumes)
	}
	if !slices.Equal(sortedNames(peers), sortedNames(routes)) {
		t.Errorf("--cluster-peers %v, want every node's --cluster-listen %v", peers, routes)
	}
	for _, sc := range loadPromConfig(t).ScrapeConfigs {
		if sc.JobName == ClusterJob && !slices.Equal(scrapeTargets(sc), scraped) {
			t.Errorf("%s: job %s scrapes %v, want the nodes %v", PromConfPath, ClusterJob, scrapeTargets(sc), scraped)
		}
	}
}

func TestComposeLoadService(t *testing.T) {
	load := service(t, loadCompose(t, "load"), "load")
	got := strings.Join(load.Command, " ")
	if !strings.HasPrefix(got, "load --target http://bsc:8080 --phones 150 --calls 500") {
		t.Errorf("load command %q, want load --target http://bsc:8080 --phones 150 --calls 500 ...", got)
	}
	if dep, ok := load.DependsOn["bsc"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("load depends_on bsc %+v, want condition service_healthy", load.DependsOn)
	}
}

func TestComposePrometheusAndGrafana(t *testing.T) {
	p := loadCompose(t)
	prom := service(t, p, "prometheus")
	if !strings.HasPrefix(prom.Image, "prom/prometheus:") {
		t.Errorf("prometheus image %q, want prom/prometheus:<tag>", prom.Image)
	}
	wantBind(t, prom, PromConfPath, "/etc/prometheus/prometheus.yml")
	// Prometheus reads rule files relative to its configuration's directory.
	for _, r := range ruleFiles(t) {
		wantBind(t, prom, filepath.Join(filepath.Dir(PromConfPath), r), "/etc/prometheus/"+r)
	}
	wantVolume(t, prom, "prometheus-data", "/prometheus")
	wantPort(t, prom, 9090)

	graf := service(t, p, "grafana")
	if !strings.HasPrefix(graf.Image, "grafana/grafana:") {
		t.Errorf("grafana image %q, want grafana/grafana:<tag>", graf.Image)
	}
	wantBind(t, graf, "deploy/grafana/provisioning", "/etc/grafana/provisioning")
	dashboards := wantBind(t, graf, filepath.Dir(DashboardPath), "")
	wantVolume(t, graf, "grafana-data", "/var/lib/grafana")
	wantPort(t, graf, 3000)
	for k, want := range map[string]string{"GF_AUTH_ANONYMOUS_ENABLED": "true", "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer"} {
		if v := graf.Environment[k]; v == nil || *v != want {
			t.Errorf("grafana %s = %v, want %q (anonymous viewers)", k, v, want)
		}
	}

	// The dashboard provider reads where compose mounts the dashboards.
	var prov struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, ProviderPath), &prov); err != nil {
		t.Fatalf("%s: %v", ProviderPath, err)
	}
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path != dashboards {
		t.Errorf("%s: providers %+v, want one file provider with path %q", ProviderPath, prov.Providers, dashboards)
	}

	// The datasource points at the compose service prometheus.
	ds := loadDatasource(t)
	u, err := url.Parse(ds.URL)
	if err != nil {
		t.Fatalf("datasource url %q: %v", ds.URL, err)
	}
	if host, port, _ := net.SplitHostPort(u.Host); host != "prometheus" || port != "9090" {
		t.Errorf("datasource url %q, want http://prometheus:9090", ds.URL)
	}
}

// Every path compose mounts from the host exists in the repository, and
// every named volume is declared.
func TestComposeMountsExist(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, "load", "cluster")
	want := []string{"bsc-data", "grafana-data", "prometheus-data"}
	for _, n := range clusterNodes {
		want = append(want, n+"-data")
	}
	if got, want := sortedNames(mapKeys(p.Volumes)), sortedNames(want); !slices.Equal(got, want) {
		t.Errorf("named volumes %v, want %v", got, want)
	}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				rel, err := filepath.Rel(root, v.Source)
				if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
					t.Errorf("service %s mounts %s, outside the repository", s.Name, v.Source)
					continue
				}
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s mounts %s: %v", s.Name, rel, err)
				}
				if !v.ReadOnly {
					t.Errorf("service %s mounts %s read-write; repository files are mounted :ro", s.Name, rel)
				}
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("service %s uses volume %q, not declared", s.Name, v.Source)
				}
			default:
				t.Errorf("service %s: volume type %q", s.Name, v.Type)
			}
		}
	}
}

// wantBind checks that s mounts the repository path rel at target (any
// target if ""), and returns the target.
func wantBind(t *testing.T, s types.ServiceConfig, rel, target string) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), rel)
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == src && (target == "" || v.Target == target) {
			return v.Target
		}
	}
	t.Errorf("service %s does not mount %s at %q (volumes: %+v)", s.Name, rel, target, s.Volumes)
	return ""
}

func wantVolume(t *testing.T, s types.ServiceConfig, name, target string) {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == name && v.Target == target {
			return
		}
	}
	t.Errorf("service %s does not mount volume %s at %s (volumes: %+v)", s.Name, name, target, s.Volumes)
}

func wantPort(t *testing.T, s types.ServiceConfig, port uint32) {
	t.Helper()
	for _, p := range s.Ports {
		if p.Target == port && p.Published == strconv.FormatUint(uint64(port), 10) {
			return
		}
	}
	t.Errorf("service %s does not publish port %d (ports: %+v)", s.Name, port, s.Ports)
}

func sortedNames(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

package deploytest

import (
	"context"
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

func TestComposeServicesAndLoadProfile(t *testing.T) {
	base := loadCompose(t)
	if got, want := sortedNames(base.ServiceNames()), []string{"bsc", "grafana", "prometheus"}; !slices.Equal(got, want) {
		t.Errorf("services without a profile: %v, want %v", got, want)
	}
	if _, ok := base.DisabledServices["load"]; !ok {
		t.Errorf("service load is not disabled without its profile (disabled: %v)", base.DisabledServices)
	}

	withLoad := loadCompose(t, "load")
	if got, want := sortedNames(withLoad.ServiceNames()), []string{"bsc", "grafana", "load", "prometheus"}; !slices.Equal(got, want) {
		t.Errorf("services with profile load: %v, want %v", got, want)
	}
	load := service(t, withLoad, "load")
	if !slices.Equal(load.Profiles, []string{"load"}) {
		t.Errorf("load profiles %v, want [load]", load.Profiles)
	}
	for _, name := range []string{"bsc", "prometheus", "grafana"} {
		if s := service(t, withLoad, name); len(s.Profiles) != 0 {
			t.Errorf("service %s has profiles %v; it must always start", name, s.Profiles)
		}
	}
}

func TestComposeBscBuiltFromDockerfile(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, "load")
	for _, name := range []string{"bsc", "load"} {
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
	bsc, load := service(t, p, "bsc"), service(t, p, "load")
	if bsc.Image == "" || load.Image != bsc.Image {
		t.Errorf("load image %q, want bsc's image %q (same build)", load.Image, bsc.Image)
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
	p := loadCompose(t, "load")
	if got, want := sortedNames(mapKeys(p.Volumes)), []string{"bsc-data", "grafana-data", "prometheus-data"}; !slices.Equal(got, want) {
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

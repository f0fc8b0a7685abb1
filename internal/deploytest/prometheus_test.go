package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// promConfig is the part of deploy/prometheus.yml the tests read.
type promConfig struct {
	RuleFiles     []string       `yaml:"rule_files"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type scrapeConfig struct {
	JobName        string `yaml:"job_name"`
	ScrapeInterval string `yaml:"scrape_interval"`
	MetricsPath    string `yaml:"metrics_path"`
	StaticConfigs  []struct {
		Targets []string `yaml:"targets"`
	} `yaml:"static_configs"`
}

func loadPromConfig(t *testing.T) promConfig {
	t.Helper()
	var c promConfig
	if err := yaml.Unmarshal(readRepoFile(t, PromConfPath), &c); err != nil {
		t.Fatalf("%s: %v", PromConfPath, err)
	}
	return c
}

func TestPromtoolChecksConfig(t *testing.T) {
	out, err := runPromtool(t, "check", "config", filepath.Join(repoRoot(t), PromConfPath))
	if err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", PromConfPath, err, out)
	}
}

// The jobs scrape the compose services every 5 s (the provisioned
// datasource's scrape interval says the same: TestDatasourceScrapeInterval):
// job bsc the single node, job bsc-cluster the nodes of the profile
// cluster (TestComposeClusterProfile checks they are those services).
func TestPrometheusScrapesBsc(t *testing.T) {
	want := map[string][]string{SingleJob: {"bsc:8080"}, ClusterJob: {"bsc-n1:8080", "bsc-n2:8080", "bsc-n3:8080"}}
	var jobs []string
	for _, sc := range loadPromConfig(t).ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
		if d, err := time.ParseDuration(sc.ScrapeInterval); err != nil || d != 5*time.Second {
			t.Errorf("job %s: scrape_interval %q, want 5s", sc.JobName, sc.ScrapeInterval)
		}
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s: metrics_path %q, want /metrics", sc.JobName, sc.MetricsPath)
		}
		if got := scrapeTargets(sc); !slices.Equal(got, want[sc.JobName]) {
			t.Errorf("job %s: targets %v, want %v", sc.JobName, got, want[sc.JobName])
		}
	}
	if !slices.Equal(jobs, []string{SingleJob, ClusterJob}) {
		t.Errorf("%s: jobs %v, want [%s %s]", PromConfPath, jobs, SingleJob, ClusterJob)
	}
}

// scrapeTargets are a job's static targets.
func scrapeTargets(sc scrapeConfig) []string {
	var out []string
	for _, s := range sc.StaticConfigs {
		out = append(out, s.Targets...)
	}
	return out
}

// The configuration an end-to-end test runs Prometheus with: valid, with
// the rule files by absolute path and one job, scraping the given targets
// instead of the compose services.
func TestPrometheusConfigFor(t *testing.T) {
	targets := []string{"127.0.0.1:18081", "127.0.0.1:18082"}
	b, err := PrometheusConfigFor(repoRoot(t), ClusterJob, targets...)
	if err != nil {
		t.Fatal(err)
	}
	var c promConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(repoRoot(t), AlertRulesPath); !slices.Equal(c.RuleFiles, []string{want}) {
		t.Errorf("rule_files %q, want [%s]: absolute, for a config written anywhere", c.RuleFiles, want)
	}
	if len(c.ScrapeConfigs) != 1 || c.ScrapeConfigs[0].JobName != ClusterJob ||
		!slices.Equal(scrapeTargets(c.ScrapeConfigs[0]), targets) || c.ScrapeConfigs[0].ScrapeInterval != "5s" {
		t.Errorf("config for %v:\n%s", targets, b)
	}
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPromtool(t, "check", "config", f); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	for _, bad := range []struct {
		job     string
		targets []string
	}{{"no-such-job", targets}, {SingleJob, nil}} {
		if _, err := PrometheusConfigFor(repoRoot(t), bad.job, bad.targets...); err == nil {
			t.Errorf("job %q targets %v accepted", bad.job, bad.targets)
		}
	}
}

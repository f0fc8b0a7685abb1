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
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName        string `yaml:"job_name"`
		ScrapeInterval string `yaml:"scrape_interval"`
		MetricsPath    string `yaml:"metrics_path"`
		StaticConfigs  []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
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

// The bsc job scrapes the compose service bsc every 5 s (the provisioned
// datasource's scrape interval says the same: TestDatasourceScrapeInterval).
func TestPrometheusScrapesBsc(t *testing.T) {
	c := loadPromConfig(t)
	var found bool
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName != "bsc" {
			continue
		}
		found = true
		if d, err := time.ParseDuration(sc.ScrapeInterval); err != nil || d != 5*time.Second {
			t.Errorf("job bsc: scrape_interval %q, want 5s", sc.ScrapeInterval)
		}
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job bsc: metrics_path %q, want /metrics", sc.MetricsPath)
		}
		var targets []string
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
		if !slices.Equal(targets, []string{"bsc:8080"}) {
			t.Errorf("job bsc: targets %v, want [bsc:8080]", targets)
		}
	}
	if !found {
		t.Fatalf("%s has no job bsc", PromConfPath)
	}
}

// The configuration an end-to-end test runs Prometheus with: valid, and
// scraping the given target instead of bsc:8080.
func TestPrometheusConfigFor(t *testing.T) {
	b, err := PrometheusConfigFor(repoRoot(t), "127.0.0.1:18080")
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
	if len(c.ScrapeConfigs) != 1 || len(c.ScrapeConfigs[0].StaticConfigs) != 1 ||
		!slices.Equal(c.ScrapeConfigs[0].StaticConfigs[0].Targets, []string{"127.0.0.1:18080"}) ||
		c.ScrapeConfigs[0].ScrapeInterval != "5s" {
		t.Errorf("config for 127.0.0.1:18080:\n%s", b)
	}
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPromtool(t, "check", "config", f); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Jobs of deploy/prometheus.yml: the single node, and the three nodes of
// the compose stack's profile cluster.
const (
	SingleJob  = "bsc"
	ClusterJob = "bsc-cluster"
)

// PrometheusConfigFor returns deploy/prometheus.yml (under root) with job
// alone of its scrape jobs, scraping targets (host:port) instead of the
// compose services, and its rule files named by absolute path, everything
// else as in the compose stack: what a test runs a real Prometheus with,
// from any directory, against the bsc processes it started itself.
func PrometheusConfigFor(root, job string, targets ...string) ([]byte, error) {
	path := filepath.Join(root, PromConfPath)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("job %s: no target", job)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	jobs := get(docRoot(&doc), "scrape_configs")
	var kept []*yaml.Node
	for _, j := range seq(jobs) {
		if name := get(j, "job_name"); name == nil || name.Value != job {
			continue
		}
		replaced := 0
		for _, sc := range seq(get(j, "static_configs")) {
			if t := get(sc, "targets"); t != nil {
				t.Content = nil
				for _, target := range targets {
					t.Content = append(t.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: target})
				}
				replaced++
			}
		}
		if replaced != 1 {
			return nil, fmt.Errorf("%s: job %s has %d static target lists, want 1", path, job, replaced)
		}
		kept = append(kept, j)
	}
	if len(kept) != 1 {
		return nil, fmt.Errorf("%s: %d jobs %s, want 1", path, len(kept), job)
	}
	jobs.Content = kept
	for _, f := range seq(get(docRoot(&doc), "rule_files")) {
		if !filepath.IsAbs(f.Value) {
			f.Value = filepath.Join(filepath.Dir(path), f.Value)
		}
	}
	return yaml.Marshal(&doc)
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

// get is the value of key in mapping node m, nil if absent.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// seq is the items of sequence node s, none if s is not one.
func seq(s *yaml.Node) []*yaml.Node {
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	return s.Content
}

// PrometheusTestConfig is PrometheusConfigFor with the job scraped every
// interval, its scrape_timeout no longer than that: the end-to-end tests
// prove the dashboards at several scrape intervals.
func PrometheusTestConfig(root, job string, targets []string, interval time.Duration) ([]byte, error) {
	if interval < time.Millisecond || interval%time.Millisecond != 0 {
		return nil, fmt.Errorf("scrape interval %v: want a whole number of milliseconds", interval)
	}
	b, err := PrometheusConfigFor(root, job, targets...)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	every := promDuration(interval)
	for _, j := range seq(get(docRoot(&doc), "scrape_configs")) {
		set(j, "scrape_interval", every)
		set(j, "scrape_timeout", every)
	}
	return yaml.Marshal(&doc)
}

// promDuration writes d the way Prometheus reads durations ("1s", "500ms";
// never Go's "1m0s").
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// set sets key of mapping node m to the string value, adding the key if
// absent.
func set(m *yaml.Node, key, value string) {
	if v := get(m, key); v != nil {
		*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}

package deploytest

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The alerting rules of deploy/prometheus/alerts.yml: valid (promtool
// check rules), behaving as their unit tests say (promtool test rules with
// deploy/prometheus/alerts_test.yml), loaded by deploy/prometheus.yml and
// covering every alarm of the service. TestPrometheusE2E also loads them
// into real Prometheus servers.

// alarmSeverities are the service's alarms (docs/operations.md, Alarms) and
// their severities; each has an alert of that severity.
var alarmSeverities = map[string]string{
	"no_frequency":        "major",
	"frequency_pool_high": "minor",
	"restart_storm":       "major",
	"overloaded":          "major",
	"storage_failed":      "critical",
	"node_down":           "major",
	"cell_unowned":        "critical",
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadAlertRules(t *testing.T) []alertRule {
	t.Helper()
	var f struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, AlertRulesPath), &f); err != nil {
		t.Fatalf("%s: %v", AlertRulesPath, err)
	}
	var rules []alertRule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", AlertRulesPath)
	}
	return rules
}

// ruleFiles are the rule files deploy/prometheus.yml names, relative to
// its directory.
func ruleFiles(t *testing.T) []string {
	t.Helper()
	var c struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, PromConfPath), &c); err != nil {
		t.Fatalf("%s: %v", PromConfPath, err)
	}
	return c.RuleFiles
}

func TestPromtoolChecksAlertRules(t *testing.T) {
	out, err := runPromtool(t, "check", "rules", filepath.Join(repoRoot(t), AlertRulesPath))
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", AlertRulesPath, err, out)
	}
}

func TestPromtoolTestsAlertRules(t *testing.T) {
	out, err := runPromtool(t, "test", "rules", filepath.Join(repoRoot(t), AlertTestsPath))
	if err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", AlertTestsPath, err, out)
	}
}

// Prometheus loads the rules: deploy/prometheus.yml names the file (the
// compose test checks that the container has it at that place).
func TestPrometheusLoadsAlertRules(t *testing.T) {
	rel, err := filepath.Rel(filepath.Dir(PromConfPath), AlertRulesPath)
	if err != nil {
		t.Fatal(err)
	}
	if files := ruleFiles(t); !slices.Contains(files, filepath.ToSlash(rel)) {
		t.Errorf("%s: rule_files %q, want %s among them", PromConfPath, files, rel)
	}
}

// Every alarm has an alert with the alarm's severity, every alert a for:
// clause, a severity and a summary and description, and the rules are
// alerts only, each with its own name.
func TestAlertRulesCoverAlarms(t *testing.T) {
	names := map[string]bool{}
	alarms := map[string]string{}
	for _, r := range loadAlertRules(t) {
		if r.Alert == "" {
			t.Errorf("rule %q is not an alert", r.Record)
			continue
		}
		if names[r.Alert] {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		names[r.Alert] = true
		if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
			t.Errorf("alert %s: for %q, want a positive duration", r.Alert, r.For)
		}
		if !slices.Contains([]string{"critical", "major", "minor", "warning"}, r.Labels["severity"]) {
			t.Errorf("alert %s: severity %q, want one of the alarms' severities", r.Alert, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("alert %s: no summary or description", r.Alert)
		}
		if a := r.Labels["alarm"]; a != "" {
			alarms[a] = r.Labels["severity"]
		}
	}
	for alarm, severity := range alarmSeverities {
		if got, ok := alarms[alarm]; !ok {
			t.Errorf("no alert for alarm %s", alarm)
		} else if got != severity {
			t.Errorf("alert of alarm %s: severity %s, want the alarm's, %s", alarm, got, severity)
		}
	}
}

// Every alert is seen firing in the unit tests, so none goes untested.
func TestAlertRulesAreTested(t *testing.T) {
	var f struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, AlertTestsPath), &f); err != nil {
		t.Fatalf("%s: %v", AlertTestsPath, err)
	}
	if want := filepath.Base(AlertRulesPath); !slices.Equal(f.RuleFiles, []string{want}) {
		t.Errorf("%s tests %v, want [%s]", AlertTestsPath, f.RuleFiles, want)
	}
	firing := map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			}
		}
	}
	for _, r := range loadAlertRules(t) {
		if !firing[r.Alert] {
			t.Errorf("%s never expects alert %s to fire", AlertTestsPath, r.Alert)
		}
	}
}

package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// units are the Grafana units the dashboard may use.
var units = []string{"reqps", "ops", "percentunit", "percent", "s", "ms", "short", "bytes", "none"}

func loadOverview(t *testing.T) Dashboard {
	t.Helper()
	d, err := LoadDashboard(filepath.Join(repoRoot(t), DashboardPath))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type datasourceConf struct {
	Name string `yaml:"name"`
	UID  string `yaml:"uid"`
	Type string `yaml:"type"`
	URL  string `yaml:"url"`
}

func loadDatasource(t *testing.T) datasourceConf {
	t.Helper()
	var c struct {
		Datasources []datasourceConf `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, DatasourcePath), &c); err != nil {
		t.Fatalf("%s: %v", DatasourcePath, err)
	}
	if len(c.Datasources) != 1 {
		t.Fatalf("%s: %d datasources, want 1", DatasourcePath, len(c.Datasources))
	}
	return c.Datasources[0]
}

func TestDatasourceHasFixedUID(t *testing.T) {
	ds := loadDatasource(t)
	if ds.UID != DatasourceUID || ds.Type != "prometheus" {
		t.Errorf("%s: uid %q type %q, want uid %q type prometheus", DatasourcePath, ds.UID, ds.Type, DatasourceUID)
	}
}

func TestDashboardNoDatasourceInputs(t *testing.T) {
	raw := readRepoFile(t, DashboardPath)
	for _, bad := range []string{"${DS_", "__inputs"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("%s contains %q: panels name the datasource variable, whose default is the provisioned datasource", DashboardPath, bad)
		}
	}
}

// panelDatasource is what every panel and query names: the datasource
// variable.
var panelDatasource = Datasource{Type: "prometheus", UID: "${datasource}"}

// The variables Grafana users expect: a Prometheus datasource (by default
// the provisioned one), the job and its instances.
func TestDashboardVariables(t *testing.T) {
	d := loadOverview(t)
	byName := map[string]Variable{}
	var names []string
	for _, v := range d.Variables {
		byName[v.Name] = v
		names = append(names, v.Name)
	}
	if want := []string{"datasource", "job", "instance"}; !slices.Equal(names, want) {
		t.Fatalf("variables %q, want %q", names, want)
	}
	if ds := byName["datasource"]; ds.Type != "datasource" || ds.Query != "prometheus" || !slices.Equal(ds.Current, []string{DatasourceUID}) {
		t.Errorf("datasource variable %+v: want type datasource, query prometheus, current %s", ds, DatasourceUID)
	}
	for _, c := range []struct {
		name, query string
		multi       bool
	}{
		{"job", "label_values(bsc_build_info, job)", false},
		{"instance", `label_values(bsc_build_info{job="$job"}, instance)`, true},
	} {
		v := byName[c.name]
		if v.Type != "query" || v.Datasource == nil || *v.Datasource != panelDatasource || v.Query != c.query {
			t.Errorf("variable %s: %+v, want a query variable on %v: %s", c.name, v, panelDatasource, c.query)
		}
		// instance takes several values, All included: a regex, matched
		// with =~; job takes one, matched with =.
		if v.Multi != c.multi || v.IncludeAll != c.multi {
			t.Errorf("variable %s: multi %v includeAll %v, want %v", c.name, v.Multi, v.IncludeAll, c.multi)
		}
	}
}

// $__rate_interval is computed from the datasource's scrape interval, which
// must be the one Prometheus scrapes every job of bsc at.
func TestDatasourceScrapeInterval(t *testing.T) {
	var c struct {
		Datasources []struct {
			JSONData struct {
				TimeInterval string `yaml:"timeInterval"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, DatasourcePath), &c); err != nil || len(c.Datasources) != 1 {
		t.Fatalf("%s: %v", DatasourcePath, err)
	}
	got, err := time.ParseDuration(c.Datasources[0].JSONData.TimeInterval)
	if err != nil {
		t.Fatalf("%s: timeInterval: %v", DatasourcePath, err)
	}
	for _, sc := range loadPromConfig(t).ScrapeConfigs {
		if want, err := time.ParseDuration(sc.ScrapeInterval); err != nil || got != want {
			t.Errorf("%s: timeInterval %v, want %s, the scrape interval of job %s in %s", DatasourcePath, got, sc.ScrapeInterval, sc.JobName, PromConfPath)
		}
	}
}

func TestDashboardStructure(t *testing.T) {
	d := loadOverview(t)
	if d.Title != "BSC overview" || d.UID == "" {
		t.Errorf("title %q uid %q, want BSC overview and a uid", d.Title, d.UID)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want ≥ 36", d.SchemaVersion)
	}
	var rowKinds []string
	for _, r := range d.Rows {
		rowKinds = append(rowKinds, rowKind(r))
	}
	if want := []string{"RED", "Traffic", "Resources", "Alarms and overload", "Runtime", clusterRowKind}; !slices.Equal(rowKinds, want) {
		t.Errorf("rows %q, want %q", d.Rows, want)
	}
	if len(d.Panels) == 0 {
		t.Fatal("no panels")
	}
	titles := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Title == "" || titles[p.Title] {
			t.Errorf("%s: empty or repeated title", name)
		}
		titles[p.Title] = true
		if p.ID == 0 || ids[p.ID] {
			t.Errorf("%s: missing or repeated id", name)
		}
		ids[p.ID] = true
		if p.Row == "" {
			t.Errorf("%s: not under a row", name)
		}
		if p.Type != "timeseries" && p.Type != "stat" {
			t.Errorf("%s: type %q, want timeseries or stat", name, p.Type)
		}
		if p.Datasource == nil || *p.Datasource != panelDatasource {
			t.Errorf("%s: datasource %+v, want %+v", name, p.Datasource, panelDatasource)
		}
		if !slices.Contains(units, p.Unit) {
			t.Errorf("%s: unit %q, want one of %v", name, p.Unit, units)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", name)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: target %s has an empty expr", name, tg.RefID)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("%s: target refId %q empty or repeated", name, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && *tg.Datasource != panelDatasource {
				t.Errorf("%s: target %s datasource %+v, want %+v", name, tg.RefID, tg.Datasource, panelDatasource)
			}
		}
	}
}

// bscScrapeInterval is the scrape interval of job bsc in deploy/prometheus.yml.
func bscScrapeInterval(t *testing.T) time.Duration {
	t.Helper()
	for _, sc := range loadPromConfig(t).ScrapeConfigs {
		if sc.JobName == "bsc" {
			d, err := time.ParseDuration(sc.ScrapeInterval)
			if err != nil {
				t.Fatalf("scrape_interval %q: %v", sc.ScrapeInterval, err)
			}
			return d
		}
	}
	t.Fatal("no job bsc in " + PromConfPath)
	return 0
}

func TestDashboardQueriesAreWellFormed(t *testing.T) {
	for _, p := range loadOverview(t).Panels {
		for _, tg := range p.Targets {
			if err := checkExpr(tg.Expr); err != nil {
				t.Errorf("panel %q %s: %v\n  %s", p.Title, tg.RefID, err, tg.Expr)
			}
		}
	}
}

func TestCheckExprRejects(t *testing.T) {
	const sel = `{job="$job", instance=~"$instance"}`
	for _, expr := range []string{
		"",
		"sum(rate(bsc_calls_total" + sel + "[$__rate_interval])",
		"sum(rate(bsc_calls_total" + sel + "[$__rate_interval]))) ",
		`rate(bsc_calls_total{job="$job", instance=~"$instance", outcome="ok}[$__rate_interval])`,
		"rate(bsc_calls_total" + sel + "[1m])",
		"rate(bsc_calls_total" + sel + "[$__interval])",
		"rate(bsc_calls_total" + sel + "[$__rate_interval)]",
		"rate(bsc_calls_total" + sel + "[])",
		`sum by (route) (rate(bsc_http_requests_total{job="$job", instance=~"$instance", route="$route"}[$__rate_interval]))`,
		"sum(go_goroutines)",
		`sum(go_goroutines{job="$job"})`,
		`sum(process_resident_memory_bytes{instance=~"$instance"})`,
		`sum(go_goroutines{job=~"$job", instance=~"$instance"})`,
		`sum(go_goroutines{job="bsc", instance=~"$instance"})`,
		"rate(bsc_calls_total[$__rate_interval])",
		"bsc_phones_attached" + sel + " / bsc_phones_attached",
		"`raw`",
	} {
		if err := checkExpr(expr); err == nil {
			t.Errorf("checkExpr(%q) accepted it", expr)
		}
	}
	for _, expr := range []string{
		`sum by (route) (rate(bsc_http_requests_total{job="$job", instance=~"$instance", code=~"5.."}[$__rate_interval]))`,
		`max(go_gc_duration_seconds{job="$job",instance=~"$instance",quantile="1"})`,
		`rate(x{job="$job", instance=~"$instance", a="[(\"{"}[$__rate_interval])`,
		`max by (version) (bsc_build_info{instance=~"$instance", job="$job"}) or on() vector(0)`,
	} {
		if err := checkExpr(expr); err != nil {
			t.Errorf("checkExpr(%q): %v", expr, err)
		}
	}
}

// Every query parses as PromQL: promtool checks them as recording rules.
func TestDashboardQueriesParseWithPromtool(t *testing.T) {
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	write := func(rules []rule) string {
		doc := map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}}
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "rules.yml")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}

	// The check bites: a broken query fails it.
	if out, err := runPromtool(t, "check", "rules", write([]rule{{"dashboard:broken", "sum(rate(x[1m])"}})); err == nil {
		t.Fatalf("promtool check rules accepted a broken query:\n%s", out)
	}

	// As Grafana sends them to the compose stack's Prometheus: the single
	// node, and the cluster's nodes, all chosen.
	var rules []rule
	for i, vars := range []grafanaVars{
		{job: SingleJob, instances: []string{"bsc:8080"}, scrape: bscScrapeInterval(t)},
		{job: ClusterJob, instances: []string{"bsc-n1:8080", "bsc-n2:8080", "bsc-n3:8080"}, scrape: bscScrapeInterval(t)},
	} {
		for _, p := range loadOverview(t).Panels {
			for _, tg := range p.Targets {
				expr, err := interpolate(tg.Expr, vars)
				if err != nil {
					t.Fatalf("panel %q %s: %v", p.Title, tg.RefID, err)
				}
				rules = append(rules, rule{Record: fmt.Sprintf("dashboard:panel%d_%s_%d", p.ID, tg.RefID, i), Expr: expr})
			}
		}
	}
	if out, err := runPromtool(t, "check", "rules", write(rules)); err != nil {
		t.Fatalf("promtool check rules over the dashboard's queries: %v\n%s", err, out)
	}
}

// The dashboard shows every metric of the catalogue (docs/operations.md,
// Metrics, "The catalogue"), and the runtime row the Go collector's.
func TestDashboardCoversCatalogue(t *testing.T) {
	want := slices.Clone(catalogueMetrics)
	for _, m := range readMetricsDoc(t).catalogue {
		if !slices.Contains(want, m) {
			want = append(want, m)
		}
	}
	want = append(want, runtimeMetrics...)

	used := map[string]bool{}
	for _, p := range loadOverview(t).Panels {
		for _, e := range p.Exprs() {
			for _, id := range identifiers(e) {
				used[id] = true
			}
		}
	}
	for _, m := range want {
		if !used[m] && !used[m+"_bucket"] && !used[m+"_count"] && !used[m+"_sum"] {
			t.Errorf("no panel queries %s", m)
		}
	}
}

// The cluster row shows every metric of docs/operations.md's "Cluster
// mode", and only its panels query them: a single node exports none, so
// TestPrometheusE2E proves the other rows against one node and
// TestPrometheusClusterE2E the cluster row against three.
func TestDashboardClusterRow(t *testing.T) {
	cluster := readMetricsDoc(t).cluster
	if len(cluster) == 0 {
		t.Fatalf("%s names no metric under \"### Cluster mode\"", operationsDoc)
	}
	onRow := map[string]bool{}
	panels := 0
	for _, p := range loadOverview(t).Panels {
		var queried []string
		for _, e := range p.Exprs() {
			for _, id := range identifiers(e) {
				if m := histogramBase(id, cluster); slices.Contains(cluster, m) {
					queried = append(queried, m)
				}
			}
		}
		if !clusterPanel(p) {
			if len(queried) > 0 {
				t.Errorf("panel %q (row %q) queries %v, which only a cluster exports: it belongs in the cluster row", p.Title, p.Row, queried)
			}
			continue
		}
		panels++
		if len(queried) == 0 {
			t.Errorf("panel %q of the cluster row queries no cluster metric", p.Title)
		}
		for _, m := range queried {
			onRow[m] = true
		}
	}
	if panels == 0 {
		t.Fatal("no panel in the cluster row")
	}
	for _, m := range cluster {
		if !onRow[m] {
			t.Errorf("no panel of the cluster row queries %s", m)
		}
	}
}

// histogramBase is id without a histogram's _bucket, _count or _sum
// suffix when what is left is one of names; id otherwise.
func histogramBase(id string, names []string) string {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if b, ok := strings.CutSuffix(id, suffix); ok && slices.Contains(names, b) {
			return b
		}
	}
	return id
}

// Every metric a panel queries is one the code registers (and so
// docs/operations.md names): a typo would otherwise be a panel with no data.
func TestDashboardMetricsAreKnown(t *testing.T) {
	known := map[string]bool{}
	for _, m := range append(slices.Clone(catalogueMetrics), runtimeMetrics...) {
		known[m] = true
	}
	for _, m := range []string{"process_resident_memory_bytes", "process_cpu_seconds_total"} {
		known[m] = true
	}
	registered, err := registeredMetrics(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range registered {
		known[m] = true
	}
	for _, p := range loadOverview(t).Panels {
		for _, e := range p.Exprs() {
			for _, id := range identifiers(e) {
				if !strings.HasPrefix(id, "bsc_") && !strings.HasPrefix(id, "go_") && !strings.HasPrefix(id, "process_") {
					continue
				}
				base := id
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(id, suffix); ok && known[b] {
						base = b
					}
				}
				if !known[base] {
					t.Errorf("panel %q queries %s, which the code does not register", p.Title, id)
				}
			}
		}
	}
}

func TestPanelDocUpToDate(t *testing.T) {
	ds, err := LoadDashboards(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	old := readRepoFile(t, PanelDocPath)
	if want := RenderPanelDoc(ds, ParsePanelDocValues(old)); !bytes.Equal(old, want) {
		t.Errorf("%s is out of date: run go run ./internal/deploytest/cmd/panels", PanelDocPath)
	}
}

func TestPanelDocValuesRoundTrip(t *testing.T) {
	d := Dashboard{Title: "T", UID: "t", Panels: []Panel{
		{ID: 1, Title: "a|b", Row: "R", Unit: "s", Targets: []Target{
			{RefID: "A", Expr: `sum(rate(x{code=~"4..|5.."}[1m]))`},
			{RefID: "B", Expr: "max(\n  y\n)"},
			{RefID: "C", Expr: "z"},
		}},
	}}
	values := map[string]string{
		`sum(rate(x{code=~"4..|5.."}[1m]))`: "2 series | max 0.5",
		"max( y )":                          "42",
	}
	doc := RenderPanelDoc([]Dashboard{d}, values)
	got := ParsePanelDocValues(doc)
	if len(got) != 2 || got[`sum(rate(x{code=~"4..|5.."}[1m]))`] != "2 series | max 0.5" || got["max( y )"] != "42" {
		t.Errorf("values read back %q from\n%s", got, doc)
	}
	if !bytes.Contains(doc, []byte("| `z` |  | s | "+NoValue+" |")) {
		t.Errorf("a query without a value does not show %s:\n%s", NoValue, doc)
	}
	if again := RenderPanelDoc([]Dashboard{d}, got); !bytes.Equal(again, doc) {
		t.Errorf("render(parse(doc)) != doc:\n%s\n%s", doc, again)
	}
}

// codeMetricRE finds a metric name quoted in Go code.
var codeMetricRE = regexp.MustCompile(`"(bsc_[a-z0-9_]*[a-z0-9])"`)

// registeredMetrics are the bsc_ names quoted in the non-test Go code.
func registeredMetrics(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range codeMetricRE.FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
		return nil
	})
	return out, err
}

// identifiers are the identifier tokens of a PromQL expression (metric and
// label names, functions, keywords), string literals and numbers skipped.
func identifiers(expr string) []string {
	var out []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case isIdentStart(c):
			j := i + 1
			for j < len(expr) && (isIdentStart(expr[j]) || isDigit(expr[j])) {
				j++
			}
			out = append(out, expr[i:j])
			i = j
		case isDigit(c):
			for i < len(expr) && (isDigit(expr[i]) || isIdentStart(expr[i]) || expr[i] == '.') {
				i++
			}
		default:
			i++
		}
	}
	return out
}

// checkExpr is a structural check of a dashboard query, without a PromQL
// parser in the module: brackets balance outside string literals; the only
// variables are $job, $instance and $__rate_interval; every range window is
// [$__rate_interval]; and every metric selector (bsc_, go_ and process_
// names) matches job="$job" and instance=~"$instance", so that the panel
// shows the chosen job and instances and nothing else Prometheus scrapes.
func checkExpr(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return errors.New("empty")
	}
	// Grafana interpolates variables inside strings too.
	for _, m := range grafanaVarRE.FindAllStringSubmatch(expr, -1) {
		if name := m[1] + m[2]; name != "job" && name != "instance" && name != "__rate_interval" {
			return fmt.Errorf("variable %s: the dashboard has only $job, $instance and $__rate_interval", m[0])
		}
	}
	var stack []byte
	pairs := map[byte]byte{')': '(', ']': '['}
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '`':
			return errors.New("backtick string: it would break the Markdown panel table")
		case c == '"' || c == '\'':
			end := skipString(expr, i)
			if end > len(expr) {
				return fmt.Errorf("unterminated string at %d", i)
			}
			i = end - 1
		case isIdentStart(c):
			j := i + 1
			for j < len(expr) && (isIdentStart(expr[j]) || isDigit(expr[j])) {
				j++
			}
			name := expr[i:j]
			if metricName(name) {
				k := j
				for k < len(expr) && expr[k] == ' ' {
					k++
				}
				if k == len(expr) || expr[k] != '{' {
					return fmt.Errorf("%s without a job and instance selector", name)
				}
			}
			i = j - 1
		case c == '{':
			end, err := matchers(expr, i)
			if err != nil {
				return err
			}
			i = end
		case c == '(':
			stack = append(stack, c)
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return fmt.Errorf("unclosed [ at %d", i)
			}
			if win := expr[i+1 : i+end]; win != "$__rate_interval" {
				return fmt.Errorf("range [%s]: windows are [$__rate_interval], which holds enough samples at any scrape interval", win)
			}
			i += end
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return fmt.Errorf("unbalanced %c at %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack)
	}
	return nil
}

// metricName tells the metrics the dashboard may query by their prefix.
func metricName(id string) bool {
	return strings.HasPrefix(id, "bsc_") || strings.HasPrefix(id, "go_") || strings.HasPrefix(id, "process_")
}

// matchers checks the label matchers of the selector whose { is at
// expr[open]: job="$job" and instance=~"$instance" are among them. It
// returns the index of the closing }.
func matchers(expr string, open int) (int, error) {
	var list []string
	start := open + 1
	for i := start; i < len(expr); i++ {
		switch expr[i] {
		case '"', '\'':
			end := skipString(expr, i)
			if end > len(expr) {
				return 0, fmt.Errorf("unterminated string at %d", i)
			}
			i = end - 1
		case ',', '}':
			if m := strings.ReplaceAll(expr[start:i], " ", ""); m != "" {
				list = append(list, m)
			}
			start = i + 1
			if expr[i] == '}' {
				if !slices.Contains(list, `job="$job"`) || !slices.Contains(list, `instance=~"$instance"`) {
					return 0, fmt.Errorf("selector {%s} lacks job=\"$job\" or instance=~\"$instance\"", expr[open+1:i])
				}
				return i, nil
			}
		case '{', '(', ')', '[', ']':
			return 0, fmt.Errorf("%c inside the selector at %d", expr[i], open)
		}
	}
	return 0, fmt.Errorf("unclosed { at %d", open)
}

// skipString returns the index just past the string literal starting at
// expr[i], or len(expr)+1 if it is not terminated.
func skipString(expr string, i int) int {
	q := expr[i]
	for j := i + 1; j < len(expr); j++ {
		switch {
		case expr[j] == '\\' && q != '`':
			j++
		case expr[j] == q:
			return j + 1
		}
	}
	return len(expr) + 1
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Package deploytest checks the deployment files without a Docker engine:
// docker-compose.yml (loaded and schema-validated with compose-go), the
// Dockerfile, the Prometheus configuration (promtool) and the Grafana
// provisioning and dashboard in deploy/. Besides its tests it exports what
// the panel-table generator (cmd/panels) and an end-to-end test against a
// real Prometheus share: LoadDashboard, RenderPanelDoc and
// ParsePanelDocValues for deploy/grafana/README.md, PrometheusConfigFor and
// PrometheusTestConfig. The end-to-end tests run the real bsc binary and
// Debian's prometheus, one node (TestPrometheusE2E) and a cluster of three
// (TestPrometheusClusterE2E); -update (or BSC_UPDATE_PANEL_DOC=1) makes
// them write the values the queries returned into deploy/grafana/README.md.
package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Paths relative to the repository root.
const (
	ComposePath    = "docker-compose.yml"
	DashboardPath  = "deploy/grafana/dashboards/bsc-overview.json"
	PanelDocPath   = "deploy/grafana/README.md"
	PromConfPath   = "deploy/prometheus.yml"
	AlertRulesPath = "deploy/prometheus/alerts.yml"      // loaded by PromConfPath
	AlertTestsPath = "deploy/prometheus/alerts_test.yml" // promtool test rules
	DatasourcePath = "deploy/grafana/provisioning/datasources/prometheus.yml"
	ProviderPath   = "deploy/grafana/provisioning/dashboards/dashboards.yml"
)

// DatasourceUID is the fixed uid of the provisioned Prometheus datasource;
// every panel names it.
const DatasourceUID = "bsc-prometheus"

// NoValue is the value column of a query not evaluated yet.
const NoValue = "—"

// Datasource is a panel's or target's datasource reference.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Datasource   *Datasource `json:"datasource"`
}

// Panel is a graph or stat panel; rows are not panels here but the Row of
// the panels under them.
type Panel struct {
	ID         int
	Type       string
	Title      string
	Row        string // title of the row the panel is under, "" if none
	Unit       string // fieldConfig.defaults.unit
	Datasource *Datasource
	Targets    []Target
}

// Exprs are the PromQL expressions of the panel's targets, in order.
func (p Panel) Exprs() []string {
	out := make([]string, len(p.Targets))
	for i, t := range p.Targets {
		out[i] = t.Expr
	}
	return out
}

// Dashboard is what the tests need of a Grafana dashboard JSON model.
type Dashboard struct {
	UID           string
	Title         string
	SchemaVersion int
	Variables     []Variable // template variables, in order
	Rows          []string   // row titles, top to bottom
	Panels        []Panel    // every non-row panel, top to bottom
}

// Variable is a template variable of a dashboard.
type Variable struct {
	Name       string
	Type       string      // datasource, query, ...
	Query      string      // a datasource variable's plugin type; a query variable's query
	Datasource *Datasource // a query variable's
	Current    []string    // the values selected when the dashboard loads
	Multi      bool
	IncludeAll bool
}

type rawVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": "..."}
	Datasource *Datasource     `json:"datasource"`
	Current    struct {
		Value json.RawMessage `json:"value"` // a string, or a list of them
	} `json:"current"`
	Multi      bool `json:"multi"`
	IncludeAll bool `json:"includeAll"`
}

func (r rawVariable) variable() (Variable, error) {
	v := Variable{Name: r.Name, Type: r.Type, Datasource: r.Datasource, Multi: r.Multi, IncludeAll: r.IncludeAll}
	if len(r.Query) > 0 && json.Unmarshal(r.Query, &v.Query) != nil {
		var q struct{ Query string }
		if err := json.Unmarshal(r.Query, &q); err != nil {
			return v, fmt.Errorf("variable %s: query: %w", r.Name, err)
		}
		v.Query = q.Query
	}
	if len(r.Current.Value) > 0 {
		var one string
		if json.Unmarshal(r.Current.Value, &one) == nil {
			v.Current = []string{one}
		} else if err := json.Unmarshal(r.Current.Value, &v.Current); err != nil {
			return v, fmt.Errorf("variable %s: current value: %w", r.Name, err)
		}
	}
	return v, nil
}

type rawPanel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Datasource  *Datasource `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []Target   `json:"targets"`
	Panels  []rawPanel `json:"panels"` // a collapsed row's panels
}

// LoadDashboard reads a dashboard JSON file. Panels of collapsed rows are
// included; the Row of a panel is the last row above it.
func LoadDashboard(path string) (Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Dashboard{}, err
	}
	var raw struct {
		UID           string     `json:"uid"`
		Title         string     `json:"title"`
		SchemaVersion int        `json:"schemaVersion"`
		Panels        []rawPanel `json:"panels"`
		Templating    struct {
			List []rawVariable `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return Dashboard{}, fmt.Errorf("%s: %w", path, err)
	}
	d := Dashboard{UID: raw.UID, Title: raw.Title, SchemaVersion: raw.SchemaVersion}
	for _, rv := range raw.Templating.List {
		v, err := rv.variable()
		if err != nil {
			return Dashboard{}, fmt.Errorf("%s: %w", path, err)
		}
		d.Variables = append(d.Variables, v)
	}
	row := ""
	var add func(ps []rawPanel)
	add = func(ps []rawPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				row = p.Title
				d.Rows = append(d.Rows, row)
				add(p.Panels)
				continue
			}
			d.Panels = append(d.Panels, Panel{
				ID: p.ID, Type: p.Type, Title: p.Title, Row: row,
				Unit: p.FieldConfig.Defaults.Unit, Datasource: p.Datasource, Targets: p.Targets,
			})
		}
	}
	add(raw.Panels)
	return d, nil
}

// LoadDashboards loads every dashboard JSON file in the directory of
// DashboardPath under root, in file name order.
func LoadDashboards(root string) ([]Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(root, filepath.Dir(DashboardPath), "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboard in %s", filepath.Dir(DashboardPath))
	}
	out := make([]Dashboard, 0, len(files))
	for _, f := range files {
		d, err := LoadDashboard(f)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// RepoRoot finds the repository root: the nearest directory at or above the
// working directory that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// docHeader is the fixed top of deploy/grafana/README.md.
const docHeader = `# Grafana dashboards

Generated by ` + "`go run ./internal/deploytest/cmd/panels`" + ` from the dashboard
JSON in ` + "`dashboards/`" + `; edit the dashboard, then regenerate (a test in
` + "`internal/deploytest`" + ` fails while this file is out of date).

Grafana loads the dashboards through ` + "`provisioning/dashboards/dashboards.yml`" + `.
Their variables: ` + "`datasource`" + ` (any Prometheus datasource; by default the one of
` + "`provisioning/datasources/prometheus.yml`" + `, uid ` + "`" + DatasourceUID + "`" + `), ` + "`job`" + ` (the
Prometheus jobs that export ` + "`bsc_build_info`" + `) and ` + "`instance`" + ` (that job's
targets: one, several or all). Every selector of every query is
` + "`{job=\"$job\", instance=~\"$instance\"}`" + `, so the other processes one Prometheus
scrapes (itself, other Go services) never mix into a panel, and every rate is
over ` + "`$__rate_interval`" + `, which Grafana makes max(` + "`$__interval`" + ` + scrape interval,
4 × scrape interval) from the datasource's scrape interval (its
` + "`timeInterval`" + `, 5 s in the compose stack as in ` + "`deploy/prometheus.yml`" + `; set it to
the scrape interval of your Prometheus): a window always holds enough samples,
whatever the scrape interval and however far the dashboard is zoomed in.

The error ratio shows 5xx (server errors, ` + "`503 overloaded`" + ` included) and 4xx
(client and domain refusals such as ` + "`busy`" + ` or ` + "`no_frequency`" + `) as two
separate series, each as a share of all responses.

The last column is what each query returned in the end-to-end test
(` + "`TestPrometheusE2E`" + ` in ` + "`internal/deploytest`" + `): the real ` + "`bsc serve`" + ` binary
with three frequencies, three Debian Prometheus servers scraping it every 5 s,
15 s and 60 s with this configuration, a frequency-exhaustion phase (every
frequency taken, allocations and a call denied, ` + "`no_frequency`" + ` raised, then
cleared) and client errors, then ` + "`bsc load`" + ` traffic, during which every query
was evaluated against each server with the variables set as Grafana sets them:
` + "`job`" + ` and ` + "`instance`" + ` those of the test's bsc, ` + "`$__rate_interval`" + ` four scrape
intervals (its value while ` + "`$__interval`" + ` is at its floor, the scrape
interval: the shortest window Grafana uses). The column shows what the 5 s
server returned. ` + "`go test ./internal/deploytest -run 'TestPrometheus(Cluster)?E2E' -update`" + `
(or ` + "`BSC_UPDATE_PANEL_DOC=1`" + `) rewrites the column, the generator's ` + "`-values`" + `
flag takes values from a JSON file, and ` + NoValue + ` means not recorded yet. Rates
are over windows that partly precede the load, so they read lower than the
load's own rate.

The cluster row's values come from ` + "`TestPrometheusClusterE2E`" + ` instead (a single
node exports no cluster metric): three real nodes on loopback, one
Prometheus scraping them every 5 s as job ` + "`" + ClusterJob + "`" + `, calls between phones
of cells on different nodes sent through n1 and n2, then ` + "`kill -9`" + ` of n3. The
values are those seen while n3 was dead and its cells taken over, ` + "`instance`" + `
at All (the three nodes' addresses); the test also checks that the panels
say so (one node down, every cell owned by the two live nodes, their
failovers, the requests they forwarded), and, once n3 is started again,
that every node sees three up.

A query passes the test when Prometheus answers it without error or
warning, with at least one series of which at least one is a number. NaN
beside it counts as data: ` + "`histogram_quantile`" + ` gives NaN for a route whose
buckets did not move in the window (every route's series exists from the
start, at zero), and the column says how many series were NaN. It shows a
single series' value, up to four series by their legend, or the number of
series and the three largest. The same query with ` + "`job`" + ` or ` + "`instance`" + `
set to a name no target has must return nothing: every selector is filtered.
`

// docColumns is the table head; the query is column 3 (0-based), the value
// the last.
const docColumns = "| row | panel | ref | query | legend | unit | value returned in the integration test run |\n" +
	"|---|---|---|---|---|---|---|\n"

// RenderPanelDoc renders deploy/grafana/README.md: one table row per query
// of every panel. values maps a query expression to what it returned (white
// space in the expression does not matter); a query without a value shows
// NoValue.
func RenderPanelDoc(dashboards []Dashboard, values map[string]string) []byte {
	norm := make(map[string]string, len(values))
	for expr, v := range values {
		norm[oneLine(expr)] = v
	}
	var b strings.Builder
	b.WriteString(docHeader)
	for _, d := range dashboards {
		fmt.Fprintf(&b, "\n## %s (uid `%s`)\n\n", d.Title, d.UID)
		b.WriteString(docColumns)
		for _, p := range d.Panels {
			for _, t := range p.Targets {
				v := norm[oneLine(t.Expr)]
				if v == "" {
					v = NoValue
				}
				fmt.Fprintf(&b, "| %s | %s | %s | `%s` | %s | %s | %s |\n",
					cell(p.Row), cell(p.Title), cell(t.RefID), cell(t.Expr), cell(t.LegendFormat), cell(p.Unit), cell(v))
			}
		}
	}
	return []byte(b.String())
}

// ParsePanelDocValues reads the values back out of a rendered panel
// document: query expression (on one line, runs of white space as one
// space) to value, NoValue rows left out. It is the inverse of
// RenderPanelDoc's value column.
func ParsePanelDocValues(doc []byte) map[string]string {
	values := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := splitRow(line)
		if len(cells) != 7 || !strings.HasPrefix(cells[3], "`") {
			continue // the head
		}
		expr := strings.TrimSuffix(strings.TrimPrefix(cells[3], "`"), "`")
		if v := cells[6]; v != NoValue && v != "" {
			values[expr] = v
		}
	}
	return values
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

// oneLine puts s on one line, runs of white space as one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// splitRow splits "| a | b\|c |" into its unescaped, trimmed cells.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// clusterRowKind is the kind of the dashboard row whose panels only a
// cluster's nodes have data for (docs/operations.md, "Cluster mode").
const clusterRowKind = "Cluster"

// rowKind is a row title up to its colon: "Cluster" of "Cluster: nodes, ...".
func rowKind(title string) string {
	kind, _, _ := strings.Cut(title, ":")
	return kind
}

// clusterPanel tells whether p is in the cluster row.
func clusterPanel(p Panel) bool { return rowKind(p.Row) == clusterRowKind }

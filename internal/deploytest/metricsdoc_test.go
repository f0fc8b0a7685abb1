package deploytest

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The metric catalogue is documented in the repository, in the Metrics
// section of docs/operations.md: every bsc_ name the section gives must be
// registered by the code and exported from the start with the labels it
// gives (bsc_phones{state}), and those of its subsection "The catalogue"
// must be on the dashboard. catalogueMetrics is the floor the catalogue may
// not fall below; runtimeMetrics stand for "the Go and process collectors"
// in the dashboard's runtime row. The subsection "Cluster mode" names the
// metrics only a node of a cluster exports.

// operationsDoc is the project's own document of its operations.
const operationsDoc = "docs/operations.md"

var (
	catalogueMetrics = []string{
		"bsc_phones_attached", "bsc_phones", "bsc_attach_total", "bsc_detach_total",
		"bsc_calls_total", "bsc_call_setup_duration_seconds", "bsc_call_duration_seconds",
		"bsc_frequencies", "bsc_frequency_allocations_total", "bsc_frequency_deallocations_total",
		"bsc_overload_events_total", "bsc_alarm_active",
		"bsc_supervisor_restarts_total", "bsc_process_mailbox_depth", "bsc_handler_removed_total",
		"bsc_http_requests_total", "bsc_http_request_duration_seconds",
		"bsc_db_write_duration_seconds", "bsc_db_queue_depth",
		"bsc_build_info",
	}
	runtimeMetrics = []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds"}
)

// metricsDoc is what the Metrics section of docs/operations.md says.
type metricsDoc struct {
	all       []string            // every bsc_ name of the section, in order
	catalogue []string            // those of its subsection "The catalogue"
	cluster   []string            // those of its subsection "Cluster mode"
	labels    map[string][]string // the label names given with a metric
}

var (
	docMetricRE = regexp.MustCompile(`\bbsc_[a-z0-9_]*[a-z0-9]`)
	docLabelsRE = regexp.MustCompile(`\b(bsc_[a-z0-9_]*[a-z0-9])\{([a-z_,]+)\}`)
)

// parseMetricsDoc reads the section of doc from its "## Metrics" heading to
// the next "## " heading, and in it the catalogue, from "### The catalogue"
// to the next "### " heading.
func parseMetricsDoc(doc string) (metricsDoc, error) {
	_, sec, ok := strings.Cut(doc, "\n## Metrics")
	if !ok {
		return metricsDoc{}, errors.New(`no "## Metrics" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	_, cat, ok := strings.Cut(sec, "\n### The catalogue")
	if !ok {
		return metricsDoc{}, errors.New(`no "### The catalogue" in the Metrics section`)
	}
	cat, _, _ = strings.Cut(cat, "\n### ")
	d := metricsDoc{all: metricNames(sec), catalogue: metricNames(cat), labels: map[string][]string{}}
	if _, cl, ok := strings.Cut(sec, "\n### Cluster mode"); ok {
		cl, _, _ = strings.Cut(cl, "\n### ")
		d.cluster = metricNames(cl)
	}
	for _, m := range docLabelsRE.FindAllStringSubmatch(sec, -1) {
		d.labels[m[1]] = strings.Split(m[2], ",")
	}
	return d, nil
}

// metricNames are the distinct bsc_ names of text, in order.
func metricNames(text string) []string {
	var out []string
	for _, m := range docMetricRE.FindAllString(text, -1) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// readMetricsDoc reads the Metrics section of docs/operations.md.
func readMetricsDoc(t *testing.T) metricsDoc {
	t.Helper()
	d, err := parseMetricsDoc(string(readRepoFile(t, operationsDoc)))
	if err != nil {
		t.Fatalf("%s: %v", operationsDoc, err)
	}
	return d
}

// The document and the code name the same metrics, and the catalogue names
// every metric the tests rely on: a metric added, renamed or dropped
// without its documentation fails here, before any Prometheus runs.
func TestOperationsDocNamesEveryMetric(t *testing.T) {
	doc := readMetricsDoc(t)
	for _, m := range catalogueMetrics {
		if !slices.Contains(doc.catalogue, m) {
			t.Errorf("%s: the catalogue does not name %s", operationsDoc, m)
		}
	}
	registered, err := registeredMetrics(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range registered {
		if !slices.Contains(doc.all, m) {
			t.Errorf("the code registers %s, which the Metrics section of %s does not name", m, operationsDoc)
		}
	}
	for _, m := range doc.all {
		if !slices.Contains(registered, m) {
			t.Errorf("%s names %s, which the code does not register", operationsDoc, m)
		}
	}
}

func TestParseMetricsDoc(t *testing.T) {
	const doc = "# ops\n\n## Persistence\n`bsc_elsewhere_total`\n\n" +
		"## Metrics (Prometheus)\nPrefix `bsc_`.\n\n" +
		"### The catalogue\n- `bsc_phones{state}`, `bsc_build_info{version,commit}`\n- `bsc_detach_total`\n\n" +
		"### Also exported\n- `bsc_db_rows_dropped_total{table,reason}`, `bsc_phones` again\n\n" +
		"### Cluster mode\n- `bsc_cells_owned`\n\n" +
		"## Alarms\n`bsc_alarm_active{alarm,severity}`\n"
	got, err := parseMetricsDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := metricsDoc{
		all:       []string{"bsc_phones", "bsc_build_info", "bsc_detach_total", "bsc_db_rows_dropped_total", "bsc_cells_owned"},
		catalogue: []string{"bsc_phones", "bsc_build_info", "bsc_detach_total"},
		cluster:   []string{"bsc_cells_owned"},
		labels: map[string][]string{"bsc_phones": {"state"}, "bsc_build_info": {"version", "commit"},
			"bsc_db_rows_dropped_total": {"table", "reason"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseMetricsDoc:\n got %+v\nwant %+v", got, want)
	}
	for name, doc := range map[string]string{
		"no Metrics section": "# ops\n\n## Alarms\n`bsc_alarm_active`\n",
		"no catalogue":       "# ops\n\n## Metrics\n- `bsc_phones{state}`\n",
	} {
		if _, err := parseMetricsDoc(doc); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

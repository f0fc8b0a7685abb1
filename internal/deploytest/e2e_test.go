package deploytest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bsc-sim/bsc/internal/load"
)

// The dashboards proven against a real Prometheus (docs/operations.md,
// "Dashboards and the compose stack"): the real `bsc serve` binary and three
// Debian prometheus servers on loopback, scraping it every 5 s (the compose
// stack), 15 s and 60 s (Prometheus's default) with the compose stack's
// configuration, traffic from the load driver after a frequency-exhaustion
// phase, then every panel query through each server's HTTP API, its
// variables set as Grafana sets them for that scrape interval. The checks
// of promtool (config, queries as rules) are in prometheus_test.go and
// dashboard_test.go.

var updateFlag = flag.Bool("update", false,
	"TestPrometheusE2E, TestPrometheusClusterE2E: write the values the panel queries returned into "+PanelDocPath+
		" (also: BSC_UPDATE_PANEL_DOC=1)")

// e2eScrapes are the scrape intervals the dashboards must work at; the
// panel table records the values of the first, the compose stack's.
var e2eScrapes = []time.Duration{5 * time.Second, 15 * time.Second, time.Minute}

const (
	// e2eWait bounds each wait of the test: generous for a loaded 2-core
	// machine under the race detector, far below a hang. Waits for a
	// Prometheus add its scrape intervals.
	e2eWait = 30 * time.Second
	// e2eMinCalls is how many finished call attempts a Prometheus must
	// have scraped before the panels are evaluated, so that the rates and
	// latency quantiles summarise seconds of traffic, not one scrape.
	e2eMinCalls = 150
	// e2eLoadFor bounds the load run; the test stops it once every
	// Prometheus has given every panel data, at most about two scrapes
	// of the slowest after the traffic started.
	e2eLoadFor = 5 * time.Minute
	// e2eOwner owns the frequencies the exhaustion phase allocates.
	e2eOwner = "e2e-exhaust"
)

// Phones of the exhaustion phase, outside the load driver's population
// (load.DefaultConfig().MSISDNBase onwards).
const phoneA, phoneB = "4690000001", "4690000002"

func TestPrometheusE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds bsc and runs it with a real Prometheus")
	}
	t.Parallel() // beside TestPrometheusClusterE2E
	began := time.Now()
	// A single node exports no cluster metric: TestPrometheusClusterE2E
	// proves the cluster row.
	root, dashboards, queries, bin := setUpE2E(t, func(p Panel) bool { return !clusterPanel(p) })
	t.Logf("bsc built in %v", time.Since(began).Round(time.Millisecond))

	// Three frequencies: the exhaustion phase takes them all, and under
	// load some answered calls find none.
	bsc := startBSC(t, bin, "--frequencies", "10-12")
	first := scrape(t, bsc.url)
	checkCatalogueAtStart(t, first)
	checkAlarmAlerts(t, first)
	rules := loadAlertRules(t)

	// Every Prometheus starts now, so that the slowest has its two samples
	// by the time the traffic has run a while.
	proms := make([]*promProc, len(e2eScrapes))
	for i, every := range e2eScrapes {
		conf, err := PrometheusTestConfig(root, SingleJob, []string{bsc.addr}, every)
		if err != nil {
			t.Fatal(err)
		}
		proms[i] = startPrometheus(t, conf)
	}
	fast := proms[0]
	mustWait(t, e2eWait+e2eScrapes[0], "Prometheus to scrape bsc", fast.holds(`up{job="bsc"} == 1`))

	// Client errors before and after the exhaustion phase: a series that
	// appears with its first request is at 1 in its first sample, and
	// rate() sees no increase until the second round.
	clientErrors(t, bsc)
	exhaustFrequencies(t, bsc, fast)
	clientErrors(t, bsc)

	// Traffic: the load driver, in-process, against the binary, until the
	// panels are proven.
	cfg := load.DefaultConfig()
	cfg.Targets = []string{bsc.url}
	cfg.Phones, cfg.Duration, cfg.Rate = 60, e2eLoadFor, 20
	cfg.AnswerMin, cfg.AnswerMax = 5*time.Millisecond, 100*time.Millisecond
	cfg.Accept = 0.8
	cfg.TalkMin, cfg.TalkMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.Concurrency = 32
	var (
		rep     *load.Report
		loadErr error
	)
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{}) // closed once rep and loadErr are set
	go func() {
		defer close(finished)
		rep, loadErr = load.Run(ctx, cfg, nil)
	}()
	t.Cleanup(func() { // before bsc is killed (cleanups run last first)
		cancel()
		select {
		case <-finished:
		case <-time.After(e2eWait):
			t.Errorf("load run still going %v after it was interrupted", e2eWait)
		}
	})

	// While it runs: every panel's query returns data from every
	// Prometheus, all evaluated at once.
	values := make([]map[string]string, len(proms))
	t.Run("panels", func(t *testing.T) {
		for i, every := range e2eScrapes {
			t.Run("scrape="+promDuration(every), func(t *testing.T) {
				t.Parallel()
				vars := grafanaVars{job: SingleJob, instances: []string{bsc.addr}, scrape: every}
				minCalls := fmt.Sprintf(`sum(bsc_calls_total{job=%q}) >= %d`, SingleJob, e2eMinCalls)
				values[i] = evaluatePanels(t, proms[i], queries, vars, minCalls)
				t.Logf("every panel had data %v after the start", time.Since(began).Round(time.Second))
				// The alerting rules load and evaluate without error.
				mustWait(t, e2eWait, "the alerting rules to be evaluated", proms[i].rulesHealthy(len(rules)))
			})
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	checkCatalogueUnderLoad(t, scrape(t, bsc.url), cfg)

	// Stop the load: it detaches its phones and checks the books.
	cancel()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatal("load run did not end within 2 minutes of its interruption")
	}
	switch {
	case !errors.Is(loadErr, load.ErrInterrupted):
		t.Fatalf("load run: %v, want it interrupted", loadErr)
	case rep.Books == nil || rep.Verdict() != nil:
		t.Fatalf("load run: verdict %v, books %+v", rep.Verdict(), rep.Books)
	case rep.Calls.Outcomes["answered"] == 0:
		t.Errorf("load run: no call answered: %v", rep.Calls.Outcomes)
	}
	t.Logf("load: %d attempts, outcomes %v", rep.Calls.Attempts, rep.Calls.Outcomes)
	if bsc.exited() {
		t.Fatalf("bsc exited: %v", bsc.err)
	}

	writePanelDoc(t, dashboards, values[0])
	t.Logf("end to end in %v", time.Since(began).Round(time.Millisecond))
}

// setUpE2E is how an end-to-end test begins: it fails before building if
// prometheus is missing, and returns the repository root, the dashboards,
// the queries of their panels that keep selects, and the bsc binary.
func setUpE2E(t *testing.T, keep func(Panel) bool) (root string, dashboards []Dashboard, queries []panelQuery, bin string) {
	t.Helper()
	root = repoRoot(t)
	prometheusBinary(t)
	dashboards, err := LoadDashboards(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, dashboards, dashboardQueries(dashboards, keep), buildBSC(t, root)
}

// exhaustFrequencies takes every frequency through the API so that
// no_frequency is raised and allocations are denied, makes a phone call
// fail for want of a frequency, and gives them back so the alarm clears,
// each step seen by Prometheus.
func exhaustFrequencies(t *testing.T, bsc *bscProc, prom *promProc) {
	t.Helper()
	for _, m := range []string{phoneA, phoneB} {
		bsc.expect(t, http.StatusCreated, "", http.MethodPost, "/api/v1/phones", map[string]string{"msisdn": m}, nil)
	}
	var got []int
	for range 3 {
		var al struct{ Frequency int }
		bsc.expect(t, http.StatusCreated, "", http.MethodPost, "/api/v1/frequencies/allocations",
			map[string]string{"owner": e2eOwner}, &al)
		got = append(got, al.Frequency)
	}
	for range 2 {
		bsc.expect(t, http.StatusConflict, "no_frequency", http.MethodPost, "/api/v1/frequencies/allocations",
			map[string]string{"owner": e2eOwner}, nil)
	}

	// A calls B, B accepts: A's controller finds no frequency.
	bsc.expect(t, http.StatusOK, "", http.MethodPost, "/api/v1/phones/"+phoneA+"/actions",
		map[string]string{"action": "call", "to": phoneB}, nil)
	mustWait(t, e2eWait, phoneB+" ringing", phoneState(t, bsc, phoneB, "receiving"))
	bsc.expect(t, http.StatusOK, "", http.MethodPost, "/api/v1/phones/"+phoneB+"/actions",
		map[string]string{"action": "accept"}, nil)
	mustWait(t, e2eWait, "the call to end with no_frequency", func() error {
		if n, _ := scrape(t, bsc.url).sum("bsc_calls_total", map[string]string{"outcome": "no_frequency"}); n < 1 {
			return errors.New("bsc_calls_total{outcome=\"no_frequency\"} is 0")
		}
		return nil
	})
	mustWait(t, e2eWait, "Prometheus to see no_frequency raised and 3 allocations denied", prom.holds(
		`max(bsc_alarm_active{alarm="no_frequency"}) == 1 and on() `+
			`sum(bsc_frequency_allocations_total{result="no_frequency"}) >= 3`))

	for _, f := range got {
		bsc.expect(t, http.StatusNoContent, "", http.MethodDelete,
			fmt.Sprintf("/api/v1/frequencies/allocations/%d?owner=%s", f, e2eOwner), nil, nil)
	}
	mustWait(t, e2eWait, "Prometheus to see no_frequency cleared", prom.holds(
		`max(bsc_alarm_active{alarm="no_frequency"}) == 0 and on() `+
			`sum(bsc_alarm_transitions_total{alarm="no_frequency",action="clear"}) >= 1`))
	for _, m := range []string{phoneA, phoneB} {
		mustWait(t, e2eWait, m+" idle", phoneState(t, bsc, m, "idle"))
		bsc.expect(t, http.StatusNoContent, "", http.MethodDelete, "/api/v1/phones/"+m, nil, nil)
	}
}

// phoneState is a wait condition: the phone is in state.
func phoneState(t *testing.T, bsc *bscProc, msisdn, state string) func() error {
	return func() error {
		var ph struct{ State string }
		if status, code := bsc.do(t, http.MethodGet, "/api/v1/phones/"+msisdn, nil, &ph); status != http.StatusOK {
			return stop{fmt.Errorf("GET phone %s: %d %s", msisdn, status, code)}
		}
		if ph.State != state {
			return fmt.Errorf("%s is %s", msisdn, ph.State)
		}
		return nil
	}
}

// clientErrors sends requests the service refuses, so the 4xx series have
// data, and checks they break nothing.
func clientErrors(t *testing.T, bsc *bscProc) {
	t.Helper()
	bsc.expect(t, http.StatusNotFound, "not_attached", http.MethodGet, "/api/v1/phones/"+phoneA, nil, nil)
	bsc.expect(t, http.StatusNotFound, "", http.MethodGet, "/api/v1/no-such-route", nil, nil)
	bsc.expect(t, http.StatusBadRequest, "invalid_request", http.MethodPost, "/api/v1/frequencies/allocations",
		map[string]string{"owner": ""}, nil)
	bsc.expect(t, http.StatusOK, "", http.MethodGet, "/readyz", nil, nil)
}

// panelQuery is one target of one panel.
type panelQuery struct {
	dashboard string
	panel     Panel
	target    Target
}

func (q panelQuery) String() string {
	return fmt.Sprintf("%s / panel %d %q %s: %s", q.dashboard, q.panel.ID, q.panel.Title, q.target.RefID, oneLine(q.target.Expr))
}

// dashboardQueries are the queries of the panels of dashboards that keep
// selects, in order.
func dashboardQueries(dashboards []Dashboard, keep func(Panel) bool) []panelQuery {
	var out []panelQuery
	for _, d := range dashboards {
		for _, p := range d.Panels {
			if !keep(p) {
				continue
			}
			for _, tg := range p.Targets {
				out = append(out, panelQuery{d.Title, p, tg})
			}
		}
	}
	return out
}

// panelDocMu serialises the end-to-end tests' updates of the panel table.
var panelDocMu sync.Mutex

// writePanelDoc writes the values the queries returned into the panel
// table, when asked to (-update or BSC_UPDATE_PANEL_DOC=1) and the test
// passed, keeping the values of the queries it did not evaluate: each
// end-to-end test records its own rows.
func writePanelDoc(t *testing.T, dashboards []Dashboard, values map[string]string) {
	t.Helper()
	if !(*updateFlag || os.Getenv("BSC_UPDATE_PANEL_DOC") == "1") || t.Failed() {
		return
	}
	panelDocMu.Lock()
	defer panelDocMu.Unlock()
	path := filepath.Join(repoRoot(t), PanelDocPath)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	merged := ParsePanelDocValues(old)
	for expr, v := range values {
		merged[oneLine(expr)] = v
	}
	if err := os.WriteFile(path, RenderPanelDoc(dashboards, merged), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", PanelDocPath)
}

// evaluatePanels runs queries, their variables set as vars say, until all
// pass, and returns what each returned, for the panel table; first it waits
// until Prometheus holds ready (a PromQL condition; "": none). A query
// passes when Prometheus answers it without error or warning, with at
// least one series of which at least one is a number. NaN beside it is
// data: histogram_quantile gives NaN for a series whose buckets did not
// move in the window (a route without requests: every route's series
// exists from the start, at zero), and the table says how many series were
// NaN. Then every query, its job or its instances set to ones nothing has,
// must return nothing: each selector is filtered by both.
func evaluatePanels(t *testing.T, prom *promProc, queries []panelQuery, vars grafanaVars, ready string) map[string]string {
	t.Helper()
	// Rates need two samples in their window and the latency quantiles
	// traffic between them: up to two scrape intervals after the traffic
	// started.
	wait := e2eWait + 3*vars.scrape
	every := max(500*time.Millisecond, vars.scrape/10)
	if ready != "" {
		if err := waitFor(wait, every, prom.holds(ready)); err != nil {
			t.Fatalf("waiting for Prometheus to see enough traffic: %v", err)
		}
	}
	// The check bites: a broken query, a metric nobody exports and a
	// query of NaN alone all fail it (asked once Prometheus has data).
	for expr, want := range map[string]string{
		"sum(rate(bsc_calls_total[1m])":              "query error",
		"sum(rate(bsc_no_such_metric_total[1m]))":    "empty result",
		"sum by (state) (bsc_phones) * NaN":          "all NaN",
		`count(bsc_phones{state="no_such_state"})`:   "empty result",
		"sum(bsc_phones_attached) or on() vector(0)": "ok",
	} {
		ss, err := prom.query(expr)
		got, _ := judge(ss, err)
		if got == "" {
			got = "ok"
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("query %s judged %q, want %q", expr, got, want)
		}
	}

	exprs := func(v grafanaVars) []string {
		out := make([]string, len(queries))
		for i, q := range queries {
			expr, err := interpolate(q.target.Expr, v)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out[i] = expr
		}
		return out
	}
	values := map[string]string{}
	var failing []string
	err := waitFor(wait, every, func() error {
		failing = failing[:0]
		for i, expr := range exprs(vars) {
			q := queries[i]
			ss, err := prom.query(expr)
			if problem, fatal := judge(ss, err); fatal {
				return stop{fmt.Errorf("%s\n  %s\n  %s", q, expr, problem)}
			} else if problem != "" {
				failing = append(failing, fmt.Sprintf("%s\n  %s", q, problem))
				continue
			}
			values[q.target.Expr] = summarise(ss, q.target.LegendFormat, q.panel.Unit)
		}
		if len(failing) > 0 {
			return fmt.Errorf("%d of %d queries without data", len(failing), len(queries))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("evaluating the dashboards' queries (%s windows): %v:\n%s",
			promDuration(vars.rateInterval()), err, strings.Join(failing, "\n"))
	}
	var b strings.Builder
	for _, q := range queries {
		fmt.Fprintf(&b, "  %q %s: %s\n", q.panel.Title, q.target.RefID, values[q.target.Expr])
	}
	t.Logf("%d queries returned data over %s windows:\n%s", len(queries), promDuration(vars.rateInterval()), b.String())

	otherJob, otherInstance := vars, vars
	otherJob.job, otherInstance.instances = "no-such-job", []string{"no-such-instance:1"}
	for _, other := range []grafanaVars{otherJob, otherInstance} {
		for i, expr := range exprs(other) {
			if ss, err := prom.query(expr); err != nil || len(ss) > 0 {
				t.Errorf("%s\n  with job %q and instances %q: %d series (%v), want none: a selector ignores the variables",
					queries[i], other.job, other.instances, len(ss), err)
			}
		}
	}
	return values
}

// judge says what is wrong with a query's answer, "" if nothing: a query
// error (fatal: waiting does not mend it), an empty result, or only NaN.
func judge(ss []sample, err error) (problem string, fatal bool) {
	switch {
	case err != nil:
		return "query error: " + err.Error(), true
	case len(ss) == 0:
		return "empty result", false
	case !slices.ContainsFunc(ss, func(s sample) bool { return !math.IsNaN(s.value) }):
		return fmt.Sprintf("all NaN (%d series)", len(ss)), false
	}
	return "", false
}

// documentedLabels are the metrics the Metrics section of
// docs/operations.md names, with the label names it gives each
// ("bsc_phones{state}"); catalogueMetrics with none, if it left one out
// (TestOperationsDocNamesEveryMetric says so). Those of cluster mode are
// not a single node's.
func documentedLabels(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range catalogueMetrics {
		out[m] = nil
	}
	doc := readMetricsDoc(t)
	for _, m := range doc.all {
		if !slices.Contains(doc.cluster, m) {
			out[m] = doc.labels[m]
		}
	}
	return out
}

// documentedValues are label values docs/operations.md enumerates: each has
// a series from the start.
var documentedValues = map[string]map[string][]string{
	"bsc_phones":                      {"state": {"idle", "calling", "receiving", "connected"}},
	"bsc_frequencies":                 {"state": {"free", "allocated", "blocked"}},
	"bsc_frequency_allocations_total": {"result": {"ok", "no_frequency"}},
	"bsc_alarm_active":                {"alarm": {"no_frequency", "frequency_pool_high", "restart_storm", "overloaded", "storage_failed"}},
	"bsc_calls_total":                 {"outcome": {"answered", "rejected", "busy", "no_frequency", "cancelled", "dropped"}},
}

// checkCatalogueAtStart checks the first scrape of a fresh bsc: every
// documented metric with its documented labels has series, the enumerated
// label values included.
func checkCatalogueAtStart(t *testing.T, e exposition) {
	t.Helper()
	for name, labels := range documentedLabels(t) {
		ss := e.named(name)
		if e.types[name] == "histogram" {
			ss = e.named(name + "_count")
		}
		if len(ss) == 0 {
			t.Errorf("%s: no series at start (labelled series start at zero)", name)
			continue
		}
		for _, s := range ss {
			for _, l := range labels {
				if _, ok := s.labels[l]; !ok {
					t.Errorf("%s%v: no label %s (%s: %s{%s})", name, s.labels, l, operationsDoc, name, strings.Join(labels, ","))
				}
			}
		}
		for label, want := range documentedValues[name] {
			for _, v := range want {
				if _, ok := e.sum(name, map[string]string{label: v}); !ok {
					t.Errorf("%s{%s=%q}: no series at start", name, label, v)
				}
			}
		}
	}
}

// checkAlarmAlerts checks that every alarm bsc exports (its
// bsc_alarm_active series exist from the start) has an alert of its
// severity.
func checkAlarmAlerts(t *testing.T, e exposition) {
	t.Helper()
	for _, s := range e.named("bsc_alarm_active") {
		alarm, severity := s.labels["alarm"], s.labels["severity"]
		if want, ok := alarmSeverities[alarm]; !ok {
			t.Errorf("alarm %s (%s) has no alert in %s (add it, and to alarmSeverities)", alarm, severity, AlertRulesPath)
		} else if want != severity {
			t.Errorf("alarm %s is %s, its alert %s", alarm, severity, want)
		}
	}
}

// runtimeExported are the Go and process collectors' metrics the runtime
// row relies on.
var runtimeExported = []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds",
	"process_resident_memory_bytes", "process_cpu_seconds_total"}

// nonBaseUnits are name parts of units Prometheus wants as base units
// (seconds, bytes, ratios).
var nonBaseUnits = regexp.MustCompile(`_(milliseconds|microseconds|nanoseconds|ms|us|ns|minutes|hours|days|kilobytes|megabytes|gigabytes|kb|mb|gb|percent)(_|$)`)

// checkCatalogueUnderLoad checks a scrape taken under load: every metric
// docs/operations.md names is exported (a histogram with its _bucket and _count
// series) with its labels; the histograms the dashboard's latency panels
// read have observations; and every bsc_ family follows the naming rules:
// _total on counters and only there, base units, label values bounded (no
// MSISDN, routes as patterns).
func checkCatalogueUnderLoad(t *testing.T, e exposition, cfg load.Config) {
	t.Helper()
	for name, labels := range documentedLabels(t) {
		typ, ok := e.types[name]
		if !ok {
			t.Errorf("%s is not exported", name)
			continue
		}
		ss := e.named(name)
		if typ == "histogram" {
			if len(e.named(name+"_bucket")) == 0 {
				t.Errorf("histogram %s: no _bucket series", name)
			}
			ss = e.named(name + "_count")
		}
		if len(ss) == 0 {
			t.Errorf("%s: no series", name)
		}
		for _, s := range ss {
			for _, l := range labels {
				if _, ok := s.labels[l]; !ok {
					t.Errorf("%s%v: no label %s", name, s.labels, l)
				}
			}
		}
	}
	for _, name := range runtimeExported {
		if _, ok := e.types[name]; !ok {
			t.Errorf("%s is not exported", name)
		}
	}
	for _, h := range []string{"bsc_call_setup_duration_seconds", "bsc_call_duration_seconds",
		"bsc_http_request_duration_seconds", "bsc_db_write_duration_seconds"} {
		if n, _ := e.sum(h+"_count", nil); n == 0 {
			t.Errorf("histogram %s has no observation", h)
		}
	}
	if n, _ := e.sum("bsc_supervisor_restarts_total", nil); n != 0 {
		t.Errorf("%v supervisor restarts: something crashed", n)
	}

	msisdns := []string{phoneA, phoneB}
	for i := range cfg.Phones {
		msisdns = append(msisdns, fmt.Sprint(cfg.MSISDNBase+uint64(i)))
	}
	digits := regexp.MustCompile(`(^|/)[0-9]+(/|$)`)
	for name, typ := range e.types {
		if !strings.HasPrefix(name, "bsc_") {
			continue
		}
		if (typ == "counter") != strings.HasSuffix(name, "_total") {
			t.Errorf("%s is a %s: _total is for counters, and counters end in _total", name, typ)
		}
		if nonBaseUnits.MatchString(name) {
			t.Errorf("%s: not a base unit (seconds, bytes, ratios)", name)
		}
	}
	for _, s := range e.series {
		if !strings.HasPrefix(s.name, "bsc_") {
			continue
		}
		for l, v := range s.labels {
			if slices.ContainsFunc(msisdns, func(m string) bool { return strings.Contains(v, m) }) {
				t.Errorf("%s{%s=%q}: an MSISDN in a label value", s.name, l, v)
			}
			if l == "route" && v != "unmatched" && (!strings.HasPrefix(v, "/") || digits.MatchString(v)) {
				t.Errorf("%s{route=%q}: not a route pattern", s.name, v)
			}
		}
	}
}

// The configuration the end-to-end tests run Prometheus with: the compose
// stack's, scraping the given targets as the given job (and no other) at
// the given interval, and valid.
func TestPrometheusTestConfig(t *testing.T) {
	for _, c := range []struct {
		job     string
		targets []string
	}{
		{SingleJob, []string{"127.0.0.1:18080"}},
		{ClusterJob, []string{"127.0.0.1:18081", "127.0.0.1:18082", "127.0.0.1:18083"}},
	} {
		b, err := PrometheusTestConfig(repoRoot(t), c.job, c.targets, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var conf struct {
			ScrapeConfigs []struct {
				JobName        string `yaml:"job_name"`
				ScrapeInterval string `yaml:"scrape_interval"`
				ScrapeTimeout  string `yaml:"scrape_timeout"`
				StaticConfigs  []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"scrape_configs"`
		}
		if err := yaml.Unmarshal(b, &conf); err != nil {
			t.Fatal(err)
		}
		if sc := conf.ScrapeConfigs; len(sc) != 1 || sc[0].JobName != c.job || sc[0].ScrapeInterval != "1s" || sc[0].ScrapeTimeout != "1s" ||
			len(sc[0].StaticConfigs) != 1 || !slices.Equal(sc[0].StaticConfigs[0].Targets, c.targets) {
			t.Errorf("config of job %s scraping %v every second:\n%s", c.job, c.targets, b)
		}
		f := filepath.Join(t.TempDir(), "prometheus.yml")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := runPromtool(t, "check", "config", f); err != nil {
			t.Fatalf("promtool check config: %v\n%s", err, out)
		}
	}
	for _, d := range []time.Duration{0, 1500 * time.Microsecond} {
		if _, err := PrometheusTestConfig(repoRoot(t), SingleJob, []string{"127.0.0.1:18080"}, d); err == nil {
			t.Errorf("interval %v accepted", d)
		}
	}
	if got := promDuration(1500 * time.Millisecond); got != "1500ms" {
		t.Errorf("promDuration(1.5s) = %q", got)
	}
}

// The values written into the panel table.
func TestSummarise(t *testing.T) {
	nan := math.NaN()
	s := func(v float64, kv ...string) sample {
		l := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return sample{l, v}
	}
	for _, c := range []struct {
		ss     []sample
		legend string
		unit   string
		want   string
	}{
		{[]sample{s(42)}, "attached", "short", "42"},
		{[]sample{s(0.0123)}, "p99", "s", "12.3 ms"},
		{[]sample{s(4.2e-5)}, "p50", "s", "42 µs"},
		{[]sample{s(0.031)}, "5xx", "percentunit", "3.1 %"},
		{[]sample{s(3 * 1024 * 1024)}, "heap", "bytes", "3 MiB"},
		{[]sample{s(12345)}, "", "short", "12345"},
		{[]sample{s(1, "version", "v1", "commit", "abc")}, "{{version}} {{commit}}", "none", "v1 abc: 1"},
		{[]sample{s(2, "state", "idle"), s(1, "state", "connected")}, "{{state}}", "short", "connected: 1, idle: 2"},
		{[]sample{s(0.5, "route", "/a"), s(nan, "route", "/b"), s(2, "route", "/c"), s(1, "route", "/d"), s(nan, "route", "/e")},
			"{{route}}", "reqps", "5 series (2 NaN); top: /c: 2 req/s, /d: 1 req/s, /a: 0.5 req/s"},
		{[]sample{s(nan)}, "p50", "s", "NaN"},
	} {
		if got := summarise(c.ss, c.legend, c.unit); got != c.want {
			t.Errorf("summarise(%v, %q, %q) = %q, want %q", c.ss, c.legend, c.unit, got, c.want)
		}
	}
}

func TestParseExposition(t *testing.T) {
	text := `# HELP a_total A.
# TYPE a_total counter
a_total{route="/x/{id}",q="a\"b,c}"} 3
b 1.5e-3
c_bucket{le="+Inf"} 2 1700000000
`
	e, err := parseExposition(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if e.types["a_total"] != "counter" || len(e.series) != 3 {
		t.Fatalf("%+v", e)
	}
	if s := e.series[0]; s.name != "a_total" || s.labels["route"] != "/x/{id}" || s.labels["q"] != `a"b,c}` || s.value != 3 {
		t.Errorf("%+v", s)
	}
	if n, ok := e.sum("c_bucket", map[string]string{"le": "+Inf"}); !ok || n != 2 {
		t.Errorf("c_bucket: %v %v", n, ok)
	}
	if _, err := parseExposition(strings.NewReader(`x{a="b} 1`)); err == nil {
		t.Error("unterminated label value accepted")
	}
}

package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/version"
	"github.com/prometheus/client_golang/prometheus"
)

func decodeJSON(t *testing.T, res *http.Response, status int, dst any) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, readBody(t, res))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if err := json.NewDecoder(res.Body).Decode(dst); err != nil {
		t.Fatal(err)
	}
}

func TestProbes(t *testing.T) {
	ready := false
	h := httpapi.New(httpapi.Deps{Ready: func() error { return readyErr(ready) }})
	var body map[string]string
	decodeJSON(t, do(t, h, request{path: "/healthz"}), 200, &body)
	if body["status"] != "ok" {
		t.Errorf("/healthz %v", body)
	}
	problemOf(t, do(t, h, request{path: "/readyz"}), http.StatusServiceUnavailable, "unavailable")
	ready = true
	decodeJSON(t, do(t, h, request{path: "/readyz"}), 200, &body)

	always := httpapi.New(httpapi.Deps{})
	decodeJSON(t, do(t, always, request{path: "/readyz"}), 200, &body)
}

func TestVersion(t *testing.T) {
	var v httpapi.Version
	decodeJSON(t, do(t, httpapi.New(httpapi.Deps{}), request{path: "/api/v1/version"}), 200, &v)
	want := httpapi.Version{Version: version.Version, Commit: version.Commit, Go: version.GoVersion}
	if v != want || v.Version == "" || v.Go == "" {
		t.Errorf("version %+v, want %+v", v, want)
	}
}

func TestSupervision(t *testing.T) {
	count := 2
	tree := sup.Node{Name: "bsc", Kind: "supervisor", Strategy: "one_for_one", State: "running", Children: []sup.Node{
		{Name: "phones", Kind: "supervisor", Restart: "permanent", State: "running", Count: &count},
	}}
	h := httpapi.New(httpapi.Deps{Tree: func() sup.Node { return tree }})
	var got sup.Node
	decodeJSON(t, do(t, h, request{path: "/api/v1/supervision"}), 200, &got)
	if got.Name != "bsc" || len(got.Children) != 1 || got.Children[0].Count == nil || *got.Children[0].Count != 2 {
		t.Errorf("tree %+v", got)
	}
	problemOf(t, do(t, httpapi.New(httpapi.Deps{}), request{path: "/api/v1/supervision"}), http.StatusServiceUnavailable, "unavailable")
}

// collector is a test collector: collect is its Collect.
type collector struct {
	collect func(chan<- prometheus.Metric)
}

func (collector) Describe(chan<- *prometheus.Desc)      {} // unchecked
func (c collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// TestMetricsScrape: /metrics serves the registry in the text format, and a
// failing collector costs only its own metrics: the scrape still serves the
// others, logs the failure and counts it.
func TestMetricsScrape(t *testing.T) {
	logs := &logBuffer{}
	reg := httpapi.NewRegistry()
	h := httpapi.New(httpapi.Deps{Log: testLogger(logs), Registry: reg})
	res := do(t, h, request{path: "/metrics"})
	body := readBody(t, res)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, "bsc_build_info{") || !strings.Contains(body, "bsc_http_requests_total{") {
		t.Fatalf("status %d, Content-Type %q:\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	reg.MustRegister(collector{func(ch chan<- prometheus.Metric) {
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("test_sensor", "A sensor.", nil, nil), errors.New("sensor unplugged"))
	}})
	for scrape := 1; scrape <= 2; scrape++ {
		res = do(t, h, request{path: "/metrics"})
		body = readBody(t, res)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "bsc_build_info{") {
			t.Fatalf("scrape %d with a failing collector: status %d:\n%s", scrape, res.StatusCode, body)
		}
	}
	// A scrape counts its failure after it gathered: the second shows the first's.
	if !strings.Contains(body, `promhttp_metric_handler_errors_total{cause="gathering"} 1`) {
		t.Errorf("the failure was not counted:\n%s", body)
	}
	logged := false
	for _, l := range logs.lines(t) {
		msg, _ := l["message"].(string)
		logged = logged || l["level"] == "error" && strings.Contains(msg, "sensor unplugged")
	}
	if !logged {
		t.Error("the failing collector was not logged")
	}
}

// TestMetricsScrapesBounded: four scrapes run at once; a fifth is refused
// at once with 503 rather than queued, and the four still answer.
func TestMetricsScrapesBounded(t *testing.T) {
	reg := httpapi.NewRegistry()
	entered, release := make(chan struct{}), make(chan struct{})
	reg.MustRegister(collector{func(chan<- prometheus.Metric) {
		entered <- struct{}{}
		<-release
	}})
	h := httpapi.New(httpapi.Deps{Registry: reg})
	const bound = 4
	codes := make(chan int, bound+1)
	scrape := func() { codes <- do(t, h, request{path: "/metrics"}).StatusCode }
	for range bound {
		go scrape()
	}
	for range bound {
		<-entered // that scrape holds its slot
	}
	go scrape()
	held := bound
	select {
	case code := <-codes:
		if code != http.StatusServiceUnavailable {
			t.Errorf("scrape %d: status %d, want 503", bound+1, code)
		}
	case <-entered:
		t.Errorf("scrape %d ran beside the %d others", bound+1, bound)
		held++
	}
	close(release)
	for range held {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("a held scrape ended with %d, want 200", code)
		}
	}
}

// readyErr is what a Ready says: nil when ready.
func readyErr(ready bool) error {
	if ready {
		return nil
	}
	return errors.New("starting")
}

// TestMetricsOpenMetrics: a scraper that asks for OpenMetrics (as
// Prometheus does) gets it, with request ids as exemplars of the request
// durations, and the same series as the text format.
func TestMetricsOpenMetrics(t *testing.T) {
	h := httpapi.New(httpapi.Deps{Registry: httpapi.NewRegistry()})
	do(t, h, request{path: "/api/v1/version", header: map[string]string{httpapi.RequestIDHeader: "scraped-1"}})
	prometheusAccept := "application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5," +
		"text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
	res := do(t, h, request{path: "/metrics", header: map[string]string{"Accept": prometheusAccept}})
	om := readBody(t, res)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") || !strings.HasSuffix(om, "# EOF\n") {
		t.Fatalf("Content-Type %q, want OpenMetrics 1.0.0 ending in # EOF:\n%s", ct, om)
	}
	exemplar := regexp.MustCompile(`(?m)^bsc_http_request_duration_seconds_bucket\{method="GET",route="/api/v1/version",le="[^"]+"\} 1 # \{request_id="scraped-1"\} [0-9.e+-]+ [0-9.e+-]+$`)
	if !exemplar.MatchString(om) {
		t.Errorf("no exemplar with the request id on the duration of GET /api/v1/version:\n%s", om)
	}

	res = do(t, h, request{path: "/metrics"})
	text := readBody(t, res)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || strings.Contains(text, "# {") {
		t.Fatalf("without Accept: Content-Type %q, want the text format, which has no exemplars", ct)
	}
	if o, x := sampleNames(om), sampleNames(text); !slices.Equal(o, x) {
		t.Errorf("OpenMetrics and text formats name different series:\n%v\n%v", o, x)
	}
}

// sampleNames are the metric names of an exposition's samples, sorted,
// without repeats.
func sampleNames(exposition string) []string {
	var names []string
	for line := range strings.Lines(exposition) {
		if line == "" || line[0] == '#' {
			continue
		}
		names = append(names, line[:strings.IndexAny(line, "{ ")])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

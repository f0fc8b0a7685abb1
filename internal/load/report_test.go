package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleReport is a report made from known counts, as the driver would.
func sampleReport(t *testing.T, books *BooksResult, maxP99 time.Duration, maxErr float64) *Report {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MaxP99, cfg.MaxErrorRate = maxP99, maxErr
	d := newDriver(cfg)
	d.start = time.Now().Add(-2 * time.Second)
	d.issuing = window{d.start, d.start.Add(time.Second)}
	d.trafficWindow = window{d.start, d.start.Add(2 * time.Second)}
	rec := func(o op, took time.Duration, status int, code string, lag time.Duration) {
		d.st.record(o, answer{status: status, code: code, took: took}, lag)
	}
	for i := range 100 {
		rec(opCall, time.Duration(i+1)*time.Millisecond, 200, "", time.Duration(i+1)*10*time.Microsecond)
	}
	rec(opCall, time.Second, 503, "overloaded", 0)
	rec(opCall, time.Millisecond, 409, "busy", 0)
	rec(opAttach, 3*time.Millisecond, 201, "", time.Hour) // an attach has no lag
	rec(opAccept, 0, 0, codeTimeout, 2*time.Second)
	for _, status := range []int{503, 503, 503, 429} {
		d.st.retried(status)
	}
	d.st.gaveUp = 1
	d.c.targets[0].sent.Store(110)
	d.wire.sent.Store(3000)
	d.wire.received.Store(5_000_000)
	d.st.attempts = 102
	d.st.outcomes[outAnswered], d.st.outcomes[outBusy], d.st.outcomes[outFailed] = 60, 40, 2
	return d.report(t.Context(), books)
}

func TestReportFigures(t *testing.T) {
	r := sampleReport(t, &BooksResult{OK: true, AnsweredSeen: 60, AnsweredRecorded: 60}, 0, -1)
	q := r.Requests
	if q.Total != 104 || q.Errors != 2 || q.Races != 1 || q.OK != 101 {
		t.Errorf("requests %+v", q)
	}
	if r.Calls.Rate != 102 {
		t.Errorf("attempt rate %v, want 102/s over the 1 s of issuing", r.Calls.Rate)
	}
	if q.ActionsRate != 103/2.0 {
		t.Errorf("actions rate %v, want 102 calls and an accept over the 2 s of traffic", q.ActionsRate)
	}
	if want := map[string]int64{"200": 100, "201": 1, "409": 1, "503": 1}; !maps.Equal(q.StatusCodes, want) || q.NoAnswer != 1 {
		t.Errorf("status codes %v, no answer %d; want %v and 1", q.StatusCodes, q.NoAnswer, want)
	}
	if want := map[string]int64{"503": 3, "429": 1}; q.Retries != 4 || !maps.Equal(q.RetriesByStatus, want) || q.GaveUp != 1 {
		t.Errorf("retries %d by status %v, gave up %d; want 4, %v and 1", q.Retries, q.RetriesByStatus, q.GaveUp, want)
	}
	if want := map[string]int64{"http://127.0.0.1:8080": 110}; !maps.Equal(q.ByTarget, want) || !slices.Equal(r.Targets, []string{"http://127.0.0.1:8080"}) {
		t.Errorf("targets %v, requests by target %v; want %v", r.Targets, q.ByTarget, want)
	}
	// The run's duration is measured up to the report (2 s and the time it
	// took to make the sample: milliseconds, more on a loaded machine):
	// the rates within 2 %.
	if d := r.Data; d.Sent != 3000 || d.Received != 5_000_000 || math.Abs(d.SentRate-1500) > 30 || math.Abs(d.ReceivedRate-2.5e6) > 5e4 {
		t.Errorf("data %+v, want 3000 and 5e6 bytes over the 2 s run", d)
	}
	call := r.Operations[opCall]
	if call.Name != "call" || call.Count != 102 || call.Errors != 1 {
		t.Errorf("call %+v", call)
	}
	// 1..100 ms, 1 ms and 1 s: p50 is 50 ms, p99 100 ms, max 1 s, within
	// the histogram's 0.1 %.
	l := call.Latency
	near := func(name string, got int64, want time.Duration) {
		if w := want.Microseconds(); got < w || float64(got) > float64(w)*1.001 {
			t.Errorf("%s %d µs, want %d", name, got, w)
		}
	}
	near("p50", l.P50, 50*time.Millisecond)
	near("p99", l.P99, 100*time.Millisecond)
	near("max", l.Max, time.Second)
	near("min", l.Min, time.Millisecond)
	// The actions together: the calls and the accept's 0 (counted as 1 µs).
	if a := r.Actions; a.Min != histMin || a.Max < time.Second.Microseconds() || a.P50 < 49_000 || a.P50 > 50_100 {
		t.Errorf("actions latency %+v", a)
	}
	// The lag is the actions' alone: 10..1000 µs for the calls, 0 for two
	// of them, 2 s for the accept; not the attach's hour.
	if g := r.Lag; g.Max < 2*time.Second.Microseconds() || g.Max > 2_002_000 || g.P50 < 490 || g.P50 > 510 {
		t.Errorf("lag %+v", g)
	}
	if r.Partial || !r.Thresholds.OK || r.Verdict() != nil {
		t.Errorf("partial %v thresholds %+v verdict %v", r.Partial, r.Thresholds, r.Verdict())
	}
}

func TestThresholds(t *testing.T) {
	tests := []struct {
		name   string
		maxP99 time.Duration
		maxErr float64
		want   []string // substrings of the violations, in order
	}{
		{"none", 0, -1, nil},
		{"met", 2 * time.Second, 0.05, nil},
		{"p99", 50 * time.Millisecond, -1, []string{"call p99 100.", "> 50ms"}},
		{"impossible p99", time.Nanosecond, -1, []string{"attach p99", "call p99"}},
		{"error rate", 0, 0.001, []string{"error rate 0.0192 > 0.0010 (2 errors in 104 requests)"}},
		{"lag", 900 * time.Microsecond, -1, []string{"call p99", "driver lag p99 1ms > 900µs: actions were sent late"}},
		{"both", 50 * time.Millisecond, 0, []string{"call p99", "error rate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport(t, nil, tt.maxP99, tt.maxErr)
			got := strings.Join(r.Thresholds.Violations, "\n")
			if r.Thresholds.OK != (len(tt.want) == 0) {
				t.Errorf("ok %v, violations %q", r.Thresholds.OK, got)
			}
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("violations %q, want %q (in order)", got, w)
				}
				rest = rest[i+len(w):]
			}
			if err := r.Verdict(); (err != nil) != (len(tt.want) > 0) || (err != nil && !errors.Is(err, ErrThresholds)) {
				t.Errorf("verdict %v", err)
			}
		})
	}
}

func TestReportText(t *testing.T) {
	books := &BooksResult{Problems: []string{"phones: 2 still attached: 4670000001, 4670000002"}}
	r := sampleReport(t, books, 50*time.Millisecond, 0.01)
	r.Partial, r.Reason = true, "target unreachable: dial tcp: connection refused"
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"bsc load: http://127.0.0.1:8080, 150 phones (0 attached), closed model, 8 workers, seed 1\n",
		"PARTIAL REPORT: target unreachable: dial tcp: connection refused\n",
		"duration       ", "s in all; traffic 2.000s: issuing 1.000s, then the last calls ending\n",
		"call attempts  102, 102.0/s while issuing\n",
		"phone actions  103, 51.5/s over the traffic (call, accept, reject, hangup)\n",
		"requests       104, ", "/s over the run (attach and detach too), success 97.12%, errors 1.92% (2), races 1\n",
		"status codes   200 100, 201 1, 409 1, 503 1; no answer 1\n",
		"retries        4 (429 1, 503 3), gave up 1\n",
		"data           sent 3.00 kB (", "/s), received 5.00 MB (", "/s) over the run, event streams included\n",
		"outcomes       answered 60 busy 40 rejected 0 no_frequency 0 invalid 0 cancelled 0 dropped 0 failed 2 unfinished 0\n",
		"latency ms  count  errors",
		"      call    102       1  1.000",
		" all actions    103       2  0.001",
		"  driver lag    103       0  0.001",
		"errors by code overloaded 1, timeout 1\n",
		"races by code  busy 1\n",
		"books          MISMATCH: phones: 2 still attached",
		"thresholds     MISSED: call p99 100.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if v := r.Verdict(); !errors.Is(v, ErrBooks) || !errors.Is(v, ErrThresholds) {
		t.Errorf("verdict %v, want books and thresholds", v)
	}
}

func TestReportJSON(t *testing.T) {
	r := sampleReport(t, nil, 0, -1)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["books"] != nil {
		t.Errorf("books %v, want null when not checked", back["books"])
	}
	ops := back["operations"].([]any)
	call := ops[opCall].(map[string]any)
	lat := call["latency_us"].(map[string]any)
	for _, k := range []string{"min", "mean", "p50", "p90", "p95", "p99", "p99_9", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_us lacks %s: %v", k, lat)
		}
	}
	for _, k := range []string{"actions_latency_us", "lag_us"} {
		if l, ok := back[k].(map[string]any); !ok || l["p99"] == nil {
			t.Errorf("%s %v, want a latency report", k, back[k])
		}
	}
	reqs := back["requests"].(map[string]any)
	if codes := reqs["status_codes"].(map[string]any); codes["503"] != 1.0 || codes["200"] != 100.0 || reqs["no_answer"] != 1.0 {
		t.Errorf("requests %v", reqs)
	}
	if reqs["retries"] != 4.0 || reqs["gave_up"] != 1.0 || reqs["retries_by_status"].(map[string]any)["503"] != 3.0 ||
		reqs["by_target"].(map[string]any)["http://127.0.0.1:8080"] != 110.0 {
		t.Errorf("requests %v: want retries 4 (503: 3), gave up 1, by target 110", reqs)
	}
	if data := back["data"].(map[string]any); data["sent_bytes"] != 3000.0 || data["received_bytes_per_s"] == nil {
		t.Errorf("data %v", data)
	}
	outcomes := back["calls"].(map[string]any)["outcomes"].(map[string]any)
	if len(outcomes) != int(numOutcomes) || outcomes["answered"] != 60.0 {
		t.Errorf("outcomes %v", outcomes)
	}
}

func TestEmptyReportText(t *testing.T) {
	r := newDriver(DefaultConfig()).report(t.Context(), nil)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "books          not checked") || !strings.Contains(b.String(), "thresholds     none set") {
		t.Errorf("empty report:\n%s", b.String())
	}
}

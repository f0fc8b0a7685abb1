package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the outcome of a run, as text (WriteText) and as JSON.
type Report struct {
	Partial bool   `json:"partial"`          // the run did not complete
	Reason  string `json:"reason,omitempty"` // why, when partial

	Targets  []string  `json:"targets"` // the nodes loaded
	Model    string    `json:"model"`   // "open" (Poisson arrivals at rate), "closed" (workers) or "traffic" (open, at A / h)
	Rate     float64   `json:"rate,omitempty"`
	Workers  int       `json:"workers,omitempty"`
	Phones   int       `json:"phones"`
	Attached int       `json:"attached"` // phones the server attached
	Seed     uint64    `json:"seed"`
	Started  time.Time `json:"started_at"`

	DurationS float64 `json:"duration_s"` // the whole run, setup and books included
	// IssuingS is how long call attempts were being made, TrafficS the same
	// plus the wait for the last calls to end: the rates are over these.
	IssuingS float64 `json:"issuing_s"`
	TrafficS float64 `json:"traffic_s"`

	Requests   RequestsReport `json:"requests"`
	Calls      CallsReport    `json:"calls"`
	Data       DataReport     `json:"data"`
	Operations []OpReport     `json:"operations"`
	// Actions is the latency of the phone actions (call, accept, reject,
	// hangup) together, the figure an outside tool reports for the same
	// requests.
	Actions LatencyReport `json:"actions_latency_us"`
	// Lag is how late the driver sent its phone actions: from each one's
	// intended time (its place in the schedule, or when its user's delay
	// ran out) to its sending. It is not in the latencies, which are the
	// requests' own; a large lag means the driver fell behind and the
	// latencies understate what its users would have seen.
	Lag        LatencyReport    `json:"lag_us"`
	Errors     map[string]int64 `json:"errors"` // by code
	Races      map[string]int64 `json:"races"`  // by code; not errors
	Books      *BooksResult     `json:"books"`  // nil when not checked
	Thresholds ThresholdsReport `json:"thresholds"`
	Traffic    *TrafficReport   `json:"traffic,omitempty"` // the traffic model's figures, when it was on
}

// RequestsReport counts the operations' requests (not the books' reads).
type RequestsReport struct {
	Total        int64   `json:"total"`
	Rate         float64 `json:"rate"` // per second over the whole run (duration_s)
	OK           int64   `json:"ok"`
	Errors       int64   `json:"errors"`
	Races        int64   `json:"races"`
	SuccessRatio float64 `json:"success_ratio"` // ok / total
	ErrorRate    float64 `json:"error_rate"`    // errors / total; what --max-error-rate bounds
	// ActionsRate is call, accept, reject and hangup requests per second
	// over the traffic (traffic_s): the phone actions the server served.
	ActionsRate float64 `json:"actions_rate"`
	// StatusCodes counts the answers by HTTP status ("200", "503", ...);
	// NoAnswer the requests that got none (timeout, connection lost): the
	// last answer of each, after its retries.
	StatusCodes map[string]int64 `json:"status_codes"`
	NoAnswer    int64            `json:"no_answer"`
	// Retries counts the requests sent again after a refusal for now (503,
	// 429), RetriesByStatus by the refusal's status, and GaveUp those
	// still refused after the last retry (or asked to wait longer than the
	// back-off's cap): of every request, setup and books included.
	Retries         int64            `json:"retries"`
	RetriesByStatus map[string]int64 `json:"retries_by_status"`
	GaveUp          int64            `json:"gave_up"`
	// ByTarget counts the requests sent to each target, retries, setup and
	// books included.
	ByTarget map[string]int64 `json:"by_target"`
}

// DataReport is the bytes on the wire, requests and event streams alike,
// as k6's data_sent and data_received; the rates are over the whole run.
type DataReport struct {
	Sent         int64   `json:"sent_bytes"`
	Received     int64   `json:"received_bytes"`
	SentRate     float64 `json:"sent_bytes_per_s"`
	ReceivedRate float64 `json:"received_bytes_per_s"`
}

// CallsReport is the call attempts and how they ended.
type CallsReport struct {
	Attempts int64            `json:"attempts"`
	Rate     float64          `json:"rate"`    // attempts per second while issuing (issuing_s), not over the run
	Skipped  int64            `json:"skipped"` // open model: no idle phone at the intended time
	Outcomes map[string]int64 `json:"outcomes"`
	// How often the driver lost track: replies it had had already (read
	// back before the stream brought them) or did not expect, phones whose
	// replies it read back after one did not come in time, the replies
	// those reads found that the stream had not brought yet, and event
	// stream reconnections.
	StaleReplies     int64 `json:"stale_replies"`
	Resyncs          int64 `json:"resyncs"`
	CaughtUp         int64 `json:"caught_up"`
	StreamReconnects int64 `json:"stream_reconnects"`
	// PhoneWaits counts the actions that waited for their phone's action
	// before them to be answered (a user's answer to an inbound call that
	// crossed its own call): a phone's actions go one at a time.
	PhoneWaits int64 `json:"phone_waits"`
}

// OpReport is one operation's requests and latencies in microseconds.
type OpReport struct {
	Name    string        `json:"name"`
	Count   int64         `json:"count"`
	Errors  int64         `json:"errors"`
	Latency LatencyReport `json:"latency_us"`
}

// LatencyReport is a latency distribution in microseconds, from an HDR
// histogram (three significant digits).
type LatencyReport struct {
	Min  int64   `json:"min"`
	Mean float64 `json:"mean"`
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P95  int64   `json:"p95"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p99_9"`
	Max  int64   `json:"max"`
}

func latencyOf(h *hdrhistogram.Histogram) LatencyReport {
	if h.TotalCount() == 0 {
		return LatencyReport{}
	}
	p := h.ValueAtPercentilesSlice([]float64{50, 90, 95, 99, 99.9})
	return LatencyReport{Min: h.Min(), Mean: h.Mean(), P50: p[0], P90: p[1], P95: p[2], P99: p[3], P999: p[4], Max: h.Max()}
}

// report assembles the report once everything has stopped.
func (d *driver) report(ctx context.Context, books *BooksResult) *Report {
	end := time.Now()
	r := &Report{
		Targets: d.cfg.Targets, Phones: d.cfg.Phones, Seed: d.cfg.Seed, Started: d.start.UTC(),
		DurationS: end.Sub(d.start).Seconds(), Books: books,
		IssuingS: d.issuing.seconds(), TrafficS: d.trafficWindow.seconds(),
	}
	switch {
	case d.cfg.Traffic.On():
		r.Model, r.Rate = "traffic", d.cfg.Rate
	case d.cfg.openModel():
		r.Model, r.Rate = "open", d.cfg.Rate
	default:
		r.Model, r.Workers = "closed", d.cfg.Workers
	}
	if err := d.fatalErr(); err != nil {
		r.Partial, r.Reason = true, err.Error()
	} else if ctx.Err() != nil {
		r.Partial, r.Reason = true, ErrInterrupted.Error()
	}
	d.mu.Lock()
	r.Attached = len(d.pop.attached)
	d.mu.Unlock()
	for _, s := range d.streams {
		r.Calls.StreamReconnects += s.reconn.Load()
	}

	st := d.st
	st.mu.Lock()
	defer st.mu.Unlock()
	r.Errors, r.Races = maps.Clone(st.codes), maps.Clone(st.races)
	var actions int64
	for o := range numOps {
		r.Operations = append(r.Operations, OpReport{Name: o.String(), Count: st.count[o], Errors: st.errs[o], Latency: latencyOf(st.hist[o])})
		r.Requests.Total += st.count[o]
		r.Requests.Errors += st.errs[o]
		if o.isAction() {
			actions += st.count[o]
		}
	}
	r.Actions, r.Lag = latencyOf(st.actions), latencyOf(st.lag)
	r.Requests.StatusCodes = map[string]int64{}
	for code, n := range st.statuses {
		r.Requests.StatusCodes[strconv.Itoa(code)] = n
	}
	r.Requests.NoAnswer = st.noAnswer
	r.Requests.RetriesByStatus = map[string]int64{}
	for code, n := range st.retries {
		r.Requests.RetriesByStatus[strconv.Itoa(code)] = n
		r.Requests.Retries += n
	}
	r.Requests.GaveUp = st.gaveUp
	r.Requests.ByTarget = map[string]int64{}
	for _, t := range d.c.targets {
		r.Requests.ByTarget[t.base] = t.sent.Load()
	}
	r.Data = DataReport{Sent: d.wire.sent.Load(), Received: d.wire.received.Load()}
	r.Data.SentRate, r.Data.ReceivedRate = perSecondF(r.Data.Sent, r.DurationS), perSecondF(r.Data.Received, r.DurationS)
	for _, n := range st.races {
		r.Requests.Races += n
	}
	r.Requests.OK = r.Requests.Total - r.Requests.Errors - r.Requests.Races
	r.Requests.Rate = perSecond(r.Requests.Total, r.DurationS)
	r.Requests.ActionsRate = perSecond(actions, r.TrafficS)
	if r.Requests.Total > 0 {
		r.Requests.SuccessRatio = float64(r.Requests.OK) / float64(r.Requests.Total)
		r.Requests.ErrorRate = float64(r.Requests.Errors) / float64(r.Requests.Total)
	}
	r.Calls.Attempts, r.Calls.Skipped = st.attempts, st.skipped
	r.Calls.Rate = perSecond(st.attempts, r.IssuingS)
	r.Calls.StaleReplies, r.Calls.Resyncs, r.Calls.CaughtUp, r.Calls.PhoneWaits = st.stale, st.resyncs, st.caughtUp, st.phoneWaits
	r.Calls.Outcomes = map[string]int64{}
	for o := range numOutcomes {
		r.Calls.Outcomes[o.String()] = st.outcomes[o]
	}
	if d.cfg.Traffic.On() {
		r.Traffic = d.trafficReport(r)
	}
	r.Thresholds = checkThresholds(r, d.cfg.MaxP99, d.cfg.MaxErrorRate, d.cfg.MaxGoS)
	return r
}

func perSecond(n int64, s float64) float64 {
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// perSecondF is perSecond of a byte count, rounded to a byte.
func perSecondF(n int64, s float64) float64 { return math.Round(perSecond(n, s)) }

// window is a span of the run, for the rates.
type window struct{ from, to time.Time }

func (w *window) seconds() float64 {
	if w.from.IsZero() || w.to.Before(w.from) {
		return 0
	}
	return w.to.Sub(w.from).Seconds()
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for a person to read.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	model := fmt.Sprintf("closed model, %d workers", r.Workers)
	switch {
	case r.Model == "traffic" && r.Traffic != nil:
		model = fmt.Sprintf("traffic model, %.3f E offered", r.Traffic.OfferedErlangs)
		if c := r.Traffic.Cell; c != nil {
			model += fmt.Sprintf(" to cell %d", *c)
		}
	case r.Model == "open":
		model = fmt.Sprintf("open model, %g call attempts/s", r.Rate)
	}
	fmt.Fprintf(&b, "bsc load: %s, %d phones (%d attached), %s, seed %d\n", strings.Join(r.Targets, " "), r.Phones, r.Attached, model, r.Seed)
	if r.Partial {
		fmt.Fprintf(&b, "PARTIAL REPORT: %s\n", r.Reason)
	}
	q, c := r.Requests, r.Calls
	actions, actionErrs := actionCounts(r.Operations)
	// Each rate says over which span it is: the attempts are made while
	// issuing (a burst, in the book's test), the actions over the traffic
	// (issuing and the last calls' end), the requests over the whole run.
	fmt.Fprintf(&b, "duration       %.3fs in all; traffic %.3fs: issuing %.3fs, then the last calls ending\n", r.DurationS, r.TrafficS, r.IssuingS)
	fmt.Fprintf(&b, "call attempts  %d, %.1f/s while issuing", c.Attempts, c.Rate)
	if c.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped (no idle phone at the intended time)", c.Skipped)
	}
	fmt.Fprintf(&b, "\nphone actions  %d, %.1f/s over the traffic (call, accept, reject, hangup)\n", actions, q.ActionsRate)
	fmt.Fprintf(&b, "requests       %d, %.1f/s over the run (attach and detach too), success %.2f%%, errors %.2f%% (%d), races %d\n",
		q.Total, q.Rate, 100*q.SuccessRatio, 100*q.ErrorRate, q.Errors, q.Races)
	fmt.Fprintf(&b, "status codes   %s; no answer %d", counts(q.StatusCodes), q.NoAnswer)
	fmt.Fprintf(&b, "\nretries        %d (%s), gave up %d", q.Retries, counts(q.RetriesByStatus), q.GaveUp)
	if len(r.Targets) > 1 {
		fmt.Fprintf(&b, "\nby target      %s", counts(q.ByTarget))
	}
	fmt.Fprintf(&b, "\ndata           sent %s (%s/s), received %s (%s/s) over the run, event streams included", bytesText(r.Data.Sent),
		bytesText(int64(r.Data.SentRate)), bytesText(r.Data.Received), bytesText(int64(r.Data.ReceivedRate)))
	fmt.Fprintf(&b, "\noutcomes      ")
	for o := range numOutcomes {
		fmt.Fprintf(&b, " %s %d", o, c.Outcomes[o.String()])
	}
	fmt.Fprintf(&b, "\ntracking       stale replies %d, resyncs %d (replies caught up %d), stream reconnects %d, actions that waited for their phone's last %d\n",
		c.StaleReplies, c.Resyncs, c.CaughtUp, c.StreamReconnects, c.PhoneWaits)
	if r.Traffic != nil {
		r.Traffic.text(&b)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency ms\tcount\terrors\tmin\tmean\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
	ms := func(us float64) string { return fmt.Sprintf("%.3f", us/1000) }
	row := func(name string, count, errs int64, l LatencyReport) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, count, errs, ms(float64(l.Min)), ms(l.Mean),
			ms(float64(l.P50)), ms(float64(l.P90)), ms(float64(l.P95)), ms(float64(l.P99)), ms(float64(l.P999)), ms(float64(l.Max)))
	}
	for _, o := range r.Operations {
		row(o.Name, o.Count, o.Errors, o.Latency)
	}
	row("all actions", actions, actionErrs, r.Actions)
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t")
	row("driver lag", actions, 0, r.Lag)
	_ = tw.Flush() // a strings.Builder does not fail
	b.WriteString("(latency: a request's sending to its answer, as k6 and wrk measure; driver lag: an action's intended\n" +
		"time to its sending, not in the latencies: timers, scheduling, waiting for one of --concurrency slots)\n")
	fmt.Fprintf(&b, "\nerrors by code %s\n", counts(r.Errors))
	fmt.Fprintf(&b, "races by code  %s\n", counts(r.Races))
	fmt.Fprintf(&b, "books          %s\n", r.Books.text())
	fmt.Fprintf(&b, "thresholds     %s\n", r.Thresholds.text())
	_, err := io.WriteString(w, b.String())
	return err
}

// actionCounts is the requests and errors of the phone actions among ops.
func actionCounts(ops []OpReport) (n, errs int64) {
	for i, o := range ops {
		if op(i).isAction() {
			n, errs = n+o.Count, errs+o.Errors
		}
	}
	return n, errs
}

// bytesText is n bytes in decimal units, as k6 shows its data.
func bytesText(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// counts writes a map of counts in key order; "none" when empty.
func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (b *BooksResult) text() string {
	switch {
	case b == nil:
		return "not checked"
	case b.OK:
		return fmt.Sprintf("ok: %d answered calls all recorded, no frequency left allocated, no phone left attached, "+
			"alarm no_frequency set-clear %d", b.AnsweredSeen, b.NoFrequencyAlarmBalance)
	}
	return "MISMATCH: " + strings.Join(b.Problems, "; ")
}

// ErrBooks is a books check that failed; ErrThresholds, thresholds missed.
var (
	ErrBooks      = errors.New("books do not balance")
	ErrThresholds = errors.New("thresholds missed")
)

// Verdict is the error a complete run ends with: its books or thresholds,
// nil if both are fine.
func (r *Report) Verdict() error {
	var errs []error
	if r.Books != nil && !r.Books.OK {
		errs = append(errs, fmt.Errorf("%w: %s", ErrBooks, strings.Join(r.Books.Problems, "; ")))
	}
	if !r.Thresholds.OK {
		errs = append(errs, fmt.Errorf("%w: %s", ErrThresholds, strings.Join(r.Thresholds.Violations, "; ")))
	}
	return errors.Join(errs...)
}

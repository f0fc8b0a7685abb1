package phonefsm

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/errcode"
)

// Outcomes lists every call outcome, for zero-initialised series.
var outcomes = []calls.Outcome{calls.Answered, calls.Rejected, calls.Busy, calls.NoFrequency, calls.Cancelled, calls.Dropped}

// attachResults are the values of bsc_attach_total's result label.
var attachResults = []string{"ok", "already_attached", "unknown_subscriber", "invalid_msisdn", "overloaded", "error"}

// Metrics are the phone metrics of operations.md, shared by every
// incarnation of the phones supervisor. A nil *Metrics records nothing.
type Metrics struct {
	attachedG prometheus.Gauge
	states    [len(States)]prometheus.Gauge
	attach    map[string]prometheus.Counter
	detach    prometheus.Counter
	calls     map[calls.Outcome]prometheus.Counter
	setupDur  prometheus.Histogram
	callDur   prometheus.Histogram
	staleEv   prometheus.Counter
	shedAct   prometheus.Counter
	// mailboxPeak is the deepest mailbox over the last seconds.
	mailboxPeak *peak
}

// NewMetrics registers the phone metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attachedG: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bsc_phones_attached", Help: "Phones attached."}),
		detach:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bsc_detach_total", Help: "Phones detached."}),
		setupDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bsc_call_setup_duration_seconds",
			Help: "Time from dial to answer.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		callDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bsc_call_duration_seconds",
			Help: "Time from answer to hang-up of answered calls.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		staleEv: prometheus.NewCounter(prometheus.CounterOpts{Name: "bsc_phone_stale_events_total",
			Help: "Controller events ignored because they came from a non-peer or did not fit the state."}),
		shedAct: prometheus.NewCounter(prometheus.CounterOpts{Name: "bsc_phone_actions_shed_total",
			Help: "Phone actions refused because the controller's mailbox was full."}),
		attach: map[string]prometheus.Counter{},
		calls:  map[calls.Outcome]prometheus.Counter{},
	}
	states := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bsc_phones", Help: "Attached phones by state."}, []string{"state"})
	for _, s := range States {
		m.states[s] = states.WithLabelValues(s.String())
	}
	attach := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_attach_total", Help: "Attach attempts by result."}, []string{"result"})
	for _, r := range attachResults {
		m.attach[r] = attach.WithLabelValues(r)
	}
	byOutcome := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_calls_total", Help: "Finished call attempts by outcome."}, []string{"outcome"})
	for _, o := range outcomes {
		m.calls[o] = byOutcome.WithLabelValues(o.String())
	}
	m.mailboxPeak = newPeak()
	mailbox := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bsc_process_mailbox_depth",
		Help: "Deepest phone controller mailbox over the last 10 seconds."},
		func() float64 { return float64(m.mailboxPeak.max()) })
	reg.MustRegister(m.attachedG, states, attach, m.detach, byOutcome, m.setupDur, m.callDur, m.staleEv, m.shedAct, mailbox)
	return m
}

func (m *Metrics) attached() {
	if m != nil {
		m.attachedG.Inc()
		m.states[Idle].Inc()
		m.attach["ok"].Inc()
	}
}

func (m *Metrics) attachFailed(err error) {
	if m == nil {
		return
	}
	code := errcode.Of(err).String()
	c, ok := m.attach[code]
	if !ok {
		c = m.attach["error"]
	}
	c.Inc()
}

// AttachFailed counts an attach refused before it reached the phones (a
// bad or unknown MSISDN).
func (m *Metrics) AttachFailed(err error) { m.attachFailed(err) }

func (m *Metrics) detached() {
	if m != nil {
		m.attachedG.Dec()
		m.states[Idle].Dec()
		m.detach.Inc()
	}
}

func (m *Metrics) transition(from, to State) {
	if m != nil {
		m.states[from].Dec()
		m.states[to].Inc()
	}
}

func (m *Metrics) setup(c *call) {
	if m != nil {
		m.setupDur.Observe(time.Duration(c.answeredAt - c.setupAt).Seconds())
	}
}

func (m *Metrics) ended(o calls.Outcome, c *call, now time.Time) {
	if m == nil {
		return
	}
	m.calls[o].Inc()
	if c.answeredAt != 0 {
		m.callDur.Observe(time.Duration(now.UnixNano() - c.answeredAt).Seconds())
	}
}

func (m *Metrics) stale() {
	if m != nil {
		m.staleEv.Inc()
	}
}

func (m *Metrics) shed() {
	if m != nil {
		m.shedAct.Inc()
	}
}

func (m *Metrics) mailbox(depth int) {
	if m != nil {
		m.mailboxPeak.note(depth)
	}
}

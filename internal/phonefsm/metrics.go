package phonefsm

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/celllabel"
	"github.com/bsc-sim/bsc/internal/errcode"
)

// Outcomes lists every call outcome, for zero-initialised series.
var outcomes = []calls.Outcome{calls.Answered, calls.Rejected, calls.Busy, calls.NoFrequency, calls.Cancelled, calls.Dropped}

// attachResults are the values of bsc_attach_total's result label.
var attachResults = []string{"ok", "already_attached", "unknown_subscriber", "invalid_msisdn", "overloaded", "error"}

// Metrics are the phone metrics of operations.md, registered once per
// node. The series of a cell's phones carry a cell label: Cell gives a
// cell's, DeleteCell drops them when the cell leaves the node. The mailbox
// depth is the node's (the deepest of its controllers, every cell's and the
// exchange's). A nil *Metrics records nothing.
type Metrics struct {
	attachedG, states     *prometheus.GaugeVec
	attach, detach, calls *prometheus.CounterVec
	staleEv, shedAct      *prometheus.CounterVec
	setupDur, callDur     *prometheus.HistogramVec
	// mailboxPeak is the deepest mailbox over the last seconds.
	mailboxPeak *peak
}

// CellMetrics are one cell's series, resolved once when the cell starts
// on the node and shared by every incarnation of its phones supervisor. A
// nil *CellMetrics records nothing.
type CellMetrics struct {
	attachedG   prometheus.Gauge
	states      [len(States)]prometheus.Gauge
	attach      map[string]prometheus.Counter
	detach      prometheus.Counter
	calls       map[calls.Outcome]prometheus.Counter
	setupDur    prometheus.Observer
	callDur     prometheus.Observer
	staleEv     prometheus.Counter
	shedAct     prometheus.Counter
	mailboxPeak *peak // the node's
}

// NewMetrics registers the phone metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	cell := []string{celllabel.Name}
	m := &Metrics{
		attachedG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bsc_phones_attached", Help: "Phones attached to a cell."}, cell),
		detach:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_detach_total", Help: "Phones detached from a cell."}, cell),
		setupDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bsc_call_setup_duration_seconds",
			Help: "Time from dial to answer, by the cell of the caller.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, cell),
		callDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bsc_call_duration_seconds",
			Help: "Time from answer to hang-up of answered calls, by the cell of the caller.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, cell),
		staleEv: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_phone_stale_events_total",
			Help: "Controller events ignored because they came from a non-peer or did not fit the state."}, cell),
		shedAct: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_phone_actions_shed_total",
			Help: "Phone actions refused because the controller's mailbox was full."}, cell),
		states: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bsc_phones", Help: "Attached phones of a cell by state."},
			[]string{celllabel.Name, "state"}),
		attach: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_attach_total", Help: "Attach attempts in a cell by result."},
			[]string{celllabel.Name, "result"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_calls_total", Help: "Finished call attempts by outcome, by the cell of the caller."},
			[]string{celllabel.Name, "outcome"}),
		mailboxPeak: newPeak(),
	}
	mailbox := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bsc_process_mailbox_depth",
		Help: "Deepest phone controller mailbox over the last 10 seconds."},
		func() float64 { return float64(m.mailboxPeak.max()) })
	reg.MustRegister(m.attachedG, m.states, m.attach, m.detach, m.calls, m.setupDur, m.callDur, m.staleEv, m.shedAct, mailbox)
	return m
}

// Cell creates cell id's series, every labelled one at zero, and returns
// them. A nil *Metrics gives a nil *CellMetrics.
func (m *Metrics) Cell(id int) *CellMetrics {
	if m == nil {
		return nil
	}
	l := celllabel.Of(id)
	c := &CellMetrics{
		attachedG: m.attachedG.With(l), detach: m.detach.With(l),
		setupDur: m.setupDur.With(l), callDur: m.callDur.With(l),
		staleEv: m.staleEv.With(l), shedAct: m.shedAct.With(l),
		attach: map[string]prometheus.Counter{}, calls: map[calls.Outcome]prometheus.Counter{},
		mailboxPeak: m.mailboxPeak,
	}
	states, attach, byOutcome := m.states.MustCurryWith(l), m.attach.MustCurryWith(l), m.calls.MustCurryWith(l)
	for _, s := range States {
		c.states[s] = states.WithLabelValues(s.String())
	}
	for _, r := range attachResults {
		c.attach[r] = attach.WithLabelValues(r)
	}
	for _, o := range outcomes {
		c.calls[o] = byOutcome.WithLabelValues(o.String())
	}
	return c
}

// DeleteCell removes cell id's series: the cell no longer runs here.
func (m *Metrics) DeleteCell(id int) {
	if m != nil {
		celllabel.Delete(id, m.attachedG, m.states, m.attach, m.detach, m.calls, m.setupDur, m.callDur, m.staleEv, m.shedAct)
	}
}

// mailbox notes the depth of a mailbox of the node: the exchange's.
func (m *Metrics) mailbox(depth int) {
	if m != nil {
		m.mailboxPeak.note(depth)
	}
}

func (m *CellMetrics) attached() {
	if m != nil {
		m.attachedG.Inc()
		m.states[Idle].Inc()
		m.attach["ok"].Inc()
	}
}

func (m *CellMetrics) attachFailed(err error) {
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
func (m *CellMetrics) AttachFailed(err error) { m.attachFailed(err) }

func (m *CellMetrics) detached() {
	if m != nil {
		m.attachedG.Dec()
		m.states[Idle].Dec()
		m.detach.Inc()
	}
}

func (m *CellMetrics) transition(from, to State) {
	if m != nil {
		m.states[from].Dec()
		m.states[to].Inc()
	}
}

func (m *CellMetrics) setup(c *call) {
	if m != nil {
		m.setupDur.Observe(time.Duration(c.answeredAt - c.setupAt).Seconds())
	}
}

func (m *CellMetrics) ended(o calls.Outcome, c *call, now time.Time) {
	if m == nil {
		return
	}
	m.calls[o].Inc()
	if c.answeredAt != 0 {
		m.callDur.Observe(time.Duration(now.UnixNano() - c.answeredAt).Seconds())
	}
}

func (m *CellMetrics) stale() {
	if m != nil {
		m.staleEv.Inc()
	}
}

func (m *CellMetrics) shed() {
	if m != nil {
		m.shedAct.Inc()
	}
}

func (m *CellMetrics) mailbox(depth int) {
	if m != nil {
		m.mailboxPeak.note(depth)
	}
}

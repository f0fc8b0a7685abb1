package overload

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/store"
)

// Metrics are the overload manager's collectors. They are created once and
// handed to every Manager, so counters outlive restarts. A nil *Metrics
// records nothing.
type Metrics struct {
	events      *prometheus.CounterVec
	active      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	removed     *prometheus.CounterVec
	dropped     prometheus.Counter
	histDropped prometheus.Counter

	// raised counts, by alarm, the alarms handlers that have it active:
	// a node of a cluster runs a manager per cell, and the gauge is 1
	// while any of them has it.
	mu     sync.Mutex
	raised map[string]int
}

// NewMetrics creates the collectors, registers them with reg (if not nil)
// and initialises every labelled series to zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_overload_events_total",
			Help: "Events handled by the overload manager, by kind.",
		}, []string{"kind"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bsc_alarm_active",
			Help: "1 while the alarm is active, else 0.",
		}, []string{"alarm", "severity"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_alarm_transitions_total",
			Help: "Alarm raises (action=set) and clears (action=clear).",
		}, []string{"alarm", "action"}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_handler_removed_total",
			Help: "Overload handlers removed because they panicked or returned an error.",
		}, []string{"handler"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bsc_overload_dropped_total",
			Help: "Events dropped because the overload manager's mailbox was full or it was not running.",
		}),
		histDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bsc_alarm_history_dropped_total",
			Help: "Alarm raises and clears not stored in the history: the oldest dropped from a full write queue, or lost in a failed write.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.active, m.transitions, m.removed, m.dropped, m.histDropped)
	}
	for _, k := range kindNames {
		m.events.WithLabelValues(k)
	}
	for id, d := range catalogue {
		m.active.WithLabelValues(id, d.severity)
		m.transitions.WithLabelValues(id, store.ActionSet)
		m.transitions.WithLabelValues(id, store.ActionClear)
	}
	for _, name := range builtinNames {
		m.removed.WithLabelValues(name)
	}
	return m
}

func (m *Metrics) event(k Kind) {
	if m != nil {
		m.events.WithLabelValues(k.String()).Inc()
	}
}

func (m *Metrics) setActive(a Alarm, on bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.raised == nil {
		m.raised = map[string]int{}
	}
	if on {
		m.raised[a.ID]++
	} else if m.raised[a.ID] > 0 {
		m.raised[a.ID]--
	}
	v := 0.0
	if m.raised[a.ID] > 0 {
		v = 1
	}
	m.active.WithLabelValues(a.ID, a.Severity).Set(v)
}

func (m *Metrics) transition(alarm, action string) {
	if m != nil {
		m.transitions.WithLabelValues(alarm, action).Inc()
	}
}

func (m *Metrics) handlerRemoved(name string) {
	if m != nil {
		m.removed.WithLabelValues(name).Inc()
	}
}

func (m *Metrics) drop() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *Metrics) historyDropped(n int) {
	if m != nil {
		m.histDropped.Add(float64(n))
	}
}

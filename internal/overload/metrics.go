package overload

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/celllabel"
	"github.com/bsc-sim/bsc/internal/store"
)

// Metrics are the overload manager's vectors, registered once per node,
// with a cell label: a node of a cluster runs a manager per cell it owns.
// Cell gives a cell's series; CellMetrics.Delete drops them when the
// cell leaves the node.
type Metrics struct {
	events      *prometheus.CounterVec
	active      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	removed     *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	histDropped *prometheus.CounterVec
}

// CellMetrics are one cell's series, created when the cell starts on the
// node and handed to every incarnation of its manager, so that counters
// outlive restarts. The vectors are curried with the cell; the series an
// event moves are resolved once, here. A nil *CellMetrics records nothing.
type CellMetrics struct {
	active      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	removed     *prometheus.CounterVec
	dropped     prometheus.Counter
	histDropped prometheus.Counter
	byKind      [len(kindNames)]prometheus.Counter

	// raised counts, by alarm, the sources that have it active in the
	// cell's alarms handler: the gauge is 1 while any has. retired: the
	// cell left the node (Delete); the series looked up per call are not
	// made again by a late event of its stopping manager.
	mu      sync.Mutex
	raised  map[string]int
	retired bool

	parent *Metrics // whose vectors hold the cell's series
	id     int
}

// NewMetrics creates the vectors and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_overload_events_total",
			Help: "Events handled by a cell's overload manager, by kind.",
		}, []string{celllabel.Name, "kind"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bsc_alarm_active",
			Help: "1 while the alarm is active in the cell, else 0.",
		}, []string{celllabel.Name, "alarm", "severity"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_alarm_transitions_total",
			Help: "Alarm raises (action=set) and clears (action=clear) in a cell.",
		}, []string{celllabel.Name, "alarm", "action"}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_handler_removed_total",
			Help: "Overload handlers of a cell removed because they panicked or returned an error.",
		}, []string{celllabel.Name, "handler"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_overload_dropped_total",
			Help: "Events dropped because the cell's overload manager's mailbox was full or it was not running.",
		}, []string{celllabel.Name}),
		histDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_alarm_history_dropped_total",
			Help: "A cell's alarm raises and clears not stored in the history: the oldest dropped from a full write queue, or lost in a failed write.",
		}, []string{celllabel.Name}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.active, m.transitions, m.removed, m.dropped, m.histDropped)
	}
	return m
}

// Cell creates cell id's series, every labelled one at zero, and returns
// them. A nil *Metrics gives a nil *CellMetrics.
func (m *Metrics) Cell(id int) *CellMetrics {
	if m == nil {
		return nil
	}
	l := celllabel.Of(id)
	events := m.events.MustCurryWith(l)
	c := &CellMetrics{
		active:      m.active.MustCurryWith(l),
		transitions: m.transitions.MustCurryWith(l), removed: m.removed.MustCurryWith(l),
		dropped: m.dropped.With(l), histDropped: m.histDropped.With(l),
		raised: map[string]int{}, parent: m, id: id,
	}
	for k, name := range kindNames {
		c.byKind[k] = events.WithLabelValues(name)
	}
	for id, d := range catalogue {
		c.active.WithLabelValues(id, d.severity)
		c.transitions.WithLabelValues(id, store.ActionSet)
		c.transitions.WithLabelValues(id, store.ActionClear)
	}
	for _, name := range builtinNames {
		c.removed.WithLabelValues(name)
	}
	return c
}

// Delete removes the cell's series: the cell no longer runs here. m
// makes none again: the cell's manager may still be stopping, and its
// late events would bring back the series it looks up per call (the
// others are resolved once, and a late update goes to a child no longer
// exported).
func (m *CellMetrics) Delete() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.retired = true
	m.mu.Unlock()
	p := m.parent
	celllabel.Delete(m.id, p.events, p.active, p.transitions, p.removed, p.dropped, p.histDropped)
}

// event counts an event of kind k (Notify and SyncNotify refuse any
// other kind than kindNames').
func (m *CellMetrics) event(k Kind) {
	if m != nil && k >= 0 && int(k) < len(m.byKind) {
		m.byKind[k].Inc()
	}
}

// setActive, transition and handlerRemoved look their series up: alarms
// raised and cleared and handlers removed are rare next to events.
func (m *CellMetrics) setActive(a Alarm, on bool) {
	m.lookedUp(func() {
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
	})
}

func (m *CellMetrics) transition(alarm, action string) {
	m.lookedUp(func() { m.transitions.WithLabelValues(alarm, action).Inc() })
}

func (m *CellMetrics) handlerRemoved(name string) {
	m.lookedUp(func() { m.removed.WithLabelValues(name).Inc() })
}

// lookedUp runs update, which looks its series up, unless m is retired.
func (m *CellMetrics) lookedUp(update func()) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.retired {
		update()
	}
}

func (m *CellMetrics) drop() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *CellMetrics) historyDropped(n int) {
	if m != nil {
		m.histDropped.Add(float64(n))
	}
}

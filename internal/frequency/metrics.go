package frequency

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/celllabel"
)

// Metrics are the allocator's vectors, registered once per node, with a
// cell label: Cell gives a cell's children, DeleteCell drops its series
// when the cell leaves the node.
type Metrics struct {
	gauges           *prometheus.GaugeVec
	allocs, deallocs *prometheus.CounterVec
}

// CellMetrics are one cell's series, resolved once when the cell starts
// on the node and handed to every instance of its allocator, so that the
// counters outlive restarts and no event looks a label up. A nil
// *CellMetrics records nothing.
type CellMetrics struct {
	free, allocated, blocked prometheus.Gauge
	allocOK, allocDenied     prometheus.Counter
	dealloc                  [outcomes]prometheus.Counter
}

// outcome is the result label of a deallocation.
type outcome int

const (
	released outcome = iota
	expired
	notAllocated
	notOwner
	outcomes
)

var outcomeLabels = [outcomes]string{"ok", "expired", "not_allocated", "not_owner"}

// NewMetrics creates and registers bsc_frequencies{cell,state},
// bsc_frequency_allocations_total{cell,result} and
// bsc_frequency_deallocations_total{cell,result}; a cell's series appear,
// at zero, with Cell.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		gauges: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bsc_frequencies",
			Help: "Frequencies of a cell's pool by state: free, allocated (in the pool), blocked (allocated, removed from the pool).",
		}, []string{celllabel.Name, "state"}),
		allocs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_frequency_allocations_total",
			Help: "Allocation attempts in a cell by result.",
		}, []string{celllabel.Name, "result"}),
		deallocs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_frequency_deallocations_total",
			Help: "Releases in a cell by result; expired is a lease that ran out.",
		}, []string{celllabel.Name, "result"}),
	}
	reg.MustRegister(m.gauges, m.allocs, m.deallocs)
	return m
}

// Cell creates cell id's series at zero and returns them. A nil *Metrics
// gives a nil *CellMetrics.
func (m *Metrics) Cell(id int) *CellMetrics {
	if m == nil {
		return nil
	}
	l := celllabel.Of(id)
	states, allocs, deallocs := m.gauges.MustCurryWith(l), m.allocs.MustCurryWith(l), m.deallocs.MustCurryWith(l)
	c := &CellMetrics{
		free:        states.WithLabelValues("free"),
		allocated:   states.WithLabelValues("allocated"),
		blocked:     states.WithLabelValues("blocked"),
		allocOK:     allocs.WithLabelValues("ok"),
		allocDenied: allocs.WithLabelValues("no_frequency"),
	}
	for o, label := range outcomeLabels {
		c.dealloc[o] = deallocs.WithLabelValues(label)
	}
	return c
}

// DeleteCell removes cell id's series: the cell no longer runs here.
func (m *Metrics) DeleteCell(id int) {
	if m != nil {
		celllabel.Delete(id, m.gauges, m.allocs, m.deallocs)
	}
}

// counts is what one allocator last put into the gauges.
type counts struct{ free, allocated, blocked int }

// gauges moves the cell's gauges by an allocator's change from was to
// now, and returns now: each incarnation of the cell's allocator adds what
// changed since it last reported, and takes its share out when it stops,
// so that a restart's old and new incarnations never count twice. It is
// called under the allocator's lock, so that the gauges move in the order
// of its changes.
func (m *CellMetrics) gauges(was, now counts) counts {
	if m != nil {
		m.free.Add(float64(now.free - was.free))
		m.allocated.Add(float64(now.allocated - was.allocated))
		m.blocked.Add(float64(now.blocked - was.blocked))
	}
	return now
}

func (m *CellMetrics) allocation(ok bool) {
	switch {
	case m == nil:
	case ok:
		m.allocOK.Inc()
	default:
		m.allocDenied.Inc()
	}
}

func (m *CellMetrics) deallocation(o outcome, n int) {
	if m != nil && n > 0 {
		m.dealloc[o].Add(float64(n))
	}
}

// outcomeOf names a Deallocate failure for its metric.
func outcomeOf(err error) outcome {
	if errors.Is(err, ErrNotOwner) {
		return notOwner
	}
	return notAllocated
}

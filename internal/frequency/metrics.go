package frequency

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the allocator's collectors. The server makes them once and
// hands them to every instance, so the counters outlive restarts. A nil
// *Metrics records nothing.
type Metrics struct {
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

// NewMetrics creates and registers bsc_frequencies{state},
// bsc_frequency_allocations_total{result} and
// bsc_frequency_deallocations_total{result}, every series at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	states := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bsc_frequencies",
		Help: "Frequencies by state: free, allocated (in the pool), blocked (allocated, removed from the pool).",
	}, []string{"state"})
	allocs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bsc_frequency_allocations_total",
		Help: "Allocation attempts by result.",
	}, []string{"result"})
	deallocs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bsc_frequency_deallocations_total",
		Help: "Releases by result; expired is a lease that ran out.",
	}, []string{"result"})
	reg.MustRegister(states, allocs, deallocs)
	m := &Metrics{
		free:        states.WithLabelValues("free"),
		allocated:   states.WithLabelValues("allocated"),
		blocked:     states.WithLabelValues("blocked"),
		allocOK:     allocs.WithLabelValues("ok"),
		allocDenied: allocs.WithLabelValues("no_frequency"),
	}
	for o, label := range outcomeLabels {
		m.dealloc[o] = deallocs.WithLabelValues(label)
	}
	return m
}

// counts is what one allocator last put into the gauges.
type counts struct{ free, allocated, blocked int }

// gauges moves the gauges by an allocator's change from was to now, and
// returns now: the gauges are the sum over the running allocators (one per
// cell; a node of a cluster runs several), each adding what changed since
// it last reported. It is called under the allocator's lock, so that the
// gauges move in the order of its changes.
func (m *Metrics) gauges(was, now counts) counts {
	if m != nil {
		m.free.Add(float64(now.free - was.free))
		m.allocated.Add(float64(now.allocated - was.allocated))
		m.blocked.Add(float64(now.blocked - was.blocked))
	}
	return now
}

func (m *Metrics) allocation(ok bool) {
	switch {
	case m == nil:
	case ok:
		m.allocOK.Inc()
	default:
		m.allocDenied.Inc()
	}
}

func (m *Metrics) deallocation(o outcome, n int) {
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

package cluster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the cluster metrics of docs/cluster.md; a nil *Metrics
// records nothing.
type Metrics struct {
	nodes     *prometheus.GaugeVec
	owned     prometheus.Gauge
	takeovers *prometheus.CounterVec
	takeover  prometheus.Histogram
	messages  *prometheus.CounterVec
	forwarded *prometheus.CounterVec
	transit   prometheus.Histogram
}

// NewMetrics registers them on reg, every labelled series at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bsc_cluster_nodes",
			Help: "Cluster nodes by state, as this node sees them."}, []string{"state"}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bsc_cells_owned", Help: "Cells this node owns."}),
		takeovers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_cell_takeovers_total",
			Help: "Cells this node took, by reason: failover (the owner was gone) or handoff (given)."}, []string{"reason"}),
		takeover: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bsc_cell_takeover_duration_seconds",
			Help:    "From taking a cell's lease to serving it (phones attached again).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_internode_messages_total",
			Help: "Messages between nodes, by kind (event, ack, http) and direction (in, out)."}, []string{"kind", "direction"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bsc_forwarded_requests_total",
			Help: "API requests this node forwarded to the owner of what they name, by route."}, []string{"route"}),
		transit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bsc_internode_event_seconds",
			Help:    "From sending to receiving of events between nodes (protocol 2 and later: their send time).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8)}),
	}
	for _, s := range []string{StateUp, StateDraining, StateDown} {
		m.nodes.WithLabelValues(s)
	}
	for _, r := range []string{"failover", "handoff"} {
		m.takeovers.WithLabelValues(r)
	}
	for _, k := range []string{"event", "ack", "http"} {
		for _, d := range []string{"in", "out"} {
			m.messages.WithLabelValues(k, d)
		}
	}
	reg.MustRegister(m.nodes, m.owned, m.takeovers, m.takeover, m.messages, m.forwarded, m.transit)
	return m
}

// Message counts a message between nodes.
func (m *Metrics) Message(kind, direction string) {
	if m != nil {
		m.messages.WithLabelValues(kind, direction).Inc()
	}
}

// Transit observes an event's time between nodes.
func (m *Metrics) Transit(seconds float64) {
	if m != nil {
		m.transit.Observe(seconds)
	}
}

// Forwarded counts a request forwarded on route (a chi pattern).
func (m *Metrics) Forwarded(route string) {
	if m != nil {
		m.forwarded.WithLabelValues(route).Inc()
	}
}

// TookOver counts a cell taken, and how long it took to serve it.
func (m *Metrics) TookOver(reason string, seconds float64) {
	if m != nil {
		m.takeovers.WithLabelValues(reason).Inc()
		m.takeover.Observe(seconds)
	}
}

// SetOwned sets the number of cells owned.
func (m *Metrics) SetOwned(n int) {
	if m != nil {
		m.owned.Set(float64(n))
	}
}

// SetNodes sets the nodes by state.
func (m *Metrics) SetNodes(up, draining, down int) {
	if m != nil {
		m.nodes.WithLabelValues(StateUp).Set(float64(up))
		m.nodes.WithLabelValues(StateDraining).Set(float64(draining))
		m.nodes.WithLabelValues(StateDown).Set(float64(down))
	}
}

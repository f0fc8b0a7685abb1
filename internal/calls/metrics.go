package calls

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the writer's collectors. The server makes them once and hands
// them to the writer; a nil *Metrics records nothing.
type Metrics struct {
	writeDuration prometheus.Observer
	queueDepth    prometheus.Gauge
	rowsWritten   prometheus.Counter
	writeErrors   prometheus.Counter
	shed, failed  prometheus.Counter
}

// NewMetrics creates and registers, every series at zero:
// bsc_db_write_duration_seconds{op="calls"}, bsc_db_queue_depth{queue="calls"},
// bsc_db_rows_written_total{table="calls"}, bsc_db_write_errors_total{op="calls"}
// and bsc_db_rows_dropped_total{table="calls",reason="overloaded"|"write_failed"}.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bsc_db_write_duration_seconds",
		Help:    "Time to write and commit one batch, by operation.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), // 100 µs to 6.5 s
	}, []string{"op"})
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bsc_db_queue_depth",
		Help: "Records waiting in a database write queue, the batch being written included.",
	}, []string{"queue"})
	written := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bsc_db_rows_written_total",
		Help: "Rows committed, by table.",
	}, []string{"table"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bsc_db_write_errors_total",
		Help: "Failed batch writes, retries included, by operation.",
	}, []string{"op"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bsc_db_rows_dropped_total",
		Help: "Rows never written: refused because the queue was full (overloaded), or still queued when a stop ran out of time while writes failed (write_failed).",
	}, []string{"table", "reason"})
	reg.MustRegister(duration, depth, written, errs, dropped)
	return &Metrics{
		writeDuration: duration.WithLabelValues("calls"),
		queueDepth:    depth.WithLabelValues("calls"),
		rowsWritten:   written.WithLabelValues("calls"),
		writeErrors:   errs.WithLabelValues("calls"),
		shed:          dropped.WithLabelValues("calls", "overloaded"),
		failed:        dropped.WithLabelValues("calls", "write_failed"),
	}
}

func (m *Metrics) depth(n uint64) {
	if m != nil {
		m.queueDepth.Set(float64(n))
	}
}

func (m *Metrics) committed(rows int, took time.Duration) {
	if m != nil {
		m.writeDuration.Observe(took.Seconds())
		m.rowsWritten.Add(float64(rows))
	}
}

func (m *Metrics) writeError() {
	if m != nil {
		m.writeErrors.Inc()
	}
}

func (m *Metrics) overloaded() {
	if m != nil {
		m.shed.Inc()
	}
}

func (m *Metrics) lost(rows int) {
	if m != nil {
		m.failed.Add(float64(rows))
	}
}

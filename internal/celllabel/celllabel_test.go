package celllabel

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// Delete removes one cell's series and leaves the others'.
func TestDeleteRemovesOneCell(t *testing.T) {
	reg := prometheus.NewRegistry()
	gauges := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g"}, []string{Name, "state"})
	counters := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{Name})
	reg.MustRegister(gauges, counters)
	for _, id := range []int{0, 1} {
		gauges.MustCurryWith(Of(id)).WithLabelValues("free").Set(float64(id + 1))
		counters.With(Of(id)).Inc()
	}
	Delete(1, gauges, counters)
	for _, name := range []string{"g", "c"} {
		if _, ok := testutil.Metric(t, reg, name, Name, "1"); ok {
			t.Errorf("%s: cell 1's series left after Delete", name)
		}
		if v, ok := testutil.Metric(t, reg, name, Name, "0"); !ok || v != 1 {
			t.Errorf("%s: cell 0's series = %v (present %v), want 1", name, v, ok)
		}
	}
}

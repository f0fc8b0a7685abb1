package calls

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got = append(got, f.GetName()+"{"+strings.Join(labels, ",")+"}")
		}
	}
	want := []string{
		"bsc_db_queue_depth{queue=calls}",
		"bsc_db_rows_dropped_total{reason=overloaded,table=calls}",
		"bsc_db_rows_dropped_total{reason=write_failed,table=calls}",
		"bsc_db_rows_written_total{table=calls}",
		"bsc_db_write_duration_seconds{op=calls}",
		"bsc_db_write_errors_total{op=calls}",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("series %v\nwant %v", got, want)
	}

	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{Metrics: m})
	appendAll(t, w, sample(0), sample(1), sample(2))
	if v := value(t, m.rowsWritten); v != 3 {
		t.Errorf("rows written %v, want 3", v)
	}
	if v := value(t, m.writeDuration.(prometheus.Metric)); v < 1 {
		t.Errorf("%v batch durations observed, want at least one", v)
	}
	if v := value(t, m.queueDepth); v != 0 {
		t.Errorf("queue depth %v after a flush, want 0", v)
	}
}

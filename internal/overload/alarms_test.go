package overload

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/testutil"

	"github.com/bsc-sim/bsc/internal/store"
)

func TestAlarmsActiveSetHistoryAndGauge(t *testing.T) {
	h := start(t, Config{})
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	steps := []struct {
		event   Event
		active  []string // ids, oldest raise first
		history []string // action:id, cumulative
	}{
		{Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "frequency", At: at(1)},
			[]string{"no_frequency"}, []string{"set:no_frequency"}},
		{Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "frequency", At: at(2)}, // already active
			[]string{"no_frequency"}, []string{"set:no_frequency"}},
		{Event{Kind: ClearAlarm, ID: AlarmFrequencyPoolHigh, At: at(3)}, // not active
			[]string{"no_frequency"}, []string{"set:no_frequency"}},
		{Event{Kind: Notice, ID: "frequency_denied", At: at(4)},
			[]string{"no_frequency"}, []string{"set:no_frequency"}},
		{Event{Kind: SetAlarm, ID: "mystery", Source: "test", At: at(5)},
			[]string{"no_frequency", "mystery"}, []string{"set:no_frequency", "set:mystery"}},
		{Event{Kind: ClearAlarm, ID: AlarmNoFrequency, At: at(6)},
			[]string{"mystery"}, []string{"set:no_frequency", "set:mystery", "clear:no_frequency"}},
		{Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "frequency", At: at(7)},
			[]string{"mystery", "no_frequency"}, []string{"set:no_frequency", "set:mystery", "clear:no_frequency", "set:no_frequency"}},
	}
	for i, s := range steps {
		h.sync(t, s.event)
		active, err := h.m.ActiveAlarms(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range active {
			ids = append(ids, a.ID)
		}
		if !slices.Equal(ids, s.active) {
			t.Fatalf("step %d (%s): active %v, want %v", i, s.event.Key(), ids, s.active)
		}
		hist, err := h.m.History(ctxT(t), store.AlarmQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, r := range hist {
			acts = append(acts, r.Action+":"+r.Alarm)
		}
		if !slices.Equal(acts, s.history) {
			t.Fatalf("step %d (%s): history %v, want %v", i, s.event.Key(), acts, s.history)
		}
		for id, k := range catalogue {
			want := 0.0
			if slices.Contains(s.active, id) {
				want = 1
			}
			if got := value(t, h.metrics.active.WithLabelValues(id, k.severity)); got != want {
				t.Fatalf("step %d: bsc_alarm_active{%s,%s} = %v, want %v", i, id, k.severity, got, want)
			}
		}
	}

	active, _ := h.m.ActiveAlarms(ctxT(t))
	wantMystery := Alarm{ID: "mystery", Severity: SeverityWarning, Source: "test", RaisedAt: at(5), Description: "unknown alarm"}
	if active[0] != wantMystery {
		t.Errorf("unknown alarm %+v, want %+v", active[0], wantMystery)
	}
	if a := active[1]; a.Severity != SeverityMajor || a.Source != "frequency" || !a.RaisedAt.Equal(at(7)) || a.Description == "" {
		t.Errorf("no_frequency %+v", a)
	}
	hist, _ := h.m.History(ctxT(t), store.AlarmQuery{})
	if r := hist[2]; r.Severity != SeverityMajor || r.Source != "frequency" || !r.At.Equal(at(6)) {
		t.Errorf("clear record %+v: want the raise's severity and source, the clear's time", r)
	}
	if got := value(t, h.metrics.transitions.WithLabelValues(AlarmNoFrequency, "set")); got != 2 {
		t.Errorf("no_frequency raises counted %v, want 2", got)
	}
	if n := h.logs.count("alarm raised"); n != 3 {
		t.Errorf("%d raises logged, want 3", n)
	}
	if n := h.logs.count("alarm cleared"); n != 1 {
		t.Errorf("%d clears logged, want 1", n)
	}
}

// TestOneAlarmFromSeveralSources: an alarm is its id and its source. Two
// sources raise one id each (two cells without an owner); a clear with a
// source clears that source's alone, a clear without one (the book's
// clear_alarm{id}) every source's; the gauge is 1 while any is active.
func TestOneAlarmFromSeveralSources(t *testing.T) {
	h := start(t, Config{})
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(k Kind, source string, s int) Event {
		return Event{Kind: k, ID: AlarmCellUnowned, Source: source, At: t0.Add(time.Duration(s) * time.Second)}
	}
	steps := []struct {
		event   Event
		active  []string // sources, oldest raise first
		history []string // action:source, cumulative
	}{
		{ev(SetAlarm, "cell:0", 1), []string{"cell:0"}, []string{"set:cell:0"}},
		{ev(SetAlarm, "cell:1", 2), []string{"cell:0", "cell:1"}, []string{"set:cell:0", "set:cell:1"}},
		{ev(SetAlarm, "cell:1", 3), []string{"cell:0", "cell:1"}, []string{"set:cell:0", "set:cell:1"}},
		{ev(ClearAlarm, "cell:1", 4), []string{"cell:0"}, []string{"set:cell:0", "set:cell:1", "clear:cell:1"}},
		{ev(ClearAlarm, "cell:2", 5), []string{"cell:0"}, []string{"set:cell:0", "set:cell:1", "clear:cell:1"}},
		{ev(SetAlarm, "cell:2", 6), []string{"cell:0", "cell:2"}, []string{"set:cell:0", "set:cell:1", "clear:cell:1", "set:cell:2"}},
		{ev(ClearAlarm, "", 7), nil, []string{"set:cell:0", "set:cell:1", "clear:cell:1", "set:cell:2", "clear:cell:0", "clear:cell:2"}},
	}
	for i, s := range steps {
		h.sync(t, s.event)
		active, err := h.m.ActiveAlarms(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var sources []string
		for _, a := range active {
			sources = append(sources, a.Source)
		}
		if !slices.Equal(sources, s.active) {
			t.Fatalf("step %d (%s %s): active %v, want %v", i, s.event.Key(), s.event.Source, sources, s.active)
		}
		hist, err := h.m.History(ctxT(t), store.AlarmQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, r := range hist {
			acts = append(acts, r.Action+":"+r.Source)
		}
		// The clears of one event come in no set order.
		slices.Sort(acts[min(len(acts), 4):])
		if !slices.Equal(acts, s.history) {
			t.Fatalf("step %d (%s %s): history %v, want %v", i, s.event.Key(), s.event.Source, acts, s.history)
		}
		want := 0.0
		if len(s.active) > 0 {
			want = 1
		}
		if got := value(t, h.metrics.active.WithLabelValues(AlarmCellUnowned, SeverityCritical)); got != want {
			t.Fatalf("step %d: bsc_alarm_active{cell_unowned} = %v, want %v", i, got, want)
		}
	}
}

func TestSeverityCatalogue(t *testing.T) {
	cases := map[string]string{
		AlarmNoFrequency: SeverityMajor, AlarmFrequencyPoolHigh: SeverityMinor,
		AlarmRestartStorm: SeverityMajor, AlarmOverloaded: SeverityMajor, "other": SeverityWarning,
	}
	for id, want := range cases {
		if got := describe(id).severity; got != want {
			t.Errorf("%s: severity %s, want %s", id, got, want)
		}
	}
}

// TestDurableHistoryAcrossRestart restarts the manager on the same database:
// the history stays, the counters start again, the metrics go on.
func TestDurableHistoryAcrossRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bsc.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	metrics := NewMetrics(prometheus.NewRegistry()).Cell(0)

	first := start(t, Config{History: st, Metrics: metrics})
	first.sync(t, ev(SetAlarm, AlarmNoFrequency), ev(Notice, "frequency_denied"), ev(ClearAlarm, AlarmNoFrequency))
	if len(first.counters(t)) != 3 {
		t.Fatal("first run did not count")
	}
	first.m.Stop()
	first.waitExit(t)

	second := start(t, Config{History: st, Metrics: metrics})
	if got := second.counters(t); len(got) != 0 {
		t.Fatalf("counters after restart %v, want none", got)
	}
	second.sync(t, ev(SetAlarm, AlarmNoFrequency))
	hist, err := second.m.History(ctxT(t), store.AlarmQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, r := range hist {
		acts = append(acts, r.Action)
		if r.Alarm != AlarmNoFrequency || r.Severity != SeverityMajor || r.Source != "test" || r.Description == "" {
			t.Errorf("record %+v", r)
		}
	}
	if !slices.Equal(acts, []string{"set", "clear", "set"}) {
		t.Fatalf("history %v, want set, clear, set across the restart", acts)
	}
	page, err := second.m.History(ctxT(t), store.AlarmQuery{AfterID: hist[0].ID, Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != hist[1].ID {
		t.Fatalf("page after %d: %+v (%v), want record %d", hist[0].ID, page, err, hist[1].ID)
	}
	if got := value(t, metrics.transitions.WithLabelValues(AlarmNoFrequency, "set")); got != 2 {
		t.Errorf("raises counted %v across runs, want 2", got)
	}
}

func TestMemHistoryIsBounded(t *testing.T) {
	ctx := context.Background()
	h := newMemHistory(3)
	rec := store.AlarmRecord{Alarm: "a", Action: "set"}
	for _, n := range []int{2, 3} { // 5 records in two batches
		if err := h.AppendAlarms(ctx, slices.Repeat([]store.AlarmRecord{rec}, n)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 0, []int64{3, 4, 5}},
		{3, 0, []int64{4, 5}},
		{0, 1, []int64{3}},
		{5, 0, nil},
	}
	for _, c := range cases {
		recs, err := h.AlarmHistory(ctx, store.AlarmQuery{AfterID: c.after, Limit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("after %d limit %d: %v, want %v", c.after, c.limit, ids, c.want)
		}
	}
}

// Each cell's manager raises and clears in its own cell's series: the
// gauge is 1 while a source of the cell has the alarm active, and a cell
// deleted leaves no series.
func TestAlarmActivePerCell(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	cell1 := metrics.Cell(1)
	a, b := start(t, Config{Metrics: metrics.Cell(0)}), start(t, Config{Metrics: cell1})
	active := func(cell string) float64 {
		v, _ := testutil.Metric(t, reg, "bsc_alarm_active", "cell", cell, "alarm", AlarmNoFrequency, "severity", "major")
		return v
	}
	for i, step := range []struct {
		m      *harness
		e      Event
		c0, c1 float64
	}{
		{a, ev(SetAlarm, AlarmNoFrequency), 1, 0}, {b, ev(SetAlarm, AlarmNoFrequency), 1, 1},
		{a, ev(ClearAlarm, AlarmNoFrequency), 0, 1},
		{b, Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "other"}, 0, 1},
		{b, Event{Kind: ClearAlarm, ID: AlarmNoFrequency, Source: "other"}, 0, 1}, // one source still has it
	} {
		step.m.sync(t, step.e)
		if c0, c1 := active("0"), active("1"); c0 != step.c0 || c1 != step.c1 {
			t.Fatalf("step %d: bsc_alarm_active cell 0 %v, cell 1 %v; want %v, %v", i, c0, c1, step.c0, step.c1)
		}
	}
	if v, _ := testutil.Metric(t, reg, "bsc_alarm_transitions_total", "cell", "0", "alarm", AlarmNoFrequency, "action", "clear"); v != 1 {
		t.Errorf("cell 0's clears: %v, want 1", v)
	}
	b.m.Stop()
	b.waitExit(t)
	if got := active("1"); got != 0 {
		t.Errorf("cell 1's manager stopped: %v, want 0", got)
	}
	cell1.Delete()
	for _, name := range []string{"bsc_overload_events_total", "bsc_alarm_active", "bsc_alarm_transitions_total",
		"bsc_handler_removed_total", "bsc_overload_dropped_total", "bsc_alarm_history_dropped_total"} {
		if _, ok := testutil.Metric(t, reg, name, "cell", "1"); ok {
			t.Errorf("%s: cell 1's series left after Delete", name)
		}
		if _, ok := testutil.Metric(t, reg, name, "cell", "0"); !ok {
			t.Errorf("%s: cell 0's series gone with cell 1's", name)
		}
	}
}

// TestRetiredCellMakesNoSeries: once a cell's series are retired and
// deleted, the late updates of its stopping manager, which look their
// series up, do not export them again.
func TestRetiredCellMakesNoSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	m := metrics.Cell(1)
	m.Delete()
	m.setActive(Alarm{ID: AlarmNoFrequency, Severity: "major"}, true)
	m.transition(AlarmNoFrequency, "set")
	m.handlerRemoved("alarms")
	for _, name := range []string{"bsc_alarm_active", "bsc_alarm_transitions_total", "bsc_handler_removed_total", "bsc_overload_events_total"} {
		if _, ok := testutil.Metric(t, reg, name, "cell", "1"); ok {
			t.Errorf("%s: a retired cell's series exported again", name)
		}
	}
}

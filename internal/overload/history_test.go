package overload

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/store/storetest"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// gatedHistory is a HistoryStore whose writes wait until the test opens the
// gate (or their context ends), telling the test when each one starts.
type gatedHistory struct {
	*memHistory
	started chan int // the size of each batch as its write starts
	gate    chan struct{}
}

func newGatedHistory(t *testing.T) *gatedHistory {
	g := &gatedHistory{memHistory: newMemHistory(10 * historyQueue), started: make(chan int, 100), gate: make(chan struct{})}
	t.Cleanup(g.open) // never leave a writer stuck when a test fails
	return g
}

func (g *gatedHistory) AppendAlarms(ctx context.Context, recs []store.AlarmRecord) error {
	g.started <- len(recs)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.memHistory.AppendAlarms(ctx, recs)
}

func (g *gatedHistory) open() {
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

// waitWrite waits for a write of n records to start.
func (g *gatedHistory) waitWrite(t *testing.T, n int) {
	t.Helper()
	select {
	case got := <-g.started:
		if got != n {
			t.Fatalf("a write of %d records started, want %d", got, n)
		}
	case <-time.After(waitLimit):
		t.Fatal("no history write started")
	}
}

// flap is n alternating raises and clears of frequency_pool_high, a
// millisecond apart from at.
func flap(at time.Time, n int) []Event {
	var out []Event
	for i := range n {
		k := []Kind{SetAlarm, ClearAlarm}[i%2]
		out = append(out, Event{Kind: k, ID: AlarmFrequencyPoolHigh, Source: "test", At: at.Add(time.Duration(i) * time.Millisecond)})
	}
	return out
}

// allHistory reads every page of the history.
func allHistory(t *testing.T, m *Manager) []store.AlarmRecord {
	t.Helper()
	var out []store.AlarmRecord
	var after int64
	for {
		page, err := m.History(ctxT(t), store.AlarmQuery{AfterID: after, Limit: store.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].ID
	}
}

// TestSlowHistoryHoldsUpNothing: while the history store is stuck, events
// flow and the active alarms, counters and gauge follow them; the history
// queue keeps the newest records, counting and logging (once) the oldest
// it drops; once the store moves, the history is written in order.
func TestSlowHistoryHoldsUpNothing(t *testing.T) {
	const extra = 5
	g := newGatedHistory(t)
	h := start(t, Config{History: g})
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	h.sync(t, Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "frequency", At: t0})
	g.waitWrite(t, 1) // now stuck

	events := flap(t0.Add(time.Second), historyQueue+extra) // odd: ends with a set
	h.sync(t, events...)
	active, err := h.m.ActiveAlarms(ctxT(t))
	if err != nil || len(active) != 2 {
		t.Fatalf("active alarms %+v (%v), want no_frequency and frequency_pool_high", active, err)
	}
	if c := h.counters(t); c["set_alarm:frequency_pool_high"] != uint64(len(events)+1)/2 {
		t.Fatalf("counters %v", c)
	}
	if g := value(t, h.metrics.active.WithLabelValues(AlarmFrequencyPoolHigh, SeverityMinor)); g != 1 {
		t.Fatalf("bsc_alarm_active{frequency_pool_high} = %v, want 1", g)
	}
	if got := value(t, h.metrics.histDropped); got != extra {
		t.Fatalf("bsc_alarm_history_dropped_total = %v, want %d", got, extra)
	}
	if n := h.logs.count("oldest records dropped"); n != 1 {
		t.Errorf("drops logged %d times, want once per period", n)
	}

	g.open()
	g.waitWrite(t, historyQueue)
	hist := allHistory(t, h.m)
	if len(hist) != 1+historyQueue {
		t.Fatalf("%d records in the history, want %d", len(hist), 1+historyQueue)
	}
	kept := events[extra:]
	if r := hist[0]; r.Alarm != AlarmNoFrequency || !r.At.Equal(t0) {
		t.Errorf("first record %+v, want the raise written before the store stuck", r)
	}
	for i, r := range hist[1:] {
		e := kept[i]
		if r.Alarm != e.ID || !r.At.Equal(e.At) || r.Action != map[Kind]string{SetAlarm: "set", ClearAlarm: "clear"}[e.Kind] {
			t.Fatalf("record %d: %+v, want %s at %v", i+1, r, e.Key(), e.At)
		}
	}
}

// TestStopFlushesHistory: the manager reports its exit once the history it
// queued is written, so a successor's records come after.
func TestStopFlushesHistory(t *testing.T) {
	g := newGatedHistory(t)
	h := start(t, Config{History: g})
	events := flap(time.Now(), 3)
	h.sync(t, events[0])
	g.waitWrite(t, 1)
	h.sync(t, events[1:]...)

	h.m.Stop()
	g.open()
	if reason := h.waitExit(t); !errors.Is(reason, sup.ErrShutdown) {
		t.Fatalf("exit %v", reason)
	}
	recs, _ := g.AlarmHistory(context.Background(), store.AlarmQuery{})
	var acts []string
	for _, r := range recs {
		acts = append(acts, r.Action)
	}
	if !slices.Equal(acts, []string{"set", "clear", "set"}) {
		t.Fatalf("history at exit %v, want set, clear, set", acts)
	}
	if got := value(t, h.metrics.histDropped); got != 0 {
		t.Errorf("%v records dropped", got)
	}
}

// TestStopAbandonsStuckHistory: a stuck store delays the end by at most
// historyFlushTimeout; the records not written are counted and logged.
func TestStopAbandonsStuckHistory(t *testing.T) {
	g := newGatedHistory(t)
	h := start(t, Config{History: g})
	events := flap(time.Now(), 3)
	h.sync(t, events[0])
	g.waitWrite(t, 1)
	h.sync(t, events[1:]...)

	h.m.Crash()
	var p *sup.PanicError
	if reason := h.waitExit(t); !errors.As(reason, &p) {
		t.Fatalf("exit %v, want a crash", reason)
	}
	if got := value(t, h.metrics.histDropped); got != 3 {
		t.Errorf("bsc_alarm_history_dropped_total = %v, want 3", got)
	}
	if n := h.logs.count("alarm history write failed"); n != 1 {
		t.Errorf("failed writes logged %d times, want once per period", n)
	}
	// History still answers, with what is stored.
	if recs, err := h.m.History(ctxT(t), store.AlarmQuery{}); err != nil || len(recs) != 0 {
		t.Errorf("History after the end: %v, %v", recs, err)
	}
}

// TestFailedHistoryWritesAreRetried: while the database cannot be written
// the history keeps its records and retries; once it can, they are written
// in order and none is counted lost.
func TestFailedHistoryWritesAreRetried(t *testing.T) {
	f := &failingHistory{memHistory: newMemHistory(memHistorySize)}
	f.failing.Store(true)
	h := start(t, Config{History: f})
	events := flap(time.Now(), 3)
	h.sync(t, events...)
	testutil.Eventually(t, 5*time.Second, "two failed writes", func() bool { return f.failures.Load() >= 2 })
	f.failing.Store(false)
	testutil.Eventually(t, 5*time.Second, "the history written", func() bool {
		recs, _ := f.AlarmHistory(context.Background(), store.AlarmQuery{})
		return len(recs) == 3
	})
	recs, _ := f.AlarmHistory(context.Background(), store.AlarmQuery{})
	for i, r := range recs {
		if !r.At.Equal(events[i].At) {
			t.Fatalf("record %d at %v, want %v: out of order", i, r.At, events[i].At)
		}
	}
	if got := value(t, h.metrics.histDropped); got != 0 {
		t.Errorf("%v records counted lost", got)
	}
}

// failingHistory fails every write while failing is set.
type failingHistory struct {
	*memHistory
	failing  atomic.Bool
	failures atomic.Int32
}

func (f *failingHistory) AppendAlarms(ctx context.Context, recs []store.AlarmRecord) error {
	if f.failing.Load() {
		f.failures.Add(1)
		return errors.New("disk full")
	}
	return f.memHistory.AppendAlarms(ctx, recs)
}

// TestCellsShareTheStoreNotTheHistory: the cells of a cluster node keep
// their alarm histories in the node's one database. Each cell's manager
// stamps its records with its cell and node and reads only its own, in
// seq order or in time order; a single node's manager (no cell) stamps
// none and reads every record. The history kept in memory when there is
// no database behaves the same.
func TestCellsShareTheStoreNotTheHistory(t *testing.T) {
	stores := map[string]func(t *testing.T) HistoryStore{
		"database": func(t *testing.T) HistoryStore { return storetest.Open(t, filepath.Join(t.TempDir(), "bsc.db")) },
		"memory":   func(*testing.T) HistoryStore { return newMemHistory(memHistorySize) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { testCellHistories(t, open(t)) })
	}
}

func testCellHistories(t *testing.T, st HistoryStore) {
	cell := func(c int) *int { return &c }
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	zero := start(t, Config{History: st, Cell: cell(0), Node: "n1"})
	one := start(t, Config{History: st, Cell: cell(1), Node: "n1"})
	single := start(t, Config{History: st})
	// Cell 0's raise is written first but happened last.
	zero.sync(t, Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "test", At: at(3)})
	one.sync(t, Event{Kind: SetAlarm, ID: AlarmFrequencyPoolHigh, Source: "test", At: at(1)})
	zero.sync(t, Event{Kind: SetAlarm, ID: AlarmFrequencyPoolHigh, Source: "test", At: at(2)})
	single.sync(t, Event{Kind: SetAlarm, ID: AlarmOverloaded, Source: "test", At: at(0)})
	for _, h := range []*harness{zero, one, single} {
		allHistory(t, h.m) // each manager's history is written by its own writer: wait for all
	}

	cases := []struct {
		name string
		h    *harness
		q    store.AlarmQuery
		want []string // alarm@seconds
		cell *int
		node string
	}{
		{"cell 0 by seq", zero, store.AlarmQuery{}, []string{"no_frequency@3", "frequency_pool_high@2"}, cell(0), "n1"},
		{"cell 0 by time", zero, store.AlarmQuery{ByTime: true}, []string{"frequency_pool_high@2", "no_frequency@3"}, cell(0), "n1"},
		{"cell 0 names no other cell", zero, store.AlarmQuery{Cell: cell(1)}, []string{"no_frequency@3", "frequency_pool_high@2"}, cell(0), "n1"},
		{"cell 1", one, store.AlarmQuery{}, []string{"frequency_pool_high@1"}, cell(1), "n1"},
		{"single node", single, store.AlarmQuery{ByTime: true}, []string{"overloaded@0", "frequency_pool_high@1", "frequency_pool_high@2", "no_frequency@3"}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := c.h.m.History(ctxT(t), c.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%s@%d", r.Alarm, r.At.Sub(t0)/time.Second))
				if c.cell != nil && (r.Cell == nil || *r.Cell != *c.cell || r.Node != c.node) {
					t.Errorf("record %+v: want cell %d on %s", r, *c.cell, c.node)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("history %v, want %v", got, c.want)
			}
		})
	}
	if recs, _ := single.m.History(ctxT(t), store.AlarmQuery{ByTime: true, Limit: 1}); len(recs) != 1 || recs[0].Cell != nil || recs[0].Node != "" {
		t.Errorf("the single node's record %+v: want no cell, no node", recs)
	}
}

package frequency

import (
	"github.com/bsc-sim/bsc/internal/testutil"

	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// The book's session, at the domain level.
func TestBookSession(t *testing.T) {
	a, rec, _ := start(t, book, Config{})
	for i, want := range book {
		if got := mustAllocate(t, a, "phone"); got != want {
			t.Fatalf("allocation %d = %d, want %d", i+1, got, want)
		}
		wantSet := 0
		if i == len(book)-1 {
			wantSet = 1
		}
		if n := rec.count("set_alarm:no_frequency"); n != wantSet {
			t.Fatalf("after allocation %d: %d set_alarm:no_frequency, want %d", i+1, n, wantSet)
		}
	}
	for range 2 {
		_, err := a.Allocate("phone", 0)
		wantCode(t, err, ErrNoFrequency)
	}
	if n := rec.count("event:frequency_denied"); n != 2 {
		t.Fatalf("%d frequency_denied events, want 2", n)
	}
	if n := rec.count("set_alarm:no_frequency"); n != 1 {
		t.Fatalf("alarm raised %d times, want once", n)
	}
	if err := a.Deallocate("phone", 15); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("clear_alarm:no_frequency"); n != 1 {
		t.Fatalf("%d clear_alarm:no_frequency after a release into an empty pool, want 1", n)
	}
	if got := mustAllocate(t, a, "phone"); got != 15 {
		t.Fatalf("allocation after releasing 15 = %d, want 15 (LIFO)", got)
	}
	rec.check(t)
}

func TestReleaseGoesToTheHead(t *testing.T) {
	a, _, _ := start(t, book, Config{})
	for range book {
		mustAllocate(t, a, "p")
	}
	for _, f := range []int{13, 11} {
		if err := a.Deallocate("p", f); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.View().Free; !slices.Equal(got, []int{11, 13}) {
		t.Fatalf("free = %v, want [11 13]", got)
	}
	if got := mustAllocate(t, a, "q"); got != 11 {
		t.Fatalf("got %d, want 11", got)
	}
}

// A failed operation changes nothing, sends no alarm and counts its result.
func TestErrorsLeavePoolUnchanged(t *testing.T) {
	cases := []struct {
		name    string
		setup   int // allocations to "a" first
		op      func(*Allocator) error
		want    *errcode.Error
		outcome string
	}{
		{"deallocate a free frequency", 2, func(a *Allocator) error { return a.Deallocate("a", 14) }, ErrNotAllocated, "not_allocated"},
		{"deallocate outside the pool", 2, func(a *Allocator) error { return a.Deallocate("a", 99) }, ErrNotAllocated, "not_allocated"},
		{"deallocate another owner's", 2, func(a *Allocator) error { return a.Deallocate("b", 10) }, ErrNotOwner, "not_owner"},
		{"allocate from an empty pool", 6, func(a *Allocator) error { _, err := a.Allocate("b", 0); return err }, ErrNoFrequency, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			a, rec, _ := start(t, book, Config{Metrics: NewMetrics(reg).Cell(0)})
			for range c.setup {
				mustAllocate(t, a, "a")
			}
			before, alarms := a.View(), rec.count("set_alarm:no_frequency")+rec.count("clear_alarm:no_frequency")
			wantCode(t, c.op(a), c.want)
			if after := a.View(); !reflect.DeepEqual(before, after) {
				t.Fatalf("view changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if n := rec.count("set_alarm:no_frequency") + rec.count("clear_alarm:no_frequency"); n != alarms {
				t.Fatal("a failed operation moved the no_frequency alarm")
			}
			if c.outcome != "" {
				if v, _ := testutil.Metric(t, reg, "bsc_frequency_deallocations_total", "result", c.outcome); v != 1 {
					t.Fatalf("deallocations{%s} = %v, want 1", c.outcome, v)
				}
			}
		})
	}
}

func TestReleaseOwner(t *testing.T) {
	a, rec, _ := start(t, book, Config{})
	for _, owner := range []string{"a", "b", "a", "c", "a", "b"} {
		mustAllocate(t, a, owner) // a: 10 12 14, b: 11 15, c: 13
	}
	if got := a.ReleaseOwner("a"); !slices.Equal(got, []int{14, 12, 10}) {
		t.Fatalf("released %v, want [14 12 10] (newest first)", got)
	}
	if got := a.ReleaseOwner("a"); got != nil {
		t.Fatalf("second release = %v, want nothing", got)
	}
	if got := a.ReleaseOwner("nobody"); got != nil {
		t.Fatalf("release of an unknown owner = %v", got)
	}
	v := a.View()
	if !slices.Equal(v.Free, []int{10, 12, 14}) {
		t.Fatalf("free = %v, want [10 12 14]", v.Free)
	}
	owners := map[int]string{}
	for _, al := range v.Allocated {
		owners[al.Frequency] = al.Owner
	}
	if !reflect.DeepEqual(owners, map[int]string{11: "b", 13: "c", 15: "b"}) {
		t.Fatalf("allocated = %v", owners)
	}
	if rec.count("clear_alarm:no_frequency") != 1 {
		t.Fatal("releasing into the empty pool did not clear no_frequency")
	}
	rec.check(t)
}

// Many clients at once: a frequency is never held by two of them.
func TestConcurrentClientsNeverShareAFrequency(t *testing.T) {
	pool, _ := ParsePool("1-8")
	a, rec, _ := start(t, pool, Config{})
	var mu sync.Mutex
	holder := map[int]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for c := range 16 {
		wg.Go(func() {
			owner := fmt.Sprint("client-", c)
			for range 500 {
				al, err := a.Allocate(owner, 0)
				if err != nil {
					continue // no_frequency: others hold them all
				}
				mu.Lock()
				other, taken := holder[al.Frequency]
				holder[al.Frequency] = owner
				mu.Unlock()
				if taken {
					errs <- fmt.Errorf("%d given to %s while %s held it", al.Frequency, owner, other)
					return
				}
				mu.Lock()
				delete(holder, al.Frequency) // before releasing, so the next holder finds it empty
				mu.Unlock()
				if err := a.Deallocate(owner, al.Frequency); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v := a.View(); len(v.Free) != len(pool) || len(v.Allocated) != 0 {
		t.Fatalf("after every release: %+v", v)
	}
	rec.check(t)
	if rec.isActive(alarmNoFrequency) || rec.isActive(alarmPoolHigh) {
		t.Fatal("alarm left active with every frequency free")
	}
}

func TestInspectAndTrace(t *testing.T) {
	var logs bytes.Buffer
	a, _, _ := start(t, book, Config{Log: zerolog.New(&logs)})
	mustAllocate(t, a, "a")
	mustAllocate(t, a, "b")
	if err := a.Deallocate("a", 10); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Fatalf("logged on the hot path without tracing: %s", logs.String())
	}
	info := a.Inspect()
	if info.Name != "frequency" || info.Status != "running" || info.State != "free=5 allocated=1 blocked=0" {
		t.Fatalf("info = %+v", info)
	}
	if len(info.Log) != 3 || info.Log[0].Kind != "allocate" || info.Log[2].Kind != "deallocate" || info.MessagesIn != 3 {
		t.Fatalf("event log = %+v, in = %d", info.Log, info.MessagesIn)
	}
	a.SetTrace(true)
	mustAllocate(t, a, "c")
	if !a.Inspect().Trace || !strings.Contains(logs.String(), `"event":"allocate"`) {
		t.Fatalf("tracing on, log: %q", logs.String())
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg).Cell(0)
	for _, s := range []struct{ name, label, value string }{
		{"bsc_frequencies", "state", "free"}, {"bsc_frequencies", "state", "allocated"}, {"bsc_frequencies", "state", "blocked"},
		{"bsc_frequency_allocations_total", "result", "ok"}, {"bsc_frequency_allocations_total", "result", "no_frequency"},
		{"bsc_frequency_deallocations_total", "result", "ok"}, {"bsc_frequency_deallocations_total", "result", "not_allocated"},
		{"bsc_frequency_deallocations_total", "result", "not_owner"}, {"bsc_frequency_deallocations_total", "result", "expired"},
	} {
		if v, ok := testutil.Metric(t, reg, s.name, s.label, s.value); !ok || v != 0 {
			t.Errorf("%s{%s=%q} = %v, present %v; want 0 at start", s.name, s.label, s.value, v, ok)
		}
	}
	a, _, _ := start(t, []int{1, 2}, Config{Metrics: m})
	mustAllocate(t, a, "x")
	mustAllocate(t, a, "x")
	a.Allocate("x", 0)
	if _, err := a.SetPool([]int{2, 3}); err != nil { // 1 becomes blocked
		t.Fatal(err)
	}
	a.ReleaseOwner("x")
	mustAllocate(t, a, "y")
	for _, w := range []struct {
		name, label, value string
		want               float64
	}{
		{"bsc_frequencies", "state", "free", 1},
		{"bsc_frequencies", "state", "allocated", 1},
		{"bsc_frequencies", "state", "blocked", 0},
		{"bsc_frequency_allocations_total", "result", "ok", 3},
		{"bsc_frequency_allocations_total", "result", "no_frequency", 1},
		{"bsc_frequency_deallocations_total", "result", "ok", 2},
	} {
		if v, _ := testutil.Metric(t, reg, w.name, w.label, w.value); v != w.want {
			t.Errorf("%s{%s=%q} = %v, want %v", w.name, w.label, w.value, v, w.want)
		}
	}
}

// Each cell's allocator moves its own cell's series only; an allocator
// that stops, or crashes, takes its share of its cell's gauges with it (a
// restart's new incarnation adds its own); a cell deleted leaves no series.
func TestMetricsPerCell(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	gauge := func(cell, state string) float64 {
		v, _ := testutil.Metric(t, reg, "bsc_frequencies", "cell", cell, "state", state)
		return v
	}
	a, _, _ := start(t, []int{1, 2, 3}, Config{Metrics: m.Cell(0)})
	cell1 := m.Cell(1)
	b, _, _ := start(t, []int{1, 2}, Config{Metrics: cell1})
	mustAllocate(t, a, "x")
	mustAllocate(t, b, "y")
	mustAllocate(t, b, "y")
	if free, alloc := gauge("0", "free"), gauge("0", "allocated"); free != 2 || alloc != 1 {
		t.Errorf("cell 0: free %v allocated %v, want 2 and 1", free, alloc)
	}
	if free, alloc := gauge("1", "free"), gauge("1", "allocated"); free != 0 || alloc != 2 {
		t.Errorf("cell 1: free %v allocated %v, want 0 and 2", free, alloc)
	}
	if v, _ := testutil.Metric(t, reg, "bsc_frequency_allocations_total", "cell", "1", "result", "ok"); v != 2 {
		t.Errorf(`allocations{cell="1",result="ok"} = %v, want 2`, v)
	}
	b.Crash()
	if free, alloc := gauge("1", "free"), gauge("1", "allocated"); free != 0 || alloc != 0 {
		t.Errorf("cell 1's allocator crashed: free %v allocated %v, want 0", free, alloc)
	}
	b2, _, _ := start(t, []int{1, 2}, Config{Metrics: cell1}) // the restart
	mustAllocate(t, b2, "z")
	if free, alloc := gauge("1", "free"), gauge("1", "allocated"); free != 1 || alloc != 1 {
		t.Errorf("cell 1 restarted: free %v allocated %v, want 1 and 1", free, alloc)
	}
	if free, alloc := gauge("0", "free"), gauge("0", "allocated"); free != 2 || alloc != 1 {
		t.Errorf("cell 0 after cell 1's restart: free %v allocated %v, want 2 and 1", free, alloc)
	}
	b2.Stop()
	m.DeleteCell(1)
	for _, name := range []string{"bsc_frequencies", "bsc_frequency_allocations_total", "bsc_frequency_deallocations_total"} {
		if _, ok := testutil.Metric(t, reg, name, "cell", "1"); ok {
			t.Errorf("%s: cell 1's series left after DeleteCell", name)
		}
		if _, ok := testutil.Metric(t, reg, name, "cell", "0"); !ok {
			t.Errorf("%s: cell 0's series gone with cell 1's", name)
		}
	}
}

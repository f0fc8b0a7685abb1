package overload

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

func TestOverflowKeepsAlternation(t *testing.T) {
	cases := []struct {
		name     string
		kinds    []Kind
		outcomes []outcome
		waiting  []Kind
	}{
		{"set", []Kind{SetAlarm}, []outcome{queued}, []Kind{SetAlarm}},
		{"set clear cancel out", []Kind{SetAlarm, ClearAlarm}, []outcome{queued, cancelled}, nil},
		{"clear set both wait", []Kind{ClearAlarm, SetAlarm}, []outcome{queued, queued}, []Kind{ClearAlarm, SetAlarm}},
		{"clear set clear", []Kind{ClearAlarm, SetAlarm, ClearAlarm}, []outcome{queued, queued, cancelled}, []Kind{ClearAlarm}},
		{"set set", []Kind{SetAlarm, SetAlarm}, []outcome{queued, duplicate}, []Kind{SetAlarm}},
		{"clear clear", []Kind{ClearAlarm, ClearAlarm}, []outcome{queued, duplicate}, []Kind{ClearAlarm}},
		{"flapping", []Kind{SetAlarm, ClearAlarm, SetAlarm, ClearAlarm, SetAlarm}, []outcome{queued, cancelled, queued, cancelled, queued}, []Kind{SetAlarm}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o overflow
			var got []outcome
			for _, k := range c.kinds {
				got = append(got, o.add(ev(k, AlarmNoFrequency)))
			}
			if !slices.Equal(got, c.outcomes) {
				t.Errorf("outcomes %v, want %v", got, c.outcomes)
			}
			var waiting []Kind
			for _, e := range o.pending[AlarmNoFrequency] {
				waiting = append(waiting, e.Kind)
			}
			if !slices.Equal(waiting, c.waiting) {
				t.Errorf("waiting %v, want %v", waiting, c.waiting)
			}
			if o.has(AlarmNoFrequency) != (len(c.waiting) > 0) || o.waiting.Load() != (len(c.waiting) > 0) {
				t.Errorf("has %v, waiting %v with %v waiting", o.has(AlarmNoFrequency), o.waiting.Load(), c.waiting)
			}
		})
	}
}

// TestOverflowSourcesAreApart: the sources of one id alternate each on
// its own, in one line: a clear cancels its own source's set only, and a
// clear without a source undoes the sets waiting behind the last such
// clear.
func TestOverflowSourcesAreApart(t *testing.T) {
	type sent struct {
		kind   Kind
		source string
	}
	set, clear := func(s string) sent { return sent{SetAlarm, s} }, func(s string) sent { return sent{ClearAlarm, s} }
	cases := []struct {
		name     string
		events   []sent
		outcomes []outcome
		waiting  []sent
	}{
		{"two sets wait", []sent{set("cell:0"), set("cell:1")}, []outcome{queued, queued}, []sent{set("cell:0"), set("cell:1")}},
		{"a clear cancels its source's set", []sent{set("cell:0"), set("cell:1"), clear("cell:0")}, []outcome{queued, queued, cancelled}, []sent{set("cell:1")}},
		{"a repeat of its source's last", []sent{set("cell:0"), set("cell:1"), set("cell:0")}, []outcome{queued, queued, duplicate}, []sent{set("cell:0"), set("cell:1")}},
		{"a clear of every source waits", []sent{set("cell:0"), clear("")}, []outcome{queued, queued}, []sent{set("cell:0"), clear("")}},
		{"a set after a clear of every source waits", []sent{set("cell:0"), clear(""), set("cell:0")}, []outcome{queued, queued, queued},
			[]sent{set("cell:0"), clear(""), set("cell:0")}},
		{"a clear of every source undoes the sets behind one", []sent{set("cell:0"), clear(""), set("cell:0"), set("cell:1"), clear("")},
			[]outcome{queued, queued, queued, queued, cancelled}, []sent{set("cell:0"), clear("")}},
		{"a source flapping behind a clear of every source stays bounded",
			[]sent{set("cell:0"), clear(""), set("cell:0"), clear(""), set("cell:0"), clear(""), set("cell:0"), clear("")},
			[]outcome{queued, queued, queued, cancelled, queued, cancelled, queued, cancelled}, []sent{set("cell:0"), clear("")}},
		{"a clear of every source after one is a repeat", []sent{set("cell:0"), clear(""), clear("")},
			[]outcome{queued, queued, duplicate}, []sent{set("cell:0"), clear("")}},
		{"a clear after a clear of every source is a repeat", []sent{set("cell:0"), clear(""), clear("cell:0")}, []outcome{queued, queued, duplicate},
			[]sent{set("cell:0"), clear("")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o overflow
			var got []outcome
			for _, e := range c.events {
				got = append(got, o.add(Event{Kind: e.kind, ID: AlarmCellUnowned, Source: e.source}))
			}
			if !slices.Equal(got, c.outcomes) {
				t.Errorf("outcomes %v, want %v", got, c.outcomes)
			}
			var waiting []sent
			for _, e := range o.pending[AlarmCellUnowned] {
				waiting = append(waiting, sent{e.Kind, e.Source})
			}
			if !slices.Equal(waiting, c.waiting) {
				t.Errorf("waiting %v, want %v", waiting, c.waiting)
			}
		})
	}
}

// holdLoop installs a blocker and makes the manager hold an event in it,
// the mailbox empty behind it.
func holdLoop(t *testing.T, h *harness) *blocker {
	t.Helper()
	b := newBlocker(t)
	if err := h.m.AddHandlerValue(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	h.m.Notify(ev(Notice, "hold"))
	b.waitEntered(t)
	return b
}

// release lets the manager go on and returns once it handled everything
// sent so far, the overflow included.
func release(t *testing.T, h *harness, b *blocker) {
	t.Helper()
	b.free()
	testutil.Eventually(t, waitLimit, "the overflow moved to the mailbox", func() bool { return !h.m.overflow.waiting.Load() })
	h.sync(t, ev(Notice, "last"))
}

// notifyAll runs send, failing the test if it blocks.
func notifyAll(t *testing.T, send func()) {
	t.Helper()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		send()
	}()
	select {
	case <-sent:
	case <-time.After(waitLimit):
		t.Fatal("Notify blocked")
	}
}

// TestAlarmEventsSurviveAFullMailbox floods a held manager with set/clear
// pairs and notices: notices are dropped, alarm events are not, and every
// alarm ends as its last event left it, with its sets and clears balanced.
func TestAlarmEventsSurviveAFullMailbox(t *testing.T) {
	const rounds = 200
	h := start(t, Config{Mailbox: 8})
	b := holdLoop(t, h)

	ids := []string{AlarmNoFrequency, AlarmFrequencyPoolHigh, AlarmRestartStorm, AlarmOverloaded, "mystery"}
	wantActive := ids[:3] // raised once more after the last round
	notices := 0
	notifyAll(t, func() {
		for range rounds {
			for _, id := range ids {
				h.m.Notify(ev(SetAlarm, id))
				h.m.Notify(ev(Notice, "flood"))
				notices++
				h.m.Notify(ev(ClearAlarm, id))
			}
		}
		for _, id := range wantActive {
			h.m.Notify(ev(SetAlarm, id))
		}
	})
	h.m.overflow.mu.Lock()
	for id, evs := range h.m.overflow.pending {
		if len(evs) > 2 {
			t.Errorf("%d events of %s wait, want at most a clear and a set", len(evs), id)
		}
	}
	h.m.overflow.mu.Unlock()

	release(t, h, b)
	active, err := h.m.ActiveAlarms(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range active {
		got = append(got, a.ID)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(wantActive))
	if !slices.Equal(got, want) {
		t.Fatalf("active alarms %v, want %v", got, want)
	}
	c := h.counters(t)
	for _, id := range ids {
		on := 0.0
		if slices.Contains(wantActive, id) {
			on = 1
		}
		sets, clears := c["set_alarm:"+id], c["clear_alarm:"+id]
		if float64(sets)-float64(clears) != on {
			t.Errorf("%s: counted %d sets and %d clears, want a difference of %v", id, sets, clears, on)
		}
		raises := value(t, h.metrics.transitions.WithLabelValues(id, "set"))
		cleared := value(t, h.metrics.transitions.WithLabelValues(id, "clear"))
		if raises-cleared != on {
			t.Errorf("%s: %v raises and %v clears, want a difference of %v", id, raises, cleared, on)
		}
		if k, ok := catalogue[id]; ok {
			if g := value(t, h.metrics.active.WithLabelValues(id, k.severity)); g != on {
				t.Errorf("bsc_alarm_active{%s} = %v, want %v", id, g, on)
			}
		}
	}
	dropped := value(t, h.metrics.dropped)
	if handled := float64(c["event:flood"]); dropped == 0 || handled+dropped != float64(notices) {
		t.Errorf("%v notices handled and %v dropped, want some dropped and %d in all", handled, dropped, notices)
	}
}

func TestOverflowCapsDistinctAlarms(t *testing.T) {
	h := start(t, Config{Mailbox: 1})
	b := holdLoop(t, h)
	id := func(i int) string { return fmt.Sprintf("alarm-%03d", i) }
	notifyAll(t, func() {
		h.m.Notify(ev(Notice, "fill")) // the mailbox's one place
		for i := range maxOverflowIDs + 2 {
			h.m.Notify(ev(SetAlarm, id(i)))
		}
	})
	if got := value(t, h.metrics.dropped); got != 2 {
		t.Fatalf("bsc_overload_dropped_total = %v, want the 2 alarms past the cap", got)
	}
	if n := h.logs.count("too many distinct alarms"); n != 1 {
		t.Errorf("the loss logged %d times, want once per period:\n%s", n, h.logs)
	}

	release(t, h, b)
	active, err := h.m.ActiveAlarms(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != maxOverflowIDs {
		t.Fatalf("%d alarms active, want %d", len(active), maxOverflowIDs)
	}
	for _, a := range active {
		if a.ID >= id(maxOverflowIDs) {
			t.Errorf("%s is active, past the cap", a.ID)
		}
	}
	if n := h.counters(t)["event:fill"]; n != 1 {
		t.Errorf("event:fill counted %d times, want once", n)
	}
}

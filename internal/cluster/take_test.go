package cluster

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestCellsTakenAtOnce: the cells a node takes are written together and
// their answers awaited together. The fake answers only once both writes
// are sent: taken one at a time, the first would wait out its bound, and
// be left.
func TestCellsTakenAtOnce(t *testing.T) {
	m := membersOf(NodeInfo{Name: "n1"})
	w := &takes{answerAfter: 2}
	l := leasesOn(m, 1, w)

	l.acquire(context.Background())
	for c := range 2 {
		if _, ok := l.Acting(c); !ok {
			t.Errorf("cell %d not taken (wrote %v)", c, w.took())
		}
	}
}

// TestUnansweredTakeRestartsTheGrace: while no write can be answered (the
// bucket electing a leader), a cell placed on another live node keeps its
// wait for that node: once the engine answers again, each node takes its
// own cells, rather than every node racing for every cell that has been
// unowned longer than the grace.
func TestUnansweredTakeRestartsTheGrace(t *testing.T) {
	m := membersOf(NodeInfo{Name: "n1"}, NodeInfo{Name: "n2"})
	own := slices.Index(Placement(2, []string{"n1", "n2"}), "n1")
	silent := &takes{}
	l := leasesOn(m, 2, silent)
	l.start = time.Now().Add(-2 * startGrace)
	for c := range l.unowned {
		l.unowned[c] = time.Now().Add(-10 * acquireGrace)
	}

	l.acquire(context.Background())
	if got := silent.took(); len(got) != 2 {
		t.Fatalf("after %v unowned every cell is wanted; wrote %v", 10*acquireGrace, got)
	}
	answering := &takes{answerAfter: 1}
	l.publish = answering.publish
	l.acquire(context.Background())
	if got, want := answering.took(), []string{cellKey(own)}; !slices.Equal(got, want) {
		t.Fatalf("once answered, took %v, want its own %v", got, want)
	}
}

// TestTakeConfirmedBeforeActing: a cell is acted for only once a second
// write after its take is stored. A take overtaken (the bucket's new
// leader writing an expiry marker over it) is left: acted for, another
// node could take it at once, two owners at a time.
func TestTakeConfirmedBeforeActing(t *testing.T) {
	m := membersOf(NodeInfo{Name: "n1"})
	w := &takes{answerAfter: 1, overtaken: map[string]bool{cellKey(1): true}}
	l := leasesOn(m, 1, w)
	var gained []int
	l.hooks.Gained = func(c int, _ uint64, _ Owner) { gained = append(gained, c) }

	l.acquire(context.Background())
	if _, ok := l.Acting(0); !ok {
		t.Error("cell 0, confirmed, is not acted for")
	}
	if _, ok := l.Acting(1); ok {
		t.Error("cell 1, its take overtaken, is acted for")
	}
	if !slices.Equal(gained, []int{0}) {
		t.Errorf("gained %v, want [0]", gained)
	}
}

// TestTakeExpects: the revision a take expects, from the key as the polls
// read it. A value is taken as expired once read at one revision for a
// lease's TTL by this node's clock, whatever its timestamp says: its
// owner stopped acting before then, with no other clock read.
func TestTakeExpects(t *testing.T) {
	t0 := time.Now()
	old := t0.Add(-time.Hour) // a timestamp from a clock far behind
	for _, tc := range []struct {
		name  string
		reads []kvValue // the key as successive polls read it, one per 250 ms; Rev 0: no key
		want  uint64
	}{
		{"no key", []kvValue{{}}, 0},
		{"deleted", []kvValue{{Rev: 7, Deleted: true}}, 7},
		{"a value just read, its timestamp old", []kvValue{{Rev: 7, Written: old, TTL: time.Second}}, 0},
		{"a value read at one revision for the TTL", []kvValue{{Rev: 7}, {Rev: 7}, {Rev: 7}, {Rev: 7}, {Rev: 7}}, 7},
		{"renewed meanwhile", []kvValue{{Rev: 7}, {Rev: 7}, {Rev: 7}, {Rev: 8}, {Rev: 8}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen seenRev
			now := t0
			for i, v := range tc.reads {
				now = t0.Add(time.Duration(i) * renewEvery)
				seen = seen.read(v, v.Rev != 0, now)
			}
			if got := seen.expect(now); got != tc.want {
				t.Fatalf("expects %d, want %d", got, tc.want)
			}
		})
	}
}

package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestCellsTakenAtOnce: the cells a node takes are written together and
// their answers awaited together. The fake answers only once both writes
// are sent: taken one at a time, the first would wait out its bound, and
// be left.
func TestCellsTakenAtOnce(t *testing.T) {
	self := NodeInfo{Name: "n1"}
	m := newMembers(nil, nil, self, nil, zerolog.Nop())
	m.live = map[string]NodeInfo{"n1": self}
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
	self := NodeInfo{Name: "n1"}
	m := newMembers(nil, nil, self, nil, zerolog.Nop())
	m.live = map[string]NodeInfo{"n1": self, "n2": {Name: "n2"}}
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

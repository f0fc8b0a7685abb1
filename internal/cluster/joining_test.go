package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// TestServingLeavesOutJoiningAndDraining: the nodes that can serve a cell
// now, which cells are placed on, are the live ones that neither drain
// nor still join; all three are live.
func TestServingLeavesOutJoiningAndDraining(t *testing.T) {
	m := newMembers(nil, nil, NodeInfo{Name: "n1"}, nil, zerolog.Nop())
	m.live = map[string]NodeInfo{
		"n1": {Name: "n1"},
		"n2": {Name: "n2", Draining: true},
		"n3": {Name: "n3", Joining: true},
	}
	if got := m.Serving(); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("Serving = %v, want [n1]", got)
	}
	if got := m.Live(); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("Live = %v, want all three", got)
	}
}

// takes records the lease keys a node writes; each write is answered
// once answerAfter writes have been sent (1: at once), with the next
// revision, or never if answerAfter is 0. A key in overtaken has its
// second write (a take's confirmation) refused, as if an expiry marker
// had been written over the take.
type takes struct {
	mu          sync.Mutex
	answerAfter int
	overtaken   map[string]bool
	written     []string
	pending     []*ackFuture
}

func (w *takes) publish(m *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := strings.TrimPrefix(m.Subject, "$KV."+bucketCells+".")
	f := &ackFuture{ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
	if w.overtaken[key] && slices.Contains(w.written, key) {
		f.err <- &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}
		return f, nil
	}
	w.written = append(w.written, key)
	w.pending = append(w.pending, f)
	if w.answerAfter > 0 && len(w.pending) >= w.answerAfter {
		for _, f := range w.pending {
			f.ok <- &jetstream.PubAck{Sequence: uint64(len(w.written))}
		}
		w.pending = nil
	}
	return f, nil
}

// took is the keys written, each once, in the order of their first write.
func (w *takes) took() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, k := range w.written {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

type ackFuture struct {
	ok  chan *jetstream.PubAck
	err chan error
}

func (f *ackFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *ackFuture) Err() <-chan error            { return f.err }
func (f *ackFuture) Msg() *nats.Msg               { return nil }

// membersOf is the membership self sees: itself and others, live.
func membersOf(self NodeInfo, others ...NodeInfo) *Members {
	m := newMembers(nil, nil, self, nil, zerolog.Nop())
	m.live = map[string]NodeInfo{self.Name: self}
	for _, o := range others {
		m.live[o.Name] = o
	}
	return m
}

// leasesOn is a Leases of 2 cells on n1 that writes its keys to w.
func leasesOn(m *Members, expect int, w *takes) *Leases {
	l := newLeases(&Engine{Node: "n1"}, nil, m, 2, expect, Hooks{}, zerolog.Nop())
	l.publish = w.publish
	return l
}

// TestJoiningNodeTakesNoCell: a node that cannot serve a cell yet (its
// copy of the HLR location not read) takes none, though every cell is
// placed on it; once joined it takes them.
func TestJoiningNodeTakesNoCell(t *testing.T) {
	m := membersOf(NodeInfo{Name: "n1", Joining: true})
	w := &takes{answerAfter: 1}
	l := leasesOn(m, 1, w)

	l.acquire(context.Background())
	if got := w.took(); len(got) != 0 {
		t.Fatalf("a joining node took %v", got)
	}
	m.Joined()
	l.acquire(context.Background())
	if got := w.took(); !slices.Equal(got, []string{"cell.0", "cell.1"}) {
		t.Fatalf("a joined node took %v, want both cells", got)
	}
}

// TestCellsPlacedOverServingNodes: a joining node is placed no cell, so a
// node that can serve takes a dead node's cells at once, not after the
// wait for a preferred node (a handoff places them the same way, and the
// two must agree, or a cell would go back and forth); but a cluster
// starting together waits until every node has joined, so that its cells
// spread over all of them.
func TestCellsPlacedOverServingNodes(t *testing.T) {
	place := Placement(2, []string{"n1", "n2"})
	own := slices.Index(place, "n1")
	if own < 0 || slices.Index(place, "n2") < 0 {
		t.Fatalf("placement %v: the test expects a cell on each node", place)
	}
	for _, tc := range []struct {
		name     string
		joining  bool // n2's state
		starting bool // n1 started less than startGrace ago
		want     []string
	}{
		{"n2 joining: both at once", true, false, []string{cellKey(0), cellKey(1)}},
		{"n2 joined: its own only", false, false, []string{cellKey(own)}},
		{"starting, n2 joining: none yet", true, true, nil},
		{"starting, n2 joined: its own only", false, true, []string{cellKey(own)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := membersOf(NodeInfo{Name: "n1"}, NodeInfo{Name: "n2", Joining: tc.joining})
			w := &takes{answerAfter: 1}
			l := leasesOn(m, 2, w)
			if !tc.starting {
				l.start = time.Now().Add(-2 * startGrace)
			}
			l.acquire(context.Background())
			if got := w.took(); !slices.Equal(got, tc.want) {
				t.Fatalf("took %v, want %v", got, tc.want)
			}
		})
	}
}

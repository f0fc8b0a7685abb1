package cluster

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

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

// createKV is a bucket that records the keys created in it.
type createKV struct {
	jetstream.KeyValue
	mu      sync.Mutex
	created []string
}

func (kv *createKV) Create(_ context.Context, key string, _ []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.created = append(kv.created, key)
	return uint64(len(kv.created)), nil
}

// TestJoiningNodeTakesNoCell: a node that cannot serve a cell yet (its
// copy of the HLR location not read) takes none, though every cell is
// placed on it; once joined it takes them.
func TestJoiningNodeTakesNoCell(t *testing.T) {
	self := NodeInfo{Name: "n1", Joining: true}
	m := newMembers(nil, nil, self, nil, zerolog.Nop())
	m.live = map[string]NodeInfo{"n1": self}
	kv := &createKV{}
	l := newLeases(&Engine{Node: "n1"}, kv, m, 2, 1, Hooks{}, zerolog.Nop())

	l.acquire(context.Background())
	if len(kv.created) != 0 {
		t.Fatalf("a joining node took %v", kv.created)
	}
	m.Joined()
	l.acquire(context.Background())
	if !slices.Equal(kv.created, []string{"cell.0", "cell.1"}) {
		t.Fatalf("a joined node took %v, want both cells", kv.created)
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
			self := NodeInfo{Name: "n1"}
			m := newMembers(nil, nil, self, nil, zerolog.Nop())
			m.live = map[string]NodeInfo{"n1": self, "n2": {Name: "n2", Joining: tc.joining}}
			kv := &createKV{}
			l := newLeases(&Engine{Node: "n1"}, kv, m, 2, 2, Hooks{}, zerolog.Nop())
			if !tc.starting {
				l.start = time.Now().Add(-2 * startGrace)
			}
			l.acquire(context.Background())
			if !slices.Equal(kv.created, tc.want) {
				t.Fatalf("took %v, want %v", kv.created, tc.want)
			}
		})
	}
}

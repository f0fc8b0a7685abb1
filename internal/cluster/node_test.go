package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// events records what the hooks were told.
type events struct {
	mu   sync.Mutex
	held map[string]map[int]uint64 // node -> cell -> epoch
}

func (ev *events) hooks(node string) Hooks {
	return Hooks{
		Gained: func(c int, epoch uint64, _ Owner) {
			ev.mu.Lock()
			defer ev.mu.Unlock()
			if ev.held[node] == nil {
				ev.held[node] = map[int]uint64{}
			}
			ev.held[node][c] = epoch
		},
		Lost: func(c int, _ uint64, _ string) {
			ev.mu.Lock()
			defer ev.mu.Unlock()
			delete(ev.held[node], c)
		},
	}
}

// owned is how many cells each node acts for, by the hooks.
func (ev *events) owned() map[string]int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	out := map[string]int{}
	for n, cells := range ev.held {
		out[n] = len(cells)
	}
	return out
}

// startNodes joins n embedded nodes on loopback.
func startNodes(t *testing.T, names []string, cells int, ev *events) []*Node {
	t.Helper()
	ports := testutil.FreeAddrs(t, len(names))
	dir := t.TempDir()
	nodes := make([]*Node, len(names))
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		peers := slices.Delete(slices.Clone(ports), i, i+1)
		cfg := Config{Engine: EngineConfig{Node: name, ClusterListen: ports[i], Peers: peers,
			StoreDir: filepath.Join(dir, name), Log: testLog(t, name)}, Cells: cells, Hooks: ev.hooks(name), Log: testLog(t, name)}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			nodes[i], errs[i] = Join(ctx, cfg)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
	}
	return nodes
}

// TestCellsSpreadAndFailOver: three nodes agree on who owns the twelve
// cells, four each; when one dies without a word (its leases expire) the
// others take its cells with higher epochs, and never two at once. Then a
// release (checkRelease), a node with another --cells (checkCellsAgree),
// and a copy of the HLR location caught up (checkDirectoryCatchUp).
func TestCellsSpreadAndFailOver(t *testing.T) {
	ev := &events{held: map[string]map[int]uint64{}}
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, 12, ev)
	defer func() {
		for _, n := range nodes[:2] {
			n.Leave(context.Background())
		}
	}()
	testutil.Eventually(t, 30*time.Second, "four cells each", func() bool {
		o := ev.owned()
		return o["n1"] == 4 && o["n2"] == 4 && o["n3"] == 4
	})
	views := func() []string {
		var out []string
		for _, n := range nodes {
			out = append(out, fmt.Sprint(n.Leases.Owners()))
		}
		return out
	}
	testutil.Eventually(t, 10*time.Second, "the same owners on every node", func() bool {
		v := views()
		return v[0] == v[1] && v[1] == v[2]
	})
	before := nodes[0].Leases.Owners()

	nodes[2].crash()
	killed := time.Now()
	testutil.Eventually(t, 30*time.Second, "n3's cells taken over", func() bool {
		o := ev.owned()
		return o["n1"]+o["n2"] == 12
	})
	t.Logf("failover in %v", time.Since(killed).Round(time.Millisecond))
	// The other node's view follows at its next read of the owners.
	var after []Owner
	testutil.Eventually(t, 5*time.Second, "n1 sees every cell owned", func() bool {
		after = nodes[0].Leases.Owners()
		return !slices.ContainsFunc(after, func(o Owner) bool { return o.Node == "" || o.Node == "n3" })
	})
	for c := range after {
		if before[c].Node == "n3" && after[c].Epoch <= before[c].Epoch {
			t.Errorf("cell %d: %+v before, %+v after: want a new owner with a higher epoch", c, before[c], after[c])
		}
	}
	checkRelease(t, nodes[0], 12)
	checkCellsAgree(t, nodes[0], 12)
	checkDirectoryCatchUp(t, nodes[0], nodes[1])
}

// checkDirectoryCatchUp: once CatchUp returns, a copy of the HLR location
// holds every attach another node had answered before the call, even a
// copy no watch feeds (as one whose watch's consumer died with its
// server); a detach the bucket refused leaves the phone in the copy.
func checkDirectoryCatchUp(t *testing.T, reader, writer *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const phones = 200
	for m := range uint64(phones) {
		if err := writer.Directory.Attach(ctx, 4_500_000+m, int(m%12)); err != nil {
			t.Fatal(err)
		}
	}
	unwatched := newDirectory(reader.Engine, reader.Schema.Location, 12, testLog(t, "unwatched"))
	for _, d := range []*Directory{reader.Directory, unwatched} {
		if err := d.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		for m := range uint64(phones) {
			if c, ok := d.Cell(4_500_000 + m); !ok || c != int(m%12) {
				t.Fatalf("phone %d after CatchUp: cell %d, %v; want %d", 4_500_000+m, c, ok, m%12)
			}
		}
	}
	gone, cancelGone := context.WithCancel(ctx)
	cancelGone()
	if err := reader.Directory.Detach(gone, 4_500_000); err == nil {
		t.Fatal("a detach with its context over: no error")
	}
	if _, ok := reader.Directory.Cell(4_500_000); !ok {
		t.Error("a detach the bucket refused took the phone out of the copy")
	}
}

// checkCellsAgree: a node started with another number of cells than the
// cluster's is refused, with the two numbers.
func checkCellsAgree(t *testing.T, n *Node, cells int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := OpenSchema(ctx, n.Engine, cells); err != nil {
		t.Errorf("OpenSchema with the cluster's %d cells: %v", cells, err)
	}
	_, err := OpenSchema(ctx, n.Engine, cells+1)
	if !errors.Is(err, ErrCellsDisagree) || !strings.Contains(err.Error(), fmt.Sprintf("the cluster has %d cells", cells)) {
		t.Errorf("OpenSchema with %d cells: %v, want %v naming the cluster's %d", cells+1, err, ErrCellsDisagree, cells)
	}
}

func testLog(t *testing.T, name string) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel).With().Str("node", name).Logger()
}

// TestDrainingHomeHandsOverItsLeaders: the home (n1, the lowest name)
// leads the streams; draining, it hands each to another node that is up
// to date, and HandOverLeaders returns once none is left on it: a node
// stopped then leaves no stream to an election.
func TestDrainingHomeHandsOverItsLeaders(t *testing.T) {
	t.Parallel()
	ev := &events{held: map[string]map[int]uint64{}}
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, 3, ev)
	defer func() {
		for _, n := range nodes {
			n.Leave(context.Background())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ledBy := func(node string) (n int) {
		for _, s := range nodes[1].Leaders(ctx) {
			if s.Leader == node {
				n++
			}
		}
		return n
	}
	testutil.Eventually(t, 30*time.Second, "every stream led by the home, n1", func() bool {
		all := len(nodes[1].Leaders(ctx))
		return all > 0 && ledBy("n1") == all
	})
	began := time.Now()
	nodes[0].Drain()
	if err := nodes[0].HandOverLeaders(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("leaders handed over in %v", time.Since(began).Round(time.Millisecond))
	if all, n := len(nodes[1].Leaders(ctx)), ledBy("n1"); all == 0 || n != 0 {
		t.Errorf("n1 still leads %d of %d streams after handing them over", n, all)
	}
}

// TestDrainedNodeLeavesSeenDrained: a node that drains and stops at once
// (no call to wait for) is known to the others as drained once it is
// gone, not killed: they end a call it never answered busy, not dropped.
func TestDrainedNodeLeavesSeenDrained(t *testing.T) {
	t.Parallel()
	ev := &events{held: map[string]map[int]uint64{}}
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, 3, ev)
	defer func() {
		for _, n := range nodes[:2] {
			n.Leave(context.Background())
		}
	}()
	for _, n := range nodes[:2] {
		testutil.Eventually(t, 30*time.Second, n.Engine.Node+" to see n3", func() bool { return n.Members.IsLive("n3") })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes[2].Drain()
	nodes[2].Leave(ctx)
	for _, n := range nodes[:2] {
		testutil.Eventually(t, 30*time.Second, n.Engine.Node+" to see n3 gone", func() bool { return !n.Members.IsLive("n3") })
		if !n.Members.WasDraining("n3") {
			t.Errorf("%s: n3 gone, not known to have drained", n.Engine.Node)
		}
	}
}

// checkRelease: Release answers when the node stopped acting for a cell
// it held, and nothing for a cell it no longer held at that epoch (lost
// before, or released already): the caller then must not log a moment of
// its own (the partition test reads it).
func checkRelease(t *testing.T, n *Node, cells int) {
	t.Helper()
	cell, epoch := -1, uint64(0)
	testutil.Eventually(t, 30*time.Second, n.Engine.Node+" acts for a cell", func() bool {
		for c := range cells {
			if e, ok := n.Leases.Acting(c); ok {
				cell, epoch = c, e
				return true
			}
		}
		return false
	})
	if _, held := n.Leases.Release(cell, epoch+1); held {
		t.Error("Release at another epoch: held")
	}
	before := time.Now()
	until, held := n.Leases.Release(cell, epoch)
	if !held || until.Before(before) || until.After(time.Now()) {
		t.Errorf("Release of the held cell: %v, %v; want true and a moment within the call", until, held)
	}
	if e, ok := n.Leases.Acting(cell); ok && e == epoch {
		t.Errorf("still acting for cell %d at epoch %d after Release", cell, epoch)
	}
	if _, held := n.Leases.Release(cell, epoch); held {
		t.Error("Release of a cell released already: held")
	}
}

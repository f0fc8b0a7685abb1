package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Config is a node's part of the cluster configuration.
type Config struct {
	Engine   EngineConfig
	Cells    int
	Version  string
	Protocol int
	Hooks    Hooks
	// OnNodeDown is told when a member goes (true) or comes back (false).
	OnNodeDown func(node string, down bool)
	Metrics    *Metrics
	Log        zerolog.Logger
}

// Node is this process as a member of the cluster: its engine, its
// presence, its leases.
type Node struct {
	Engine    *Engine
	Schema    *Schema
	Members   *Members
	Leases    *Leases
	Directory *Directory
	Journal   *Journal

	metrics  *Metrics
	log      zerolog.Logger
	inflight forwards
	ctx      context.Context // cancelled by Leave
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu    sync.Mutex
	stops []func() // run by Leave, last first
}

// Join starts the engine, waits for JetStream (ctx bounds the wait: a node
// whose peers are unreachable keeps trying and says so), agrees with the
// cluster on the cells, and starts taking part: presence and leases.
func Join(ctx context.Context, cfg Config) (*Node, error) {
	e, err := StartEngine(cfg.Engine)
	if err != nil {
		return nil, err
	}
	if err := e.Ready(ctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("JetStream not ready: %w", err)
	}
	s, err := OpenSchema(ctx, e, cfg.Cells)
	if err != nil {
		e.Close()
		return nil, err
	}
	n := &Node{Engine: e, Schema: s, metrics: cfg.Metrics, log: cfg.Log}
	onDown := func(node string, down bool) {
		if down {
			n.inflight.down(node)
		}
		if cfg.OnNodeDown != nil {
			cfg.OnNodeDown(node, down)
		}
	}
	n.Members = newMembers(e, s.Nodes, NodeInfo{Name: e.Node, Version: cfg.Version, Protocol: cfg.Protocol, Started: time.Now(),
		Joining: true},
		onDown, cfg.Log)
	n.Members.metrics = cfg.Metrics
	n.Leases = newLeases(e, s.Cells, n.Members, cfg.Cells, cfg.Engine.expected(), cfg.Hooks, cfg.Log)
	n.Directory = newDirectory(e, s.Location, cfg.Cells, cfg.Log)
	n.Journal = NewJournal(e, JournalSize, cfg.Log)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.Directory.load(ctx); err != nil {
		n.cancel()
		e.Close()
		return nil, err
	}
	n.wg.Add(5)
	go func() {
		defer n.wg.Done()
		select {
		case <-n.Directory.Ready():
			n.Members.Joined() // it can serve cells now: place them on it
		case <-n.ctx.Done():
		}
	}()
	go func() { defer n.wg.Done(); n.steer(n.ctx) }()
	go func() { defer n.wg.Done(); n.Members.run(n.ctx) }()
	go func() { defer n.wg.Done(); n.Leases.run(n.ctx) }()
	go func() { defer n.wg.Done(); n.Directory.watch(n.ctx) }()
	return n, nil
}

// Notes are the values of the bsc-open bucket whose keys match keys (a
// subject pattern). They are read through a consumer, which the bucket's
// leader serves, not by a direct get, which any replica may answer: a
// replica behind, or cut off, would answer that there is none, and the
// calls it holds would end with no record.
func (n *Node) Notes(ctx context.Context, keys string) ([][]byte, error) {
	w, err := n.Schema.Open.WatchFiltered(ctx, []string{keys}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out [][]byte
	for {
		select {
		case e := <-w.Updates():
			if e == nil { // the values there were: all read
				return out, nil
			}
			out = append(out, e.Value())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Drain marks this node draining: its presence says so (the others place
// no cell on it) and it takes no cell; the service hands its cells to
// their preferred nodes.
func (n *Node) Drain() {
	n.Leases.SetDraining(true)
	n.Members.SetDraining(true)
}

// Draining tells whether Drain was called.
func (n *Node) Draining() bool {
	n.Leases.mu.Lock()
	defer n.Leases.mu.Unlock()
	return n.Leases.draining
}

// onStop registers fn to run when the node leaves.
func (n *Node) onStop(fn func()) {
	n.mu.Lock()
	n.stops = append(n.stops, fn)
	n.mu.Unlock()
}

func (n *Node) runStops() {
	n.mu.Lock()
	stops := n.stops
	n.stops = nil
	n.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// Leave stores what the journal holds (within flush), releases this node's
// cells (the others take them at once), stops its presence and closes the
// engine. A node that drained gives the others time to read so before its
// presence goes (what is left of flush, after the journal and the cells).
func (n *Node) Leave(flush context.Context) {
	if err := n.Journal.Close(flush); err != nil {
		n.log.Error().Err(err).Msg("leaving the cluster")
	}
	n.runStops()
	n.cancel()
	n.wg.Wait()
	n.Members.awaitDrainSeen(flush)
	ctx, cancel := context.WithTimeout(context.Background(), fenceAfter)
	_ = n.Schema.Nodes.Delete(ctx, n.Engine.Node)
	cancel()
	n.Engine.Close()
}

// crash stops the node as kill -9 would: no release, no goodbye (tests).
func (n *Node) crash() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = n.Journal.Close(ctx)
	n.runStops()
	n.cancel()
	n.Engine.Close()
	n.wg.Wait()
}

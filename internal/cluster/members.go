package cluster

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Node states, as GET /api/v1/cluster shows them.
const (
	StateUp       = "up"
	StateDown     = "down"
	StateDraining = "draining"
)

// NodeInfo is what a node says of itself in its presence key.
type NodeInfo struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Protocol int    `json:"protocol"` // the newest message version it speaks
	Draining bool   `json:"draining,omitempty"`
	// Joining: the node cannot serve a cell yet (its copy of the HLR
	// location is not read): no cell is placed on it and it takes none. A
	// node of the version before ignores it: it places cells on a joining
	// node, and takes them after 4 × acquireGrace.
	Joining  bool      `json:"joining,omitempty"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"-"` // when this node last saw the key written
}

// State is up, draining or down.
func (n NodeInfo) State(live bool) string {
	switch {
	case !live:
		return StateDown
	case n.Draining:
		return StateDraining
	}
	return StateUp
}

// Members is membership by presence: each node keeps a key of its own in
// bsc-nodes alive by rewriting it (it expires leaseTTL after the last
// write), and watches the others'. A node whose key expired is down.
type Members struct {
	e    *Engine
	kv   jetstream.KeyValue
	log  zerolog.Logger
	self NodeInfo

	// beatMu orders the beats: a beat's copy of self and its write go
	// together, so that a beat that read "not draining" is never stored
	// after one that says "draining".
	beatMu sync.Mutex

	mu      sync.Mutex
	live    map[string]NodeInfo
	known   map[string]NodeInfo // every node seen since this one started
	changed chan struct{}       // closed and replaced on every change
	seen    bool                // the first poll is done
	// drainTold is when a beat saying this node drains was first stored
	// (zero: none since SetDraining).
	drainTold time.Time
	onDown    func(node string, down bool)
	metrics   *Metrics // bsc_cluster_nodes, set at every poll
}

func newMembers(e *Engine, kv jetstream.KeyValue, self NodeInfo, onDown func(string, bool), log zerolog.Logger) *Members {
	if onDown == nil {
		onDown = func(string, bool) {}
	}
	return &Members{e: e, kv: kv, self: self, log: log, live: map[string]NodeInfo{}, known: map[string]NodeInfo{},
		changed: make(chan struct{}), onDown: onDown}
}

// beat writes this node's presence key with its TTL.
func (m *Members) beat(ctx context.Context) error {
	m.beatMu.Lock()
	defer m.beatMu.Unlock()
	m.mu.Lock()
	info := m.self
	m.mu.Unlock()
	b, _ := json.Marshal(info)
	msg := &nats.Msg{Subject: "$KV." + bucketNodes + "." + info.Name, Data: b}
	if _, err := m.e.JS.PublishMsg(ctx, msg, jetstream.WithMsgTTL(leaseTTL)); err != nil {
		return err
	}
	m.mu.Lock()
	if info.Draining && m.self.Draining && m.drainTold.IsZero() {
		m.drainTold = time.Now()
	}
	m.mu.Unlock()
	return nil
}

// Joined says in this node's presence key that it can serve cells now:
// its copy of the HLR location is read (Directory.Ready).
func (m *Members) Joined() {
	m.mu.Lock()
	m.self.Joining = false
	m.mu.Unlock()
}

// joining tells whether this node is still joining.
func (m *Members) joining() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self.Joining
}

// SetDraining marks this node draining in its presence key, written at
// once rather than at the next beat (within fenceAfter): the others place
// no cell here from their next read.
func (m *Members) SetDraining(on bool) {
	m.mu.Lock()
	if m.self.Draining != on {
		m.self.Draining = on
		m.drainTold = time.Time{}
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), fenceAfter)
	defer cancel()
	if err := m.beat(ctx); err != nil {
		m.log.Debug().Err(err).Msg("presence not written")
	}
}

// drainSeen is how long a node that drains keeps saying so before it
// leaves: several of the others' reads of presence (one per renewEvery).
// A node gone after a drain is then known to every other as drained
// (WasDraining), not killed: a call it never answered ends busy there,
// not dropped. (A drain with no call to wait for, then a stop, once left
// 40 ms between the first beat saying so and the key's deletion, which
// another node's reads missed.)
const drainSeen = 4 * renewEvery

// awaitDrainSeen waits, within ctx, until a beat saying this node drains
// was stored drainSeen ago; at once if it does not drain, or if the
// engine does not answer (nobody reads the key then). The key outlives
// the last beat by leaseTTL, so the wait may come after the beats stop.
func (m *Members) awaitDrainSeen(ctx context.Context) {
	m.mu.Lock()
	draining, told := m.self.Draining, m.drainTold
	m.mu.Unlock()
	if !draining {
		return
	}
	if told.IsZero() { // not stored yet: store it now
		bctx, cancel := context.WithTimeout(ctx, fenceAfter)
		err := m.beat(bctx)
		cancel()
		if err != nil {
			return // the engine does not answer: nobody reads it either
		}
		told = time.Now()
	}
	t := time.NewTimer(time.Until(told.Add(drainSeen)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// run beats and reads the others' presence until ctx ends.
func (m *Members) run(ctx context.Context) {
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, fenceAfter)
		if err := m.beat(bctx); err != nil && ctx.Err() == nil {
			m.log.Debug().Err(err).Msg("presence not written")
		}
		cancel()
		m.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll reads every presence key; a node is live while its key is.
func (m *Members) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, fenceAfter)
	keys, err := m.e.snapshot(pctx, bucketNodes)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			m.log.Debug().Err(err).Msg("presence not read")
		}
		return
	}
	now := time.Now()
	type change struct {
		name    string
		live    bool
		drained bool // gone after a drain
	}
	var changes []change
	m.mu.Lock()
	for name, v := range keys {
		var info NodeInfo
		if json.Unmarshal(v.Value, &info) == nil && info.Name == name {
			info.LastSeen = v.Written
			m.known[name] = info
			if v.live(now) {
				_, wasLive := m.live[name]
				m.live[name] = info
				if !wasLive {
					changes = append(changes, change{name: name, live: true})
				}
			}
		}
	}
	for name := range m.live {
		if v, ok := keys[name]; !ok || !v.live(now) {
			delete(m.live, name)
			changes = append(changes, change{name: name, drained: m.known[name].Draining})
		}
	}
	if len(changes) > 0 {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	seen := m.seen
	m.seen = true
	var up, draining int
	for _, info := range m.live {
		if info.Draining {
			draining++
		} else {
			up++
		}
	}
	m.metrics.SetNodes(up, draining, len(m.known)-up-draining)
	m.mu.Unlock()
	for _, c := range changes {
		if c.live {
			m.log.Info().Str("node", c.name).Msg("node up")
		} else {
			m.log.Warn().Str("node", c.name).Bool("drained", c.drained).Msg("node down")
		}
		if seen || !c.live {
			m.onDown(c.name, !c.live)
		}
	}
}

// WasDraining tells whether node was draining when last seen: gone, it
// stopped after a drain, not killed or cut off in service.
func (m *Members) WasDraining(node string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.known[node].Draining
}

// IsLive tells whether node is up or draining.
func (m *Members) IsLive(node string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.live[node]
	return ok
}

// Live is the names of the nodes up or draining, sorted.
func (m *Members) Live() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.live))
	for n := range m.live {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Serving is the live nodes that are neither draining nor joining,
// sorted: those that can serve a cell now, which cells are placed on.
// This node's own state is the one it knows, not the one it last read
// back.
func (m *Members) Serving() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.live))
	for n, info := range m.live {
		if n == m.self.Name {
			info = m.self
		}
		if !info.Draining && !info.Joining {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Protocol is the newest message version every live node speaks, at
// most mine: what this node may write.
func (m *Members) Protocol(mine int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, info := range m.live {
		mine = min(mine, max(info.Protocol, 1))
	}
	return mine
}

// Nodes is every node seen, with whether it is live.
func (m *Members) Nodes() (nodes []NodeInfo, live map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live = map[string]bool{}
	for n, info := range m.known {
		if l, ok := m.live[n]; ok {
			info = l
			live[n] = true
		}
		nodes = append(nodes, info)
	}
	slices.SortFunc(nodes, func(a, b NodeInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return nodes, live
}

// Changed is closed at the next change of the live set.
func (m *Members) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

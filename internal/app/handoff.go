package app

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// Handing a cell to another node (docs/cluster.md, Takeover and drain).
// When a cell's preferred node is back (it has served a while), or this
// node is draining, the cell's owner stops admitting new calls and
// phones in it (503 overloaded, Retry-After), lets the calls in progress
// end, for --handoff-timeout at most, then stops the cell (what is left
// ends dropped, recorded) and releases the lease, which the preferred
// node takes at once.

var errHandingOff = errcode.New(errcode.Overloaded, "the cell is being handed to another node; try again")

// errCalleeUnowned: the callee's cell is between owners (moving, or its
// node failed); a call to it now would end dropped, so it is not begun.
var errCalleeUnowned = errcode.New(errcode.Unavailable, "the callee's cell has no owner now (moving or failing over); try again")

// handbackAfter is how long a node must have been serving before cells
// are handed back to it: one that comes and goes is not given cells.
const handbackAfter = 2 * time.Second

// handOffPoll is how often a cell handing off looks for calls still going.
const handOffPoll = 50 * time.Millisecond

// handOffs starts handing off the running cells whose preferred node is
// another (the applier's; serving is when each serving node was first
// seen so, kept by the applier).
func (n *clusterNode) handOffs(serving map[string]time.Time) {
	node := n.node.Load()
	if node == nil {
		return
	}
	now := time.Now()
	live := node.Members.Serving()
	for name := range serving {
		if !slices.Contains(live, name) {
			delete(serving, name)
		}
	}
	for _, name := range live {
		if _, ok := serving[name]; !ok {
			serving[name] = now
		}
	}
	draining := node.Draining()
	pref := node.Leases.Preferred()
	for id, c := range n.running {
		to := pref[id]
		if c.handingOff.Load() || to == "" || to == n.Node() {
			continue
		}
		if !draining && now.Sub(serving[to]) < handbackAfter {
			continue
		}
		if !node.Leases.HandOff(id, c.epoch) {
			continue
		}
		c.handingOff.Store(true)
		if p, err := c.phoneSet(); err == nil {
			p.Close()
		}
		n.a.log.Info().Int("cell", id).Uint64("epoch", c.epoch).Str("to", to).Bool("draining", draining).
			Msg("cell handing off")
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.awaitCalls(c)
		}()
	}
}

// awaitCalls waits until c has no call going, or the handoff timeout,
// then asks the applier to give c up.
func (n *clusterNode) awaitCalls(c *cell) {
	deadline := time.Now().Add(n.a.cfg.HandoffTimeout)
	if by, ok := n.drainBy.Load().(time.Time); ok && by.Before(deadline) {
		deadline = by
	}
	t := time.NewTicker(handOffPoll)
	defer t.Stop()
	for time.Now().Before(deadline) {
		p, err := c.phoneSet()
		if err != nil || p.Busy() == 0 {
			break
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
	n.mu.Lock()
	n.giveUp[c.id] = c.epoch
	n.mu.Unlock()
	n.signal()
}

// giveUpCells stops the cells whose handoff is ready and releases their
// leases (the applier's).
func (n *clusterNode) giveUpCells() {
	n.mu.Lock()
	ready := n.giveUp
	n.giveUp = map[int]uint64{}
	n.mu.Unlock()
	node := n.node.Load()
	dropped := map[int]int{} // the cells stopped, and the calls each dropped
	for id, epoch := range ready {
		c, ok := n.running[id]
		if !ok || c.epoch != epoch {
			continue
		}
		dropped[id] = 0
		if p, err := c.phoneSet(); err == nil {
			dropped[id] = p.Busy()
		}
		n.stopCell(n.ctx, id, c)
	}
	if len(dropped) == 0 {
		return
	}
	// The records of the cells' calls, and the removal of their notes, are
	// stored before the next owners read the notes left: a note read before
	// its record was stored would be recorded dropped, and the call's true
	// record refused as a duplicate of that.
	fctx, cancel := context.WithTimeout(n.ctx, flushBeforeRelease)
	if err := node.Journal.Flush(fctx); err != nil {
		n.a.log.Warn().Err(err).Ints("cells", slices.Sorted(maps.Keys(dropped))).
			Msg("records of the cells handed off not all stored in time; releasing them anyway")
	}
	cancel()
	for id, busy := range dropped {
		// Past Release this node no longer acts for the cell (even when the
		// lease could not be deleted, cut off: then it expires). A lease lost
		// while the records were flushed (cut off) was logged "cell lost"
		// with the moment it stopped acting; the later one here would be
		// false.
		until, held := node.Leases.Release(id, ready[id])
		if !held {
			continue
		}
		n.a.log.Info().Int("cell", id).Uint64("epoch", ready[id]).Int("calls_dropped", busy).
			Int64("acting_until_unix_ns", until.UnixNano()).Msg("cell handed off")
	}
}

// flushBeforeRelease bounds the wait for a handed-off cell's records.
const flushBeforeRelease = 5 * time.Second

// handingOff tells whether cell's owner, here or elsewhere, is handing it
// off.
func (n *clusterNode) handingOff(cell int) bool {
	node := n.node.Load()
	return node != nil && node.Leases.HandingOff(cell)
}

// drain hands every cell of this node to the others and waits until the
// node owns none, or ctx ends (the calls then still going in a cell end
// dropped when it stops, recorded), then hands them the stream leaders it
// holds: the first step of a graceful stop in cluster mode.
func (n *clusterNode) drain(ctx context.Context) error {
	if deadline, ok := ctx.Deadline(); ok {
		n.drainBy.Store(deadline)
	}
	if err := n.startDrain(); err != nil {
		return err
	}
	t := time.NewTicker(handOffPoll)
	defer t.Stop()
	for n.owned.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return n.node.Load().HandOverLeaders(ctx)
}

// startDrain marks the node draining (no cell is placed on it any more)
// and wakes the applier, which hands its cells off.
func (n *clusterNode) startDrain() error {
	node := n.node.Load()
	if node == nil {
		return errNotJoined
	}
	node.Drain()
	n.a.log.Info().Msg("draining: handing every cell to the other nodes")
	n.signal()
	return nil
}

// drainNode is the drain route's: nil for a single node. The route
// answers once the node's presence says it drains (a write, within
// 700 ms); the cells move over the next seconds.
func (a *App) drainNode() func() error {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.startDrain
}

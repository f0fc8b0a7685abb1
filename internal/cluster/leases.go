package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Owner is who owns a cell, as this node last saw: the node and the epoch
// of its ownership (the revision of the lease key when it was taken; it
// grows at every change of owner). No node: unowned.
type Owner struct {
	Node  string `json:"node"`
	Epoch uint64 `json:"epoch"`
}

// Hooks tell the node's service when it starts and stops acting for a
// cell. They run on the lease goroutine and must return quickly.
type Hooks struct {
	// Gained: this node took cell at epoch; from is the owner it had last
	// (none: the cell is new to the cluster).
	Gained func(cell int, epoch uint64, from Owner)
	// Lost: this node no longer acts for cell.
	Lost func(cell int, epoch uint64, why string)
	// Moved: the cell's owner changed, as the watch saw (now may be none).
	Moved func(cell int, now Owner)
}

// Leases is this node's part in who owns which cell. A cell's owner holds
// a key in bsc-cells that it rewrites every renewEvery with a TTL; the
// value names the node and the epoch. Taking a cell is creating its key
// (only one node can); losing it is failing to rewrite it in time (then
// the node stops acting for it at once: Acting), or seeing it taken.
type Leases struct {
	e       *Engine
	kv      jetstream.KeyValue
	members *Members
	cells   int
	expect  int // nodes expected at start
	start   time.Time
	formed  bool // every expected node was seen live once: startGrace is over
	hooks   Hooks
	log     zerolog.Logger
	// publish writes a lease key without waiting for its answer (the
	// engine's; a test's fake).
	publish func(*nats.Msg, ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)

	mu       sync.Mutex
	owners   []Owner     // the view from the watch
	last     []Owner     // the last owner each cell had
	unowned  []time.Time // since when each cell has had no owner
	seen     []seenRev   // per cell, its key as the polls read it, and since when
	held     map[int]*held
	handing  []bool // the view: cells whose owner is handing them off
	draining bool
}

// held is a lease this node holds.
type held struct {
	epoch      uint64
	rev        uint64    // the key's revision, for the next rewrite
	renewedAt  time.Time // when the last rewrite that worked was sent
	handingOff bool      // written into the key at every renewal
}

// acquireGrace is how long a cell with no owner waits for its preferred
// node before any live node may take it (the preferred one may be dead
// and not yet seen so).
const acquireGrace = 1500 * time.Millisecond

// startGrace is how long a starting node waits for the nodes it expects
// before taking cells, so that a cluster starting together places its
// cells over all its nodes, not over the first two up.
const startGrace = 10 * time.Second

func newLeases(e *Engine, kv jetstream.KeyValue, m *Members, cells, expect int, hooks Hooks, log zerolog.Logger) *Leases {
	l := &Leases{e: e, kv: kv, members: m, cells: cells, expect: expect, start: time.Now(), hooks: hooks, log: log,
		owners: make([]Owner, cells), last: make([]Owner, cells), unowned: make([]time.Time, cells), seen: make([]seenRev, cells), held: map[int]*held{}}
	if e.JS != nil {
		l.publish = e.JS.PublishMsgAsync
	}
	if l.hooks.Gained == nil {
		l.hooks.Gained = func(int, uint64, Owner) {}
	}
	if l.hooks.Lost == nil {
		l.hooks.Lost = func(int, uint64, string) {}
	}
	if l.hooks.Moved == nil {
		l.hooks.Moved = func(int, Owner) {}
	}
	now := time.Now()
	for c := range l.unowned {
		l.unowned[c] = now
	}
	return l
}

type leaseValue struct {
	Node  string `json:"node"`
	Epoch uint64 `json:"epoch,omitempty"` // 0 in the creating write: the epoch is its revision
	// HandingOff: the owner is giving the cell to its preferred node and
	// admits no new call in it (every node reads it, to refuse calls to
	// the cell's phones too).
	HandingOff bool `json:"handing_off,omitempty"`
}

func cellKey(c int) string { return "cell." + strconv.Itoa(c) }

// Acting tells whether this node acts for cell now, and its epoch: it
// holds the lease and renewed it less than fenceAfter ago. Everything done
// for a cell asks this first, so that a node cut off stops acting before
// its lease can expire elsewhere.
func (l *Leases) Acting(cell int) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[cell]
	if h == nil || time.Since(h.renewedAt) >= fenceAfter {
		return 0, false
	}
	return h.epoch, true
}

// HadOwner tells whether cell has had an owner since this node started
// watching.
func (l *Leases) HadOwner(cell int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[cell].Node != ""
}

// Owners is the owner of every cell, as this node last saw.
func (l *Leases) Owners() []Owner {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Owner(nil), l.owners...)
}

// OwnerOf is the owner of cell.
func (l *Leases) OwnerOf(cell int) Owner {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.owners[cell]
}

// HandingOff tells whether cell's owner is handing it off, as this node
// last saw (its own cells: as it does).
func (l *Leases) HandingOff(cell int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.held[cell]; h != nil {
		return h.handingOff
	}
	return l.handing != nil && l.handing[cell]
}

// Preferred is each cell's preferred node now: the placement over the
// live nodes that are not draining.
func (l *Leases) Preferred() []string {
	return Placement(l.cells, l.members.Serving())
}

// HandOff marks a held cell as being handed off (written at the next
// renewal): false if this node does not hold it at epoch.
func (l *Leases) HandOff(cell int, epoch uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[cell]
	if h == nil || h.epoch != epoch {
		return false
	}
	h.handingOff = true
	return true
}

// Release gives up a held cell at once, deleting its key (if it is still
// at the revision this node wrote), so that its preferred node takes it
// without waiting for the key to expire. It returns when this node stopped
// acting for the cell (Acting false from then), and false if it no longer
// held the cell at epoch: the lease was lost before, and logged so.
func (l *Leases) Release(cell int, epoch uint64) (time.Time, bool) {
	l.mu.Lock()
	h := l.held[cell]
	if h == nil || h.epoch != epoch {
		l.mu.Unlock()
		return time.Time{}, false
	}
	delete(l.held, cell)
	until := time.Now()
	l.mu.Unlock()
	l.release(cell, h, "handed off")
	return until, true
}

// SetDraining stops this node from taking cells (they are placed on the
// others, and its own handed to them): a drain.
func (l *Leases) SetDraining(on bool) {
	l.mu.Lock()
	l.draining = on
	l.mu.Unlock()
}

// run renews, takes and gives up leases until ctx ends, then releases the
// ones it holds so that other nodes take them at once.
func (l *Leases) run(ctx context.Context) {
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for {
		l.renew(ctx)
		l.poll(ctx)
		l.acquire(ctx)
		select {
		case <-ctx.Done():
			l.releaseAll()
			return
		case <-t.C:
		case <-l.members.Changed():
		}
	}
}

// renew rewrites every held lease, at once, and drops those it lost.
func (l *Leases) renew(ctx context.Context) {
	l.mu.Lock()
	var ws []leaseWrite
	for c, h := range l.held {
		ws = append(ws, l.send(claim{cell: c, expect: h.rev}, leaseValue{Node: l.e.Node, Epoch: h.epoch, HandingOff: h.handingOff}))
	}
	l.mu.Unlock()
	awaitWrites(ctx, ws, func(w leaseWrite, rev uint64, err error) {
		if err == nil {
			l.renewed(w.cell, w.v.Epoch, rev, w.sent)
			return
		}
		l.renewFailed(w.cell, w.v.Epoch, err)
	})
}

// awaitWrites hands fn each write's answer, in order: its stored
// revision, or why it was not stored. The writes were sent together and
// share one bound, fenceAfter/2. False: ctx ended first, and the answers
// left were not handed over.
func awaitWrites(ctx context.Context, ws []leaseWrite, fn func(w leaseWrite, rev uint64, err error)) bool {
	acks := newAckWait(fenceAfter / 2)
	defer acks.stop()
	for _, w := range ws {
		rev, err := w.wait(ctx, acks)
		if ctx.Err() != nil {
			return false
		}
		fn(w, rev, err)
	}
	return true
}

// ackWait waits for the answers to publishes sent together, with one
// bound for all of them: once it has passed, an answer not yet in counts
// as none.
type ackWait struct {
	timer   *time.Timer
	expired bool
}

// errNoAnswer is a publish not answered within its bound.
var errNoAnswer = errors.New("no answer")

func newAckWait(bound time.Duration) *ackWait { return &ackWait{timer: time.NewTimer(bound)} }

func (w *ackWait) stop() { w.timer.Stop() }

// wait returns f's answer, or errNoAnswer once the bound has passed, or
// ctx's error.
func (w *ackWait) wait(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	if !w.expired {
		select {
		case a := <-f.Ok():
			return a, nil
		case err := <-f.Err():
			return nil, err
		case <-w.timer.C:
			w.expired = true
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case a := <-f.Ok():
		return a, nil
	case err := <-f.Err():
		return nil, err
	default:
		return nil, errNoAnswer
	}
}

func (l *Leases) renewed(cell int, epoch, rev uint64, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.held[cell]; h != nil && h.epoch == epoch {
		h.rev, h.renewedAt = rev, sent
	}
}

// renewFailed drops a lease that another node has now (the rewrite found
// another revision), or that could not be renewed for fenceAfter.
func (l *Leases) renewFailed(cell int, epoch uint64, err error) {
	if isWrongRevision(err) && l.renewedLate(cell, epoch) {
		return
	}
	var why string
	var until time.Time
	l.mu.Lock()
	h := l.held[cell]
	if h != nil {
		until = h.renewedAt.Add(fenceAfter)
	}
	switch {
	case h == nil || h.epoch != epoch:
	case isWrongRevision(err):
		why = "taken by another node"
	case time.Since(h.renewedAt) >= fenceAfter:
		why = "not renewed in time: " + err.Error()
	}
	if why != "" {
		delete(l.held, cell)
	}
	l.mu.Unlock()
	if why != "" {
		// acting_until: when Acting turned false, which the partition
		// test compares with the next owner's acting_from.
		l.log.Warn().Int("cell", cell).Uint64("epoch", epoch).Str("why", why).
			Int64("acting_until_unix_ns", until.UnixNano()).Msg("cell lost")
		l.hooks.Lost(cell, epoch, why)
	}
}

// renewedLate tells whether the lease of cell is still ours at epoch: a
// renewal that timed out may have been stored all the same, after which
// the next one, expecting the revision before it, is refused as if
// another node had written. The key then still names this node and epoch
// (a node that takes a cell writes its own name and a new epoch), and its
// revision becomes the one to expect. The time of the last renewal known
// to be stored is kept: the fence does not move.
func (l *Leases) renewedLate(cell int, epoch uint64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), fenceAfter/2)
	e, err := l.kv.Get(ctx, cellKey(cell))
	cancel()
	if err != nil {
		return false
	}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) != nil || v.Node != l.e.Node || v.Epoch != epoch {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[cell]
	if h == nil || h.epoch != epoch {
		return false
	}
	h.rev = e.Revision()
	return true
}

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// acquire takes the cells with no owner that this node should have: those
// placed on it at once, any other after acquireGrace.
func (l *Leases) acquire(ctx context.Context) {
	live := l.members.Live()
	if !slices.Contains(live, l.e.Node) {
		return // not yet seen live by itself: its presence is not written
	}
	if l.members.joining() {
		// It could not serve a cell it took: a node restarted as another
		// died held the dead node's cells for 9 s, its watch of the HLR
		// location waiting for an engine election, while a node able to
		// serve them waited (bench/cluster).
		return
	}
	// Cells are placed over the serving nodes, as handoffs are
	// (Preferred): a joining node is placed nothing. A cluster starting
	// together waits until every node it expects has joined (startGrace
	// at most), or the first node to join would take every cell, to hand
	// them back seconds later.
	serving := l.members.Serving()
	if len(serving) >= l.expect {
		l.formed = true
	}
	if !l.formed && time.Since(l.start) < startGrace {
		return // the cluster is still starting
	}
	place := Placement(l.cells, serving)
	l.mu.Lock()
	var want []claim
	for c := range l.cells {
		if l.owners[c].Node != "" || l.held[c] != nil || l.draining {
			continue
		}
		// A cell waits for its preferred node; for acquireGrace if that
		// node is not live (it may be dead and not yet seen so), longer if
		// it is (it may be slow to take it; then any node does).
		waited := time.Since(l.unowned[c])
		if place[c] == l.e.Node || waited > acquireGrace && !slices.Contains(live, place[c]) || waited > 4*acquireGrace {
			want = append(want, claim{cell: c, from: l.last[c], expect: l.seen[c].expect(time.Now())})
		}
	}
	l.mu.Unlock()
	l.take(ctx, want)
}

// seenRev is a lease key as the polls read it: its last revision, since
// when they have read that one, and whether it deletes the key.
type seenRev struct {
	rev     uint64
	since   time.Time
	present bool
	deleted bool
}

// read is s after a poll that read v at now (ok: the key is there).
func (s seenRev) read(v kvValue, ok bool, now time.Time) seenRev {
	if !ok {
		return seenRev{}
	}
	if v.Rev != s.rev {
		s = seenRev{rev: v.Rev, since: now}
	}
	s.present, s.deleted = true, v.Deleted
	return s
}

// expect is the revision a take of the key must expect at now: none (0),
// a deletion's, or a value's read at one revision for leaseTTL. A new
// leader writes the markers of the keys that expired while there was none
// about 2 s after its election (nats-server proposes a key's removal at
// most once per 2 s, and the dead leader's proposals were lost): every
// cell of a dead home waited for them. The owner stopped acting
// fenceAfter after it sent that revision, which was before it was stored,
// before it was first read here: no clock of another node is read, and
// the 300 ms the TTL leaves over the fence are left too. Any other value
// is there: 0, which it refuses.
func (s seenRev) expect(now time.Time) uint64 {
	if s.present && (s.deleted || now.Sub(s.since) >= leaseTTL) {
		return s.rev
	}
	return 0
}

// claim is a lease write to make: the cell, its last owner, and the
// revision its key must still have (0: no key).
type claim struct {
	cell   int
	from   Owner
	expect uint64
}

// take tries to create the lease keys of cells, all at once, with one
// bound for the answers (taken one by one, a pass over a dozen cells took
// seconds while the bucket elected a leader, each try waiting out its own
// bound, and the cells placed on this node waited behind those that were
// not). A key is written only if its last revision is still the one the
// last poll read (a deletion, a marker, a stale value; none): at most one
// node succeeds, as with a KV create. The cells written are then
// confirmed before this node acts for them.
func (l *Leases) take(ctx context.Context, claims []claim) {
	tries := make([]leaseWrite, 0, len(claims))
	for _, c := range claims {
		tries = append(tries, l.send(c, leaseValue{Node: l.e.Node}))
	}
	var won []claim
	answered := awaitWrites(ctx, tries, func(t leaseWrite, rev uint64, err error) {
		if err != nil {
			l.log.Debug().Err(err).Int("cell", t.cell).Uint64("expected", t.expect).Msg("cell not taken")
			if !isWrongRevision(err) {
				l.mu.Lock()
				// No node could take it meanwhile (the bucket had no
				// leader, say): its preferred node gets its whole grace
				// once the engine answers again, rather than every node
				// racing for every cell the moment it does.
				l.unowned[t.cell] = time.Now()
				l.mu.Unlock()
			}
			return
		}
		t.expect = rev // the epoch, and the revision the confirmation expects
		won = append(won, t.claim)
	})
	if answered {
		l.confirm(ctx, won)
	}
}

// confirm writes each cell just taken once more, expecting the revision
// that took it, and acts for those whose write is stored: Acting is true
// from the confirmation's sending. A bucket's new leader may still write
// the expiry marker of the value a take replaced, proposed before the
// take was stored (nats-server's markers expect no revision): a lease
// wiped so, acted for, could be taken by another node at once, two owners
// at a time. The marker is ordered before the confirmation, which it then
// fails: the cell is left, not acted for.
func (l *Leases) confirm(ctx context.Context, taken []claim) {
	writes := make([]leaseWrite, 0, len(taken))
	for _, c := range taken {
		writes = append(writes, l.send(c, leaseValue{Node: l.e.Node, Epoch: c.expect}))
	}
	awaitWrites(ctx, writes, func(w leaseWrite, rev uint64, err error) {
		epoch := w.v.Epoch
		if err != nil {
			l.log.Debug().Err(err).Int("cell", w.cell).Uint64("epoch", epoch).Msg("cell not taken: its lease was not confirmed")
			return
		}
		l.mu.Lock()
		l.held[w.cell] = &held{epoch: epoch, rev: rev, renewedAt: w.sent}
		l.owners[w.cell] = Owner{Node: l.e.Node, Epoch: epoch}
		l.last[w.cell] = l.owners[w.cell]
		acting := time.Now() // Acting is true from here
		l.mu.Unlock()
		l.log.Info().Int("cell", w.cell).Uint64("epoch", epoch).Str("from", w.from.Node).
			Int64("acting_from_unix_ns", acting.UnixNano()).Msg("cell taken")
		l.hooks.Gained(w.cell, epoch, w.from)
		l.hooks.Moved(w.cell, Owner{Node: l.e.Node, Epoch: epoch})
	})
}

// leaseWrite is a lease key's write sent, its answer awaited.
type leaseWrite struct {
	claim
	v    leaseValue // what was written
	sent time.Time
	ack  jetstream.PubAckFuture
	err  error
}

// send writes v into c's key if its last revision is c.expect.
func (l *Leases) send(c claim, v leaseValue) leaseWrite {
	w := leaseWrite{claim: c, v: v, sent: time.Now()}
	w.ack, w.err = l.write(c.cell, v, c.expect)
	return w
}

// wait is the write's stored revision, or why it was not stored.
func (w leaseWrite) wait(ctx context.Context, acks *ackWait) (uint64, error) {
	if w.err != nil {
		return 0, w.err
	}
	a, err := acks.wait(ctx, w.ack)
	if err != nil {
		return 0, err
	}
	return a.Sequence, nil
}

// write publishes v into cell's key, with the lease's TTL, if the key's
// last revision is expect. It is not published again on "no responders"
// (the client library's default): an answer later than the caller's bound
// would then store a lease the node no longer waits for; the next pass
// writes again, from what it reads then.
func (l *Leases) write(cell int, v leaseValue, expect uint64) (jetstream.PubAckFuture, error) {
	b, _ := json.Marshal(v)
	return l.publish(&nats.Msg{Subject: "$KV." + bucketCells + "." + cellKey(cell), Data: b},
		jetstream.WithExpectLastSequencePerSubject(expect), jetstream.WithMsgTTL(leaseTTL), jetstream.WithRetryAttempts(0))
}

// poll reads the lease keys into the owners view.
func (l *Leases) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, fenceAfter)
	keys, err := l.e.snapshot(pctx, bucketCells)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			l.log.Debug().Err(err).Msg("cell owners not read")
		}
		return
	}
	now := time.Now()
	type moved struct {
		cell int
		now  Owner
		lost *held
	}
	var changes []moved
	l.mu.Lock()
	if l.handing == nil {
		l.handing = make([]bool, l.cells)
	}
	for c := range l.cells {
		var o Owner
		l.handing[c] = false
		v, ok := keys[cellKey(c)]
		l.seen[c] = l.seen[c].read(v, ok, now)
		if ok && v.live(now) {
			var lv leaseValue
			if json.Unmarshal(v.Value, &lv) == nil {
				o = Owner{Node: lv.Node, Epoch: lv.Epoch}
				l.handing[c] = lv.HandingOff
				if o.Epoch == 0 {
					o.Epoch = v.Rev
				}
			}
		}
		if h := l.held[c]; h != nil && o.Node == "" {
			o = Owner{Node: l.e.Node, Epoch: h.epoch} // ours: renewed since this read was sent
		}
		if o == l.owners[c] {
			continue
		}
		ch := moved{cell: c, now: o}
		if o.Node == "" {
			l.unowned[c] = now
		} else {
			l.last[c] = o
		}
		if h := l.held[c]; h != nil && (o.Node != l.e.Node || o.Epoch != h.epoch) {
			ch.lost = h
			delete(l.held, c)
		}
		l.owners[c] = o
		changes = append(changes, ch)
	}
	l.mu.Unlock()
	for _, ch := range changes {
		if ch.lost != nil {
			l.log.Warn().Int("cell", ch.cell).Uint64("epoch", ch.lost.epoch).Msg("cell lost: another node owns it")
			l.hooks.Lost(ch.cell, ch.lost.epoch, "another node owns it")
		}
		l.hooks.Moved(ch.cell, ch.now)
	}
}

// releaseAll deletes the held leases' keys (their revisions must still be
// ours), so that other nodes take the cells without waiting for expiry.
func (l *Leases) releaseAll() {
	l.mu.Lock()
	mine := l.held
	l.held = map[int]*held{}
	l.mu.Unlock()
	for c, h := range mine {
		l.release(c, h, "released")
	}
}

// release tells the node it no longer acts for c, then deletes c's key.
func (l *Leases) release(c int, h *held, why string) {
	l.hooks.Lost(c, h.epoch, why)
	ctx, cancel := context.WithTimeout(context.Background(), fenceAfter)
	err := l.kv.Delete(ctx, cellKey(c), jetstream.LastRevision(h.rev))
	cancel()
	if err != nil {
		l.log.Warn().Err(err).Int("cell", c).Msg("cell lease not released; it will expire")
	}
}

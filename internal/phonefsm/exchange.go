package phonefsm

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/sup"
)

// The exchange connects the phone sets of a node's cells with one another
// and, through a Network, with phones in cells other nodes own (cluster
// mode). A phone in a cell of this node is reached by pointer, as in a
// single node; one elsewhere by an Envelope the network carries without
// waiting (a controller never blocks on a remote one). A single node has no
// exchange: its one phone set reaches its phones directly.

// Network is what the exchange needs of the cluster.
type Network interface {
	// Locate is the cell of attached phone m from the node's copy of the
	// HLR location; it never waits.
	Locate(m hlr.MSISDN) (cell int, ok bool)
	// CellOwner is cell's owner and its epoch as this node last saw, ""
	// and 0 when the cell has none (or its owner is down).
	CellOwner(cell int) (node string, epoch uint64)
	// Send carries env without waiting to the node it names (an ack's
	// AckNode, else To's node), else to the owner of env.To.Cell; false
	// when it cannot (no node to send to, the connection is down).
	Send(env Envelope) bool
	// Protocol is the newest envelope version every live node speaks:
	// the version this node writes.
	Protocol() int
	// Transit is told how long a version 2 event took from its sender.
	Transit(d time.Duration)
}

// Envelope is an event between controllers on different nodes, as the
// network carries it (JSON; unknown fields are ignored, V says the
// version). Kind is an event (inbound, accept, reject, busy, hangup), a
// bounce (peer_full, peer_gone, peer_unreachable: the event to From could
// not be delivered, told to To, its sender), or "ack": the events carrying
// the action ack Ack were handled, and Err says if the records written
// for it are not known to be committed.
type Envelope struct {
	V       int    `json:"v"`
	Kind    string `json:"kind"`
	From    Addr   `json:"from"`
	To      Addr   `json:"to"`
	Dropped bool   `json:"dropped,omitempty"`
	Ack     uint64 `json:"ack,omitempty"`
	// AckNode is the node holding Ack. The ack goes back to it, not to
	// whoever owns the sender's cell by then: a cell handed off while an
	// action waits moves, the action's wait does not. Unknown to a node
	// of an older build, which routes its acks by cell as before.
	AckNode string `json:"ack_node,omitempty"`
	Err     string `json:"err,omitempty"`
	// SentAt (version 2): when the sender sent it, unix nanoseconds.
	SentAt int64 `json:"sent_at,omitempty"`
}

// Envelope versions. Version 2 adds SentAt; a node writes it only once
// every live node speaks it (Network.Protocol), and reads both.
const (
	EnvelopeV1 = 1
	EnvelopeV2 = 2
)

// Addr is a Ref on the wire.
type Addr struct {
	MSISDN hlr.MSISDN `json:"msisdn"`
	Inc    uint32     `json:"inc,omitempty"`
	Cell   int32      `json:"cell"`
	Epoch  uint64     `json:"epoch"`
	// Node owns Cell at Epoch: an answer goes there, not to whoever the
	// answering node thinks owns the cell, a view that may be behind by a
	// move. Unknown to an older build, which routes by its view as before.
	Node string `json:"node,omitempty"`
}

// AckFor is the node an ack goes to, which holds the action it ends; ""
// for any other envelope, or an ack routed by cell (an older build's).
func (e Envelope) AckFor() string {
	if e.Kind == kindAck {
		return e.AckNode
	}
	return ""
}

// Dest is the node env goes to: an ack's, else the node of its
// addressee's cell at the epoch named; "" when the envelope names none
// (an older build's, or a first event to a phone found through the HLR:
// the owner of the cell as the sender sees it).
func (e Envelope) Dest() string {
	if n := e.AckFor(); n != "" {
		return n
	}
	return e.To.Node
}

func addrOf(r Ref) Addr {
	return Addr{MSISDN: r.MSISDN, Inc: r.Inc, Cell: r.Cell, Epoch: r.Epoch, Node: r.Node}
}

func (a Addr) ref() Ref {
	return Ref{MSISDN: a.MSISDN, Inc: a.Inc, Cell: a.Cell, Epoch: a.Epoch, Node: a.Node}
}

const kindAck = "ack"

// wireInputs are the inputs an envelope may carry, by kind.
var wireInputs = func() map[string]input {
	m := map[string]input{}
	for _, in := range []input{evInbound, evAccept, evReject, evBusy, evHangup, evPeerFull, evPeerGone, evPeerUnreachable} {
		m[in.String()] = in
	}
	return m
}()

// ackTimeout bounds how long an action waits for another node to say that
// the events it sent there were handled: past it the action is answered
// as not committed (the node may be gone; its cells' calls end dropped).
const ackTimeout = 5 * time.Second

// errAckLost: the node an action's events went to did not say in time
// whether they were handled (and their records committed): unavailable,
// 503, to be tried again.
var errAckLost = errcode.New(errcode.Unavailable, "the node of the peer did not confirm the call's end in time")

// Exchange is a node's switch between its cells' phone sets and the
// network.
type Exchange struct {
	node string // this node's name, which its acks name
	rt   *sup.Runtime[message]
	net  Network
	log  zerolog.Logger

	mu    sync.RWMutex
	cells map[int32]*Phones

	acksMu  sync.Mutex
	nextAck uint64
	acks    map[uint64]*remoteHold // actions waiting on other nodes

	wg sync.WaitGroup // the proxies waiting for their records
}

// remoteHold is an ack held by an event sent to another node.
type remoteHold struct {
	a     *ack
	timer *time.Timer
}

// NewExchange makes the exchange of node on net.
func NewExchange(node string, net Network, metrics *Metrics, log zerolog.Logger) *Exchange {
	return &Exchange{node: node, net: net, log: log, cells: map[int32]*Phones{}, acks: map[uint64]*remoteHold{},
		rt: sup.NewRuntime[message](sup.RuntimeConfig{OnDepth: metrics.mailbox})}
}

// nodeName is the node's name, "" for a single node (no exchange).
func (x *Exchange) nodeName() string {
	if x == nil {
		return ""
	}
	return x.node
}

// add makes p the phone set of its cell; remove forgets it (if still p).
func (x *Exchange) add(p *Phones) {
	x.mu.Lock()
	x.cells[p.cell] = p
	x.mu.Unlock()
}

// Remove forgets p, the phone set of a cell this node stopped running.
func (x *Exchange) Remove(p *Phones) {
	x.mu.Lock()
	if x.cells[p.cell] == p {
		delete(x.cells, p.cell)
	}
	x.mu.Unlock()
}

func (x *Exchange) phones(cell int32) *Phones {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.cells[cell]
}

// resolve finds phone m in another cell: by pointer in a cell of this
// node, else by address in its cell's owner.
func (x *Exchange) resolve(m hlr.MSISDN) (Ref, bool) {
	cell, ok := x.net.Locate(m)
	if !ok {
		return Ref{}, false
	}
	if p := x.phones(int32(cell)); p != nil {
		if c, ok := p.reg.Lookup(m); ok {
			return c.Ref(), true
		}
	}
	node, epoch := x.net.CellOwner(cell)
	return Ref{MSISDN: m, Cell: int32(cell), Epoch: epoch, Node: node}, true
}

// send carries m to a controller on another node. A new call to a cell
// with no owner this moment (moving, or failing over) finds the callee
// busy, as one to a cell whose phones are being restored does: the call
// was never set up, nothing of it is lost.
func (x *Exchange) send(to Ref, m message) delivery {
	if to.Epoch == 0 && m.kind == evInbound {
		return peerFull
	}
	env := x.envelope(m.kind.String(), addrOf(m.from), addrOf(to))
	env.Dropped = m.dropped
	if m.ack != nil {
		env.Ack, env.AckNode = x.hold(m.ack), x.node
	}
	if to.Epoch == 0 || !x.net.Send(env) {
		if env.Ack != 0 {
			x.release(env.Ack, nil)
		}
		return peerUnreachable
	}
	return delivered
}

// envelope is an envelope of kind in the version the cluster speaks.
func (x *Exchange) envelope(kind string, from, to Addr) Envelope {
	env := Envelope{V: x.net.Protocol(), Kind: kind, From: from, To: to}
	if env.V >= EnvelopeV2 {
		env.SentAt = time.Now().UnixNano()
	}
	return env
}

// hold registers a as held by an event sent away, until its end comes
// back or ackTimeout.
func (x *Exchange) hold(a *ack) uint64 {
	a.hold()
	x.acksMu.Lock()
	defer x.acksMu.Unlock()
	x.nextAck++
	id := x.nextAck
	x.acks[id] = &remoteHold{a: a, timer: time.AfterFunc(ackTimeout, func() { x.release(id, errAckLost) })}
	return id
}

// take removes the hold id, nil if it already ended.
func (x *Exchange) take(id uint64) *ack {
	x.acksMu.Lock()
	h := x.acks[id]
	delete(x.acks, id)
	x.acksMu.Unlock()
	if h == nil {
		return nil
	}
	h.timer.Stop()
	return h.a
}

// release ends the hold id, failed with err if not nil.
func (x *Exchange) release(id uint64, err error) {
	if a := x.take(id); a != nil {
		if err != nil {
			a.fail(err)
		}
		a.handled()
	}
}

// Receive handles an envelope for a cell of this node, whose epoch the
// caller checked. It never blocks on a controller: events are posted.
func (x *Exchange) Receive(env Envelope) {
	if env.SentAt != 0 {
		x.net.Transit(time.Duration(time.Now().UnixNano() - env.SentAt))
	}
	if env.Kind == kindAck {
		var err error
		if env.Err != "" {
			err = errors.New(env.Err)
		}
		if x.holds(env) {
			x.release(env.Ack, err)
		}
		return
	}
	in, ok := wireInputs[env.Kind]
	if !ok {
		return // a kind from a newer node: ignored, as unknown fields are
	}
	bounce := in == evPeerFull || in == evPeerGone || in == evPeerUnreachable
	var a *ack
	switch {
	case env.Ack == 0:
	case bounce:
		if x.holds(env) {
			a = x.take(env.Ack) // our own action's ack, its hold now the bounce's
		}
	default:
		a = x.proxy(env)
	}
	p := x.phones(env.To.Cell)
	var c *Controller
	// An inbound call is for whoever has the number now: its sender may
	// not have seen the cell's new epoch yet (the callee's answer tells it).
	if p != nil && (p.epoch == env.To.Epoch || in == evInbound) {
		c, _ = p.reg.Lookup(env.To.MSISDN)
	}
	if c == nil || env.To.Inc != 0 && env.To.Inc != c.inc {
		x.undelivered(env, in, notFound(p, in), a)
		return
	}
	msg := message{kind: in, from: env.From.ref(), dropped: env.Dropped, ack: a}
	x.rt.Do(func(ex *sup.Exec[message]) {
		switch ok, full := c.Post(ex, msg, in == evInbound); {
		case full:
			x.undelivered(env, in, peerFull, a)
		case !ok:
			// Stopped since it was found: with its cell, handed off
			// meanwhile (the handoff saw it idle, the call not yet in).
			x.undelivered(env, in, notFound(p, in), a)
		}
	})
}

// notFound is what an event finds when its controller is not in p (nil:
// the cell is not run here): an inbound call to a cell being taken, or
// taken a moment ago (its phones being restored), or being handed off
// (its phones stopping) finds the callee busy, as it would a moment later
// on the cell's next owner; otherwise the callee is gone.
func notFound(p *Phones, in input) delivery {
	if in == evInbound && (p == nil || p.closed.Load() || time.Since(p.started) < moveGrace) {
		return peerFull
	}
	return peerGone
}

// undelivered is the receiving side of a lost event: an inbound call is
// bounced to its sender (the caller then ends it, as for a local peer);
// other events were about a call the target's end already ended.
// Refuse answers an inbound call for a cell this node does not act for
// (it was handed to another node a moment ago, or is being taken): the
// caller finds the callee busy, and may try again. Other events for such
// a cell are dropped: the cell's move ended their calls.
func (x *Exchange) Refuse(env Envelope) {
	switch in := wireInputs[env.Kind]; {
	case in == evInbound:
		x.undelivered(env, evInbound, peerFull, nil)
	case (in == evPeerFull || in == evPeerGone || in == evPeerUnreachable) && env.Ack != 0 && x.holds(env):
		// The action whose event bounced waits here, but its phone's cell
		// is no longer this node's: its call ended with the cell.
		x.release(env.Ack, errMovedAway)
	}
}

// holds tells whether env's ack is one this node holds: it names this
// node, or no node (a node of an older build routes acks by cell).
func (x *Exchange) holds(env Envelope) bool { return env.AckNode == "" || env.AckNode == x.node }

// errMovedAway: the phone's cell was handed to another node while its
// action waited for a peer elsewhere.
var errMovedAway = errcode.New(errcode.Unavailable, "the phone's cell moved to another node during the action; try again")

// moveGrace is how long after a cell's phone set starts an inbound call
// to a number it does not have yet finds it busy rather than gone.
const moveGrace = 2 * time.Second

func (x *Exchange) undelivered(env Envelope, in input, why delivery, a *ack) {
	if in == evInbound {
		kind := evPeerGone
		if why == peerFull {
			kind = evPeerFull
		}
		back := x.envelope(kind.String(), env.To, env.From)
		back.Ack, back.AckNode = env.Ack, env.AckNode
		if a != nil && env.Ack != 0 {
			// The sender's hold ends with the bounce, not with our proxy.
			a.onDone = nil
		}
		if x.net.Send(back) {
			a.handled()
			return
		}
	}
	a.handled()
}

// proxy is the local ack of an event another node sent with its action's
// ack: when every message it caused here is handled, and the records
// written under it are committed (or not, bounded by the recorder), the
// end is reported to the sender.
func (x *Exchange) proxy(env Envelope) *ack {
	a := newAck()
	p := x.phones(env.To.Cell)
	a.onDone = func(a *ack) {
		reply := func(err error) {
			back := x.envelope(kindAck, env.To, env.From)
			back.Ack, back.AckNode = env.Ack, env.AckNode
			if err != nil {
				back.Err = err.Error()
			}
			x.net.Send(back)
		}
		if a.ticket.Load() == 0 || p == nil {
			reply(nil)
			return
		}
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			reply(a.wait(context.Background(), p.records))
		}()
	}
	return a
}

// Nodes is what the exchange asks of the cluster's membership.
type Nodes interface {
	IsLive(node string) bool      // up or draining
	WasDraining(node string) bool // gone after a drain, not killed
}

// CellMoved tells the node's controllers that cell has a new owner since
// epoch: a controller whose peer ran there under an older epoch has lost
// it (the peer's node died or gave the cell up), and ends its call as when
// the peer cannot be reached. Except a caller not answered yet whose
// callee's node is still up: that node answers for a cell it gave up,
// refusing the inbound call (busy), and a cell it handed off had no call
// left in it; dropping the call here would be wrong. Gone after a drain,
// that node never had the call (as NodeDown says): the callee was busy.
func (x *Exchange) CellMoved(cell int, epoch uint64, nodes Nodes) {
	x.lostPeers(func(peer Ref, st State) input {
		if peer.Cell != int32(cell) || peer.Epoch >= epoch {
			return 0
		}
		if unanswered(peer, st) && peer.Node != "" {
			switch {
			case nodes.IsLive(peer.Node):
				return 0
			case nodes.WasDraining(peer.Node):
				return evPeerFull
			}
		}
		return evPeerUnreachable
	})
}

// NodeDown tells the node's controllers that node is gone: a call with a
// peer there has lost it (this build's peers name their node). A node
// that left drained had handed its cells off, their calls ended (a
// callee ringing there told its caller so as it stopped): a caller it
// never answered sent its call to a cell already gone from it (this
// node's view of the cells a moment behind), and the call was lost on
// the way. That caller finds the callee busy: the call was never set up.
func (x *Exchange) NodeDown(node string, drained bool) {
	x.lostPeers(func(peer Ref, st State) input {
		switch {
		case peer.Node != node:
			return 0
		case drained && unanswered(peer, st):
			return evPeerFull
		}
		return evPeerUnreachable
	})
}

// unanswered tells whether a controller in st with peer is a caller its
// callee's node has not answered yet.
func unanswered(peer Ref, st State) bool { return st == Calling && peer.Inc == 0 }

// lostPeers posts to every controller with a remote peer the input lost
// says about it (0: none).
func (x *Exchange) lostPeers(lost func(peer Ref, st State) input) {
	x.mu.RLock()
	sets := make([]*Phones, 0, len(x.cells))
	for _, p := range x.cells {
		sets = append(sets, p)
	}
	x.mu.RUnlock()
	for _, p := range sets {
		for _, c := range p.reg.Values() {
			c.Lock()
			peer, st := c.peer, c.state
			c.Unlock()
			if st == Idle || peer.local != nil {
				continue
			}
			if in := lost(peer, st); in != 0 {
				x.rt.Do(func(ex *sup.Exec[message]) { c.Post(ex, message{kind: in, from: peer}, false) })
			}
		}
	}
}

// Wait waits for the proxies still waiting on their records (or ctx).
func (x *Exchange) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { x.wg.Wait(); close(done) }()
	select {
	case <-done:
		return x.rt.Wait(ctx)
	case <-ctx.Done():
		return ctx.Err()
	}
}

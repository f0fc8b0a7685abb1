// Package hw is the stubbed hardware layer: the phone devices the phone
// controllers reply to, and the coffee machine's hardware.
//
// A phone's device keeps its replies in a bounded ring that clients read by
// long poll (Hub.Events) or stream (Hub.SubscribePhone, Hub.SubscribeAll,
// Hub.ResumeAll).
// A million phones may be attached and idle at once, so an idle device that
// nobody reads holds no ring, no lock, no channel and no goroutine: all of
// that is made on its first reply, waiter or subscriber.
package hw

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// ReplyType is what a controller tells its phone's device.
type ReplyType uint8

// The replies of domain.md §3. The zero value is no reply, so a forgotten
// field never passes for "inbound".
const (
	Inbound ReplyType = iota + 1
	Accepted
	Rejected
	Busy
	Invalid
	Hangup
	NoFrequency
)

var replyNames = [...]string{
	Inbound:     "inbound",
	Accepted:    "accepted",
	Rejected:    "rejected",
	Busy:        "busy",
	Invalid:     "invalid",
	Hangup:      "hangup",
	NoFrequency: "no_frequency",
}

func (t ReplyType) String() string {
	if t == 0 || int(t) >= len(replyNames) {
		return fmt.Sprintf("ReplyType(%d)", uint8(t))
	}
	return replyNames[t]
}

// MarshalText writes the API name, so Reply's JSON says "type": "busy".
func (t ReplyType) MarshalText() ([]byte, error) {
	if t == 0 || int(t) >= len(replyNames) {
		return nil, fmt.Errorf("hw: no reply type %d", uint8(t))
	}
	return []byte(replyNames[t]), nil
}

// UnmarshalText reads an API name back, for clients such as the load driver.
func (t *ReplyType) UnmarshalText(b []byte) error {
	for i := Inbound; int(i) < len(replyNames); i++ {
		if replyNames[i] == string(b) {
			*t = i
			return nil
		}
	}
	return fmt.Errorf("hw: unknown reply type %q", b)
}

// Reply is one reply as clients see it (api.md). Seq counts from 1 per
// phone and is never reused, so a jump in Seq shows replies the ring dropped.
// Pos is its place in the hub's stream of every phone's replies (see
// Hub.ResumeAll), which the global stream's event ids carry. Node is the
// hub's (HubConfig.Node): in a cluster, the node that runs the phone,
// whose device numbers its replies.
type Reply struct {
	Seq    uint64    `json:"seq"`
	MSISDN string    `json:"msisdn"`
	Type   ReplyType `json:"type"`
	From   string    `json:"from,omitempty"` // inbound only
	At     time.Time `json:"at"`
	Node   string    `json:"node,omitempty"`
	Pos    uint64    `json:"-"`
}

// Device is what a phone controller replies to. DeliverAt runs inline in
// the controller, so an implementation must never block and must be cheap.
// from is the caller for Inbound and ignored otherwise; at (unix nanos) is
// the controller's clock reading for the message it is handling, because
// reading the clock again costs more than the rest of a delivery.
type Device interface {
	DeliverAt(t ReplyType, from string, at int64)
}

// ErrNotAttached is a read of a phone that has no device: never attached,
// or detached (Hub.Remove) since.
var ErrNotAttached = errcode.New(errcode.NotAttached, "phone not attached")

// HubConfig sizes a Hub. Zero values take the defaults.
type HubConfig struct {
	// Node names the node the hub runs on, in a cluster: its replies carry
	// it. Empty on a single node.
	Node string
	// RingSize is how many replies each phone keeps (default 64).
	RingSize int
	// StreamBuffer is how many replies a subscriber may fall behind before
	// it is cut off (default 256). It is raised to RingSize if smaller, so a
	// phone's replay always fits.
	StreamBuffer int
	// Optional metrics hooks, called inline on the delivery path: they must
	// be as cheap as a counter's Inc.
	OnReplyDropped   func() // a ring overwrote its oldest reply
	OnSlowSubscriber func() // a subscriber was cut off for falling behind
}

// HubStats are a Hub's totals since it was made.
type HubStats struct {
	Devices         int
	DroppedReplies  uint64
	SlowSubscribers uint64
}

// Hub is the server's one phone-device stub: it owns every phone's device
// and every reply subscription.
//
// Devices are keyed by the number as a string, not hlr.MSISDN: hw is the
// book's hardware stub, below every domain package (the coffee machines
// use it too) and knowing nothing of the HLR; its replies carry the
// number as a device shows it.
//
// Every reply gets a position in the hub's stream of all replies, counting
// from 1 in this run of the hub (run names the run, so that a position
// from another run is told apart). The global streams follow that order,
// so a client can resume one from the last position it got (ResumeAll).
type Hub struct {
	cfg HubConfig
	run string

	mu      sync.RWMutex
	devices map[string]*PhoneDevice

	// posMu orders the replies of all phones: it is held while a reply
	// takes the next position and is handed to the global streams, and
	// while a global stream is added or removed, so each global stream
	// gets its replies in position order and starts at a known position.
	posMu  sync.Mutex
	pos    uint64       // of the last reply
	global *globalIndex // copy-on-write; nil when nobody listens

	dropped atomic.Uint64
	slow    atomic.Uint64
}

// NewHub makes a Hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.RingSize <= 0 {
		cfg.RingSize = 64
	}
	if cfg.StreamBuffer <= 0 {
		cfg.StreamBuffer = 256
	}
	cfg.StreamBuffer = max(cfg.StreamBuffer, cfg.RingSize)
	return &Hub{cfg: cfg, run: fmt.Sprintf("%08x", rand.Uint32()), devices: make(map[string]*PhoneDevice)}
}

// Run names this run of the hub: eight hex digits drawn when it was made.
// Positions are only meaningful within a run; the global stream's event ids
// carry it beside the position.
func (h *Hub) Run() string { return h.run }

// DeviceOption configures a device when Hub.Device creates it.
type DeviceOption func(*PhoneDevice)

// WithAuto drives the device's phone with a, which Hub.Remove stops.
// An Auto serves one device only.
func WithAuto(a *Auto) DeviceOption {
	return func(d *PhoneDevice) { d.state().auto = a }
}

// Device returns msisdn's device, creating it with opts if there is none.
// Options of a call that finds the device are ignored: a restarted
// controller gets the same device, with its replies, sequence and Auto.
func (h *Hub) Device(msisdn string, opts ...DeviceOption) *PhoneDevice {
	if d := h.lookup(msisdn); d != nil {
		return d
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.devices[msisdn]; d != nil {
		return d
	}
	d := &PhoneDevice{hub: h, msisdn: msisdn}
	for _, o := range opts {
		o(d)
	}
	h.devices[msisdn] = d
	return d
}

// Remove detaches msisdn's device: its replies are gone, readers and its
// subscriptions end with ErrNotAttached, later deliveries to it are
// discarded, and its Auto stops, waiting for an action in flight (whose
// context it cancels; so never call Remove from that Auto's Actions). A
// re-attached phone gets a new device whose sequence starts again from 1.
// Removing an unknown phone does nothing.
func (h *Hub) Remove(msisdn string) {
	h.mu.Lock()
	d := h.devices[msisdn]
	delete(h.devices, msisdn)
	h.mu.Unlock()
	if d != nil {
		d.remove()
	}
}

// Stats returns the hub's totals.
func (h *Hub) Stats() HubStats {
	h.mu.RLock()
	n := len(h.devices)
	h.mu.RUnlock()
	return HubStats{Devices: n, DroppedReplies: h.dropped.Load(), SlowSubscribers: h.slow.Load()}
}

func (h *Hub) lookup(msisdn string) *PhoneDevice {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.devices[msisdn]
}

// PhoneDevice is the stub device of one phone. It is 32 bytes until the
// first reply, waiter or subscriber: even its lock lives in the state made
// then.
type PhoneDevice struct {
	hub    *Hub
	msisdn string
	st     atomic.Pointer[deviceState]
}

type deviceState struct {
	mu         sync.Mutex
	removed    bool
	seq        uint64 // of the last reply
	dropped    uint64
	droppedPos uint64 // position of the last reply the ring dropped, 0 if none
	// lastPos is the position of the last reply, stored under the hub's
	// posMu as the position is drawn: a replay up to a position read
	// under posMu skips, without the device's lock, a phone with nothing
	// past its start.
	lastPos atomic.Uint64
	ring    ring
	wake    chan struct{}   // closed on the next reply; made by the first waiter
	subs    []*Subscription // this phone's streams
	auto    *Auto
}

// state returns the device's state, making it on first use.
func (d *PhoneDevice) state() *deviceState {
	if st := d.st.Load(); st != nil {
		return st
	}
	d.st.CompareAndSwap(nil, &deviceState{})
	return d.st.Load()
}

var _ Device = (*PhoneDevice)(nil)

// Deliver records a reply stamped now; see DeliverAt.
func (d *PhoneDevice) Deliver(t ReplyType, from string) { d.DeliverAt(t, from, time.Now().UnixNano()) }

// DeliverAt records a reply, wakes the phone's long polls and feeds its
// streams. It never blocks: a full ring drops its oldest reply and a full
// subscriber is cut off. A removed device discards the reply.
func (d *PhoneDevice) DeliverAt(t ReplyType, from string, at int64) {
	if t != Inbound {
		from = ""
	}
	h := d.hub
	st := d.state()
	st.mu.Lock()
	if st.removed {
		st.mu.Unlock()
		return
	}
	st.seq++
	// The position and the global fan-out under the hub's lock; the ring,
	// wake-up and this phone's streams under the device's only. Sends never
	// block, and fanning out under the device's lock keeps each phone's
	// replies in order for every subscriber.
	h.posMu.Lock()
	h.pos++
	st.lastPos.Store(h.pos)
	e := newEntry(h.pos, t, from, at)
	var r Reply
	g := h.global
	if g != nil {
		r = d.reply(st.seq, e)
		for _, s := range g.send(r) {
			h.global = h.global.without(s)
		}
	}
	h.posMu.Unlock()
	if old, dropped := st.ring.push(e, h.cfg.RingSize); dropped {
		st.dropped++
		st.droppedPos = old.pos()
		h.dropped.Add(1)
		if h.cfg.OnReplyDropped != nil {
			h.cfg.OnReplyDropped()
		}
	}
	if st.wake != nil {
		close(st.wake)
		st.wake = nil
	}
	if len(st.subs) > 0 {
		if g == nil {
			r = d.reply(st.seq, e)
		}
		st.subs = sendAll(st.subs, r)
	}
	auto := st.auto
	st.mu.Unlock()
	if auto != nil {
		auto.onReply(t)
	}
}

// LastSeq is the sequence number of the device's last reply, 0 if none.
func (d *PhoneDevice) LastSeq() uint64 {
	st := d.st.Load()
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.seq
}

// Dropped is how many replies the device's ring has overwritten.
func (d *PhoneDevice) Dropped() uint64 {
	st := d.st.Load()
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.dropped
}

func (d *PhoneDevice) reply(seq uint64, e entry) Reply {
	return Reply{Seq: seq, MSISDN: d.msisdn, Type: e.typ(), From: e.from, At: time.Unix(0, e.at).UTC(),
		Node: d.hub.cfg.Node, Pos: e.pos()}
}

// since returns the ring's replies after seq; st.mu is held. A seq beyond
// the last reply is a cursor from an earlier attachment of the phone
// (sequences restart on re-attach), so it reads as 0 rather than waiting
// for replies that would never be shown.
func (d *PhoneDevice) since(st *deviceState, seq uint64) []Reply {
	if seq > st.seq {
		seq = 0
	}
	n := len(st.ring.buf)
	first := st.seq - uint64(n) + 1 // seq of the ring's oldest reply
	skip := 0
	if seq >= first {
		skip = int(seq - first + 1)
	}
	if skip >= n {
		return nil
	}
	out := make([]Reply, 0, n-skip)
	for i := skip; i < n; i++ {
		out = append(out, d.reply(first+uint64(i), st.ring.at(i)))
	}
	return out
}

func (d *PhoneDevice) remove() {
	st := d.state()
	st.mu.Lock()
	st.removed = true
	if st.wake != nil {
		close(st.wake)
		st.wake = nil
	}
	for _, s := range st.subs {
		s.end(ErrNotAttached)
	}
	st.subs = nil
	st.ring = ring{}
	auto := st.auto
	st.mu.Unlock()
	if auto != nil {
		auto.Cancel()
	}
}

// entry is a reply as the ring stores it: 32 bytes, since the sequence
// follows from the place in the ring and the MSISDN from the device, and
// the type shares a word with the hub position (2^56 positions last
// centuries at millions of replies a second).
type entry struct {
	at      int64 // Unix nanoseconds
	from    string
	posType uint64 // position << 8 | type
}

func newEntry(pos uint64, t ReplyType, from string, at int64) entry {
	return entry{at: at, from: from, posType: pos<<8 | uint64(t)}
}

func (e entry) pos() uint64    { return e.posType >> 8 }
func (e entry) typ() ReplyType { return ReplyType(e.posType) }

// ring holds the last replies, oldest at head once full. It grows by
// doubling up to its size, so a phone with a few replies holds a few.
type ring struct {
	buf  []entry
	head int
}

// push appends e and tells whether that overwrote the oldest entry, which
// it returns.
func (r *ring) push(e entry, size int) (old entry, dropped bool) {
	if len(r.buf) < size {
		if len(r.buf) == cap(r.buf) {
			grown := make([]entry, len(r.buf), min(max(2*cap(r.buf), 2), size))
			copy(grown, r.buf)
			r.buf = grown
		}
		r.buf = append(r.buf, e)
		return entry{}, false
	}
	old = r.buf[r.head]
	r.buf[r.head] = e
	r.head = (r.head + 1) % len(r.buf)
	return old, true
}

// at returns the i-th oldest entry.
func (r *ring) at(i int) entry { return r.buf[(r.head+i)%len(r.buf)] }

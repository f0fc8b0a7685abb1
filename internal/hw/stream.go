package hw

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// ErrSlowSubscriber ends a subscription whose buffer was full when a reply
// came: rather than block the delivery or silently skip replies, the hub
// cuts the subscriber off. Replies already buffered are still received; the
// client sees the stream end and reconnects (with Last-Event-ID, for a
// phone's stream, to replay what its ring still holds).
var ErrSlowSubscriber = errcode.New(errcode.Overloaded, "subscriber fell behind: replies dropped")

// Events is the long poll of api.md: msisdn's replies with Seq > after, at
// once if there are any, else as soon as one comes, within wait or ctx.
// next is the Seq of the last item returned, or after if none (a timeout is
// not an error). A jump between after and the first item's Seq is replies
// the ring dropped. An after beyond the phone's last reply is a cursor from
// an earlier attachment and reads as 0. Waiting costs the device one shared
// channel, not a goroutine.
func (h *Hub) Events(ctx context.Context, msisdn string, after uint64, wait time.Duration) (items []Reply, next uint64, err error) {
	d := h.lookup(msisdn)
	if d == nil {
		return nil, after, ErrNotAttached
	}
	st := d.state()
	var timeout <-chan time.Time
	for {
		st.mu.Lock()
		if st.removed {
			st.mu.Unlock()
			return nil, after, ErrNotAttached
		}
		if items := d.since(st, after); len(items) > 0 {
			st.mu.Unlock()
			return items, items[len(items)-1].Seq, nil
		}
		if wait <= 0 {
			st.mu.Unlock()
			return nil, after, nil
		}
		if st.wake == nil {
			st.wake = make(chan struct{})
		}
		wake := st.wake
		st.mu.Unlock()

		if timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-wake:
		case <-timeout:
			return nil, after, nil
		case <-ctx.Done():
			return nil, after, ctx.Err()
		}
	}
}

// Subscription is a stream of replies. Read C until it is closed, then Err
// tells why: nil after Close, ErrSlowSubscriber if it fell behind,
// ErrNotAttached if its phone detached. A resumed global subscription
// (Hub.ResumeAll) has a replay to read with Replay before C.
type Subscription struct {
	hub    *Hub
	dev    *PhoneDevice // a phone's stream; nil for the global one
	filter []string     // global stream's MSISDNs, nil for all
	replay *replay      // what a resumed global stream missed; nil when read

	mu   sync.Mutex
	ch   chan Reply
	done bool
	err  error
}

// SubscribePhone streams msisdn's replies: first those its ring holds with
// Seq > lastEventID (all of them for 0; an ID beyond the last reply is from
// an earlier attachment and reads as 0), then every new one, in order.
func (h *Hub) SubscribePhone(msisdn string, lastEventID uint64) (*Subscription, error) {
	d := h.lookup(msisdn)
	if d == nil {
		return nil, ErrNotAttached
	}
	s := h.newSubscription()
	s.dev = d
	st := d.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.removed {
		return nil, ErrNotAttached
	}
	// The buffer holds at least a ring (NewHub), so the replay never blocks,
	// and registering under the same lock leaves no gap or duplicate
	// between replayed and live replies.
	for _, r := range d.since(st, lastEventID) {
		s.ch <- r
	}
	st.subs = append(st.subs, s)
	return s, nil
}

// SubscribeAll streams the replies of the phones in filter, or of every
// phone if filter is empty, from now on. Phones need not be attached yet.
func (h *Hub) SubscribeAll(filter []string) *Subscription {
	s, _ := h.subscribeAll(filter)
	return s
}

// subscribeAll adds a global subscription and returns the position it
// starts after: it gets every reply of its phones past that one.
func (h *Hub) subscribeAll(filter []string) (s *Subscription, from uint64) {
	s = h.newSubscription()
	if len(filter) > 0 {
		s.filter = slices.Compact(slices.Sorted(slices.Values(filter)))
	}
	h.posMu.Lock()
	defer h.posMu.Unlock()
	h.global = h.global.with(s)
	return s, h.pos
}

// Position is the position of the hub's last reply in this run, 0 if none:
// a global stream resumed from it (ResumeAll) starts from now, at a known
// place.
func (h *Hub) Position() uint64 {
	h.posMu.Lock()
	defer h.posMu.Unlock()
	return h.pos
}

func (h *Hub) newSubscription() *Subscription {
	return &Subscription{hub: h, ch: make(chan Reply, h.cfg.StreamBuffer)}
}

func (h *Hub) unsubscribeAll(s *Subscription) {
	h.posMu.Lock()
	defer h.posMu.Unlock()
	h.global = h.global.without(s)
}

// C is the stream; it is closed when the subscription ends.
func (s *Subscription) C() <-chan Reply { return s.ch }

// Err tells why the subscription ended; see Subscription.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription. It may be called more than once.
func (s *Subscription) Close() {
	if d := s.dev; d != nil {
		st := d.state()
		st.mu.Lock()
		st.subs = slices.DeleteFunc(st.subs, func(x *Subscription) bool { return x == s })
		st.mu.Unlock()
	} else {
		s.hub.unsubscribeAll(s)
	}
	s.end(nil)
}

// send offers r without blocking; false means s has ended (cut off now for
// being full, or closed already) and should leave the lists.
func (s *Subscription) send(r Reply) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	select {
	case s.ch <- r:
		return true
	default:
	}
	s.endLocked(ErrSlowSubscriber)
	s.hub.slow.Add(1)
	if f := s.hub.cfg.OnSlowSubscriber; f != nil {
		f()
	}
	return false
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(err)
}

func (s *Subscription) endLocked(err error) {
	if !s.done {
		s.done, s.err = true, err
		close(s.ch)
	}
}

// sendAll offers r to a phone's subscribers and returns those still on.
func sendAll(subs []*Subscription, r Reply) []*Subscription {
	return slices.DeleteFunc(subs, func(s *Subscription) bool { return !s.send(r) })
}

// globalIndex is the global subscriptions, by filter; nil means none. A
// change makes a new one (changes are rare, deliveries many).
type globalIndex struct {
	all []*Subscription            // unfiltered
	by  map[string][]*Subscription // filtered, by MSISDN
}

// send offers r to the subscribers interested in it and returns those that
// ended, for the caller to remove.
func (g *globalIndex) send(r Reply) (ended []*Subscription) {
	if g == nil {
		return nil
	}
	for _, s := range g.all {
		if !s.send(r) {
			ended = append(ended, s)
		}
	}
	for _, s := range g.by[r.MSISDN] {
		if !s.send(r) {
			ended = append(ended, s)
		}
	}
	return ended
}

func (g *globalIndex) with(s *Subscription) *globalIndex {
	n := g.clone()
	if s.filter == nil {
		n.all = append(n.all, s)
		return n
	}
	if n.by == nil {
		n.by = make(map[string][]*Subscription, len(s.filter))
	}
	for _, m := range s.filter {
		n.by[m] = append(slices.Clip(n.by[m]), s) // never writes into an older snapshot
	}
	return n
}

func (g *globalIndex) without(s *Subscription) *globalIndex {
	if g == nil {
		return nil
	}
	n := g.clone()
	isS := func(x *Subscription) bool { return x == s }
	n.all = slices.DeleteFunc(n.all, isS)
	for _, m := range s.filter {
		if rest := slices.DeleteFunc(slices.Clone(n.by[m]), isS); len(rest) > 0 {
			n.by[m] = rest
		} else {
			delete(n.by, m)
		}
	}
	if len(n.all) == 0 && len(n.by) == 0 {
		return nil
	}
	return n
}

func (g *globalIndex) clone() *globalIndex {
	if g == nil {
		return &globalIndex{}
	}
	return &globalIndex{all: slices.Clone(g.all), by: maps.Clone(g.by)}
}

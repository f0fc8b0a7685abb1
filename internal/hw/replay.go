package hw

import (
	"container/heap"
	"sort"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// ErrPositionAhead is a resume from a position this run of the hub has not
// reached: not one it gave.
var ErrPositionAhead = errcode.New(errcode.InvalidRequest, "no reply has that position yet")

// Replayed is an item of a resumed global stream's replay: a reply, or,
// when Lost, the news that replies of the phone Reply.MSISDN after the
// resume position, up to Reply.Pos, are gone (its ring dropped them; the
// gap in its Seq tells how many). A loss sets only MSISDN and Pos.
type Replayed struct {
	Reply
	Lost bool
}

// ResumeAll is SubscribeAll for a client that got every reply up to the
// position after (Reply.Pos) and reconnects: the subscription first
// replays, through Replay, the replies of its phones past after that their
// rings still hold, in position order, and says where some are gone; then
// C follows with the live ones, without a gap or a repeat. An after of 0
// replays all the rings hold; one past the last position is
// ErrPositionAhead.
//
// The replay reads the rings as it goes (a k-way merge of the phones' rings
// by position), so it holds one cursor per phone with replies past after,
// never a copy of the replies. Replies of a phone detached since are not
// replayed: they went with its device, as its own stream ends then.
func (h *Hub) ResumeAll(filter []string, after uint64) (*Subscription, error) {
	s, until := h.subscribeAll(filter)
	if after > until {
		s.Close()
		return nil, ErrPositionAhead
	}
	if after < until {
		s.replay = h.newReplay(s.filter, after, until)
	}
	return s, nil
}

// Replay appends to buf[:0], up to cap(buf), the next items of a resumed
// subscription's replay, and tells whether the replay is over: then C
// follows. A subscription that was not resumed has none. Replay and C are
// read by one goroutine.
func (s *Subscription) Replay(buf []Replayed) (items []Replayed, done bool) {
	items = buf[:0]
	rp := s.replay
	for rp != nil && rp.Len() > 0 && len(items) < cap(items) {
		c := heap.Pop(rp).(*replayCursor)
		bound := rp.until
		if rp.Len() > 0 {
			bound = min(bound, rp.cursors[0].pos)
		}
		var more bool
		if items, more = rp.visit(c, items, bound); more {
			heap.Push(rp, c)
		}
	}
	if rp != nil && rp.Len() == 0 {
		s.replay = nil
	}
	return items, s.replay == nil
}

// replay is the merge of a resumed stream: a heap of cursors, one per
// phone with something to replay, ordered by the position of that
// something.
type replay struct {
	until   uint64 // the position the live stream starts after
	cursors []*replayCursor
}

// replayCursor is where the replay of one phone stands: at its reply seq,
// whose position is pos, or, when lost, at the loss of its replies before
// seq, announced at pos.
type replayCursor struct {
	d    *PhoneDevice
	seq  uint64
	pos  uint64
	lost bool
}

func (rp *replay) Len() int { return len(rp.cursors) }

// Less orders by position, and a reply before a loss told at the same
// position (a loss told at until): a client that got the loss has got the
// reply too.
func (rp *replay) Less(i, j int) bool {
	a, b := rp.cursors[i], rp.cursors[j]
	return a.pos < b.pos || a.pos == b.pos && !a.lost && b.lost
}

func (rp *replay) Swap(i, j int) { rp.cursors[i], rp.cursors[j] = rp.cursors[j], rp.cursors[i] }
func (rp *replay) Push(x any)    { rp.cursors = append(rp.cursors, x.(*replayCursor)) }
func (rp *replay) Pop() any {
	c := rp.cursors[len(rp.cursors)-1]
	rp.cursors = rp.cursors[:len(rp.cursors)-1]
	return c
}

// newReplay starts the replay of the positions (after, until] for the
// phones in filter (every phone if nil).
func (h *Hub) newReplay(filter []string, after, until uint64) *replay {
	// A phone whose last reply is not past after has none to replay, nor a
	// loss to tell (what its ring dropped is older still): on a busy node
	// a page poll finds the few phones that replied since among all,
	// without taking each one's lock. until was read under posMu after
	// every reply up to it stored its lastPos.
	since := func(d *PhoneDevice) bool {
		st := d.st.Load()
		return st != nil && st.lastPos.Load() > after
	}
	var devs []*PhoneDevice
	h.mu.RLock()
	if filter == nil {
		for _, d := range h.devices {
			if since(d) {
				devs = append(devs, d)
			}
		}
	} else {
		for _, m := range filter {
			if d := h.devices[m]; d != nil && since(d) {
				devs = append(devs, d)
			}
		}
	}
	h.mu.RUnlock()
	rp := &replay{until: until}
	for _, d := range devs {
		if c := rp.start(d, after); c != nil {
			rp.cursors = append(rp.cursors, c)
		}
	}
	heap.Init(rp)
	return rp
}

// start places d's cursor at its first reply past after, or at the loss
// before it when the ring dropped replies past after; nil when d has
// nothing to replay.
func (rp *replay) start(d *PhoneDevice, after uint64) *replayCursor {
	st := d.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	n := len(st.ring.buf)
	if st.removed || n == 0 {
		return nil
	}
	first := st.seq - uint64(n) + 1
	i := sort.Search(n, func(i int) bool { return st.ring.at(i).pos() > after })
	c := &replayCursor{d: d, seq: first + uint64(i)}
	switch {
	case i == 0 && st.droppedPos > after:
		// The ring starts past after and dropped a reply past it. That
		// reply is lost unless it came after until, live; then whether an
		// older one was past after is not known, and the loss is told at
		// until to be safe.
		c.lost, c.pos = true, min(st.droppedPos, rp.until)
	case i == n:
		return nil
	default:
		c.pos = st.ring.at(i).pos()
	}
	if c.pos > rp.until {
		return nil
	}
	return c
}

// visit appends c's items from its position up to bound (the next cursor's
// position), as long as items has room, and tells whether c has more to
// replay, at c.pos. A device's lock is taken once per visit.
func (rp *replay) visit(c *replayCursor, items []Replayed, bound uint64) ([]Replayed, bool) {
	st := c.d.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.removed {
		return items, false
	}
	if c.lost {
		items = append(items, Replayed{Reply: Reply{MSISDN: c.d.msisdn, Pos: c.pos}, Lost: true})
		c.lost = false
	}
	n := len(st.ring.buf)
	first := st.seq - uint64(n) + 1
	if c.seq < first {
		// The ring dropped c.seq (at a position up to until) since the
		// last visit: a loss, told at the position of the last reply
		// dropped, or at until if that one came live.
		c.lost, c.pos, c.seq = true, min(st.droppedPos, rp.until), first
		return items, true
	}
	for ; c.seq <= st.seq; c.seq++ {
		e := st.ring.at(int(c.seq - first))
		c.pos = e.pos()
		if c.pos > rp.until {
			return items, false // the live stream has the rest
		}
		if len(items) == cap(items) || c.pos > bound {
			return items, true
		}
		items = append(items, Replayed{Reply: c.d.reply(c.seq, e)})
	}
	return items, false
}

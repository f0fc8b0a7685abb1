package load

import (
	"math/rand/v2"
	"sync"
	"time"
)

// pstate is the driver's view of a phone: what the server last told it,
// plus the requests it has on their way.
type pstate uint8

const (
	stAbsent    pstate = iota // not attached (yet, or any more): never picked
	stIdle                    // may dial or be dialled
	stExpecting               // idle, but a call of ours to it is on its way: not picked to dial
	stDialing                 // our call request is on its way
	stCalling                 // the server took the call; waiting for the callee's answer
	stRinging                 // inbound call; our answer is planned or on its way
	stTalking                 // connected
	stHanging                 // our hangup of a call we lost track of is on its way
)

// phone is one phone of the population. Every field but turn is guarded
// by the driver's mutex.
type phone struct {
	// turn is held while one of the phone's actions is on its way: its
	// next waits for the answer (driver.request).
	turn   sync.Mutex
	msisdn string
	state  pstate
	caller bool   // the call is one we dialled
	peer   string // the other phone of the call
	owed   bool   // the call attempt has no outcome counted yet
	// token changes with every state change: a request answer or a timer
	// that carries an older token is about a state that is gone.
	token uint64
	timer *time.Timer
	index int // its place in the population
	group int // the event streams that carry its replies
	// heldSince is when the driver learnt that the call it dialled got a
	// frequency (its accepted reply): the start of the holding time.
	heldSince time.Time
	// seq is the sequence number of the last of its replies the driver
	// applied, from the event stream or read back by a resync: a reply
	// the stream brings with a seq no higher is one it has had.
	seq uint64
	// node is the node whose device numbered its last reply (the reply's
	// node), "" if none yet (or unknown since a resync found its
	// numbering restarted), and always on a single node. A cell that
	// moves is restored on another node with a new device, which numbers
	// its replies afresh.
	node string
}

// population is the phones and the indexes the driver picks from.
type population struct {
	phones   []*phone
	by       map[string]*phone
	attached []*phone // callees are picked among these
	idle     []*phone // callers are picked among these
	idleAt   map[*phone]int
	active   int // phones not idle (and attached)
	calls    int // calls we dialled that are not over
	// wake is closed and replaced whenever a phone becomes idle: closed-model
	// workers and the final drain wait on it.
	wake chan struct{}
}

func newPopulation(cfg Config) *population {
	p := &population{
		phones: make([]*phone, cfg.Phones),
		by:     make(map[string]*phone, cfg.Phones),
		idleAt: make(map[*phone]int, cfg.Phones),
		wake:   make(chan struct{}),
	}
	for i := range p.phones {
		ph := &phone{msisdn: cfg.msisdn(i), index: i, group: i / streamChunk}
		p.phones[i] = ph
		p.by[ph.msisdn] = ph
	}
	return p
}

// attach puts an attached phone in the game, idle.
func (p *population) attach(ph *phone) {
	p.attached = append(p.attached, ph)
	p.set(ph, stIdle, false, "")
}

// set moves ph to state, keeping the indexes and counters right, cancelling
// whatever was planned for the old state and invalidating its token.
func (p *population) set(ph *phone, state pstate, caller bool, peer string) {
	if ph.timer != nil {
		ph.timer.Stop()
		ph.timer = nil
	}
	ph.token++
	ph.heldSince = time.Time{}
	if dialling(ph) && !(state == stDialing || state == stCalling) {
		p.unexpect(ph)
	}
	if ph.state == stIdle {
		p.removeIdle(ph)
	} else if ph.state != stAbsent {
		p.active--
		if ph.caller {
			p.calls--
		}
	}
	ph.state, ph.caller, ph.peer = state, caller, peer
	switch state {
	case stIdle:
		p.idleAt[ph] = len(p.idle)
		p.idle = append(p.idle, ph)
		p.notify()
	case stAbsent:
	default:
		p.active++
		if caller {
			p.calls++
		}
	}
}

// dialling tells whether ph is a caller waiting for its callee.
func dialling(ph *phone) bool { return ph.caller && (ph.state == stDialing || ph.state == stCalling) }

// expect marks the callee of a call being made from ph, if idle: its
// inbound reply is coming, and dialling from it meanwhile would only be
// refused as busy.
func (p *population) expect(ph, callee *phone) {
	if callee.state == stIdle {
		p.set(callee, stExpecting, false, ph.msisdn)
	}
}

// unexpect puts back to idle the callee that still expects ph's call,
// which is over before reaching it.
func (p *population) unexpect(ph *phone) {
	if q := p.by[ph.peer]; q != nil && q.state == stExpecting && q.peer == ph.msisdn {
		p.set(q, stIdle, false, "")
	}
}

// notify wakes whoever waits for a phone to become idle or an action to
// end.
func (p *population) notify() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func (p *population) removeIdle(ph *phone) {
	i := p.idleAt[ph]
	last := p.idle[len(p.idle)-1]
	p.idle[i] = last
	p.idleAt[last] = i
	p.idle = p.idle[:len(p.idle)-1]
	delete(p.idleAt, ph)
}

// pickIdle picks a random idle phone, or nil if none is idle.
func (p *population) pickIdle(rng *rand.Rand) *phone {
	if len(p.idle) == 0 {
		return nil
	}
	return p.idle[rng.IntN(len(p.idle))]
}

// pickOther picks a random attached phone other than ph, whatever its
// state: dialling a phone in a call is how busy happens.
func (p *population) pickOther(rng *rand.Rand, ph *phone) *phone {
	if len(p.attached) < 2 {
		return nil
	}
	for {
		if o := p.attached[rng.IntN(len(p.attached))]; o != ph {
			return o
		}
	}
}

// pickOtherIdle picks a random idle phone other than ph, which is idle,
// or nil if ph is the only one: the traffic model's callees, so that a
// call attempt reaches the allocator rather than a busy callee.
func (p *population) pickOtherIdle(rng *rand.Rand, ph *phone) *phone {
	if len(p.idle) < 2 {
		return nil
	}
	i := rng.IntN(len(p.idle) - 1)
	if i >= p.idleAt[ph] {
		i++ // every index but ph's, equally likely
	}
	return p.idle[i]
}

// uniform draws a duration in [lo, hi].
func uniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

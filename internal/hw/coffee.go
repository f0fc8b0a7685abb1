package hw

import (
	"strconv"
	"sync"
	"time"
)

// CoffeeHW is the coffee machine's hardware, as the book's hw module offers
// it to coffee_fsm. Calls do not fail: the hardware is a stub.
type CoffeeHW interface {
	Display(text string)
	ReturnChange(amount int)
	DropCup()
	Prepare(drink string)
	Reboot()
}

// CoffeeLogSize is how many hardware calls a CoffeeStub keeps; older ones are
// dropped and counted, so a machine left running cannot grow without bound.
const CoffeeLogSize = 1000

// HWOp is one recorded hardware call.
type HWOp struct {
	Seq uint64    `json:"seq"` // from 1, never reused, so gaps show drops
	Op  string    `json:"op"`  // display, return_change, drop_cup, prepare, reboot
	Arg string    `json:"arg,omitempty"`
	At  time.Time `json:"at"`
}

// CoffeeStub is a CoffeeHW that records every call in order. It belongs to a
// machine's identity, not to one run of its state machine: a restarted
// machine gets the same stub, so the log shows a crash's refund followed by
// the reboot of the new incarnation.
type CoffeeStub struct {
	mu      sync.Mutex
	ring    []HWOp // oldest at start once full
	start   int
	seq     uint64
	dropped uint64
}

// NewCoffeeStub returns an empty stub.
func NewCoffeeStub() *CoffeeStub { return &CoffeeStub{} }

func (s *CoffeeStub) Display(text string)     { s.record("display", text) }
func (s *CoffeeStub) ReturnChange(amount int) { s.record("return_change", strconv.Itoa(amount)) }
func (s *CoffeeStub) DropCup()                { s.record("drop_cup", "") }
func (s *CoffeeStub) Prepare(drink string)    { s.record("prepare", drink) }
func (s *CoffeeStub) Reboot()                 { s.record("reboot", "") }

func (s *CoffeeStub) record(op, arg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rec := HWOp{Seq: s.seq, Op: op, Arg: arg, At: time.Now()}
	if len(s.ring) < CoffeeLogSize {
		s.ring = append(s.ring, rec)
		return
	}
	s.ring[s.start] = rec
	s.start = (s.start + 1) % len(s.ring)
	s.dropped++
}

// Ops returns a copy of the kept calls, oldest first.
func (s *CoffeeStub) Ops() []HWOp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HWOp, 0, len(s.ring))
	out = append(out, s.ring[s.start:]...)
	return append(out, s.ring[:s.start]...)
}

// Dropped is how many calls were dropped to keep the last CoffeeLogSize.
func (s *CoffeeStub) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

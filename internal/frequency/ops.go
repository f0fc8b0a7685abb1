package frequency

import (
	"fmt"
	"strconv"
	"time"

	"github.com/bsc-sim/bsc/internal/overload"
)

type slotState uint8

const (
	slotFree slotState = iota
	slotAllocated
	slotRetired // a blocked frequency that was released; dropped at the next rebuild
)

const none = -1

// slot is one frequency and, while allocated, its allocation. Slots refer to
// each other by index so that the hot path allocates nothing.
type slot struct {
	freq    int
	label   string // freq as text, so the event log costs no allocation
	state   slotState
	blocked bool
	owner   string
	since   time.Time
	expires time.Time
	leaseN  uint64
	lease   int32 // position in the lease heap, or none
	prev    int32 // the owner's list, newest first
	next    int32
}

// Allocate gives owner the frequency at the head of the free list. A positive
// ttl makes it a lease, released as if deallocated when it runs out.
func (a *Allocator) Allocate(owner string, ttl time.Duration) (Allocation, error) {
	now := a.now()
	a.mu.Lock()
	if a.life != running {
		a.mu.Unlock()
		return Allocation{}, ErrUnavailable
	}
	n := len(a.free)
	if n == 0 {
		a.mu.Unlock()
		a.Handled("allocate", owner)
		// A notice has no state to keep in step, so it need not hold the
		// lock; it is counted before it is reported, as every change is.
		a.metrics.allocation(false)
		a.emit(overload.Notice, "frequency_denied")
		return Allocation{}, ErrNoFrequency
	}
	i := a.free[n-1]
	a.free = a.free[:n-1]
	s := &a.slots[i]
	s.state, s.owner, s.since = slotAllocated, owner, now
	a.linkOwner(i)
	a.allocated++
	al := Allocation{Frequency: s.freq, Owner: owner, Since: now}
	if ttl > 0 {
		a.addLease(i, now.Add(ttl), now)
		expires := s.expires
		al.ExpiresAt = &expires
	}
	// Counted before changed reports it, as every change below: whoever
	// sees an alarm or a gauge move also sees the count.
	a.metrics.allocation(true)
	a.changed()
	a.mu.Unlock()
	a.Handled("allocate", owner)
	return al, nil
}

// Deallocate returns f, held by owner, to the head of the free list, or
// retires it if it is blocked. A failure leaves everything unchanged.
func (a *Allocator) Deallocate(owner string, f int) error {
	a.mu.Lock()
	if a.life != running {
		a.mu.Unlock()
		return ErrUnavailable
	}
	var err error
	label := ""
	i, ok := a.index[f]
	switch {
	case !ok || a.slots[i].state != slotAllocated:
		err = ErrNotAllocated
	case a.slots[i].owner != owner:
		err = ErrNotOwner
	default:
		label = a.slots[i].label
		a.release(i)
		a.metrics.deallocation(released, 1)
		a.changed()
	}
	a.mu.Unlock()
	if err != nil {
		a.Handled("deallocate", strconv.Itoa(f))
		a.metrics.deallocation(outcomeOf(err), 1)
		return fmt.Errorf("%w: %d", err, f)
	}
	a.Handled("deallocate", label)
	return nil
}

// ReleaseOwner releases everything owner holds, as when a phone goes, and
// returns the frequencies in the order released: most recently allocated
// first.
func (a *Allocator) ReleaseOwner(owner string) []int {
	a.mu.Lock()
	if a.life != running {
		a.mu.Unlock()
		return nil
	}
	var freed []int
	for i, ok := a.owners[owner]; ok; i, ok = a.owners[owner] {
		freed = append(freed, a.slots[i].freq)
		a.release(i)
	}
	if freed != nil {
		a.metrics.deallocation(released, len(freed))
		a.changed()
	}
	a.mu.Unlock()
	a.Handled("release_owner", owner)
	return freed
}

// release frees slot i or, if it is blocked, retires it. The caller holds
// the lock and calls changed afterwards.
func (a *Allocator) release(i int32) {
	a.unlinkOwner(i)
	s := &a.slots[i]
	if s.lease != none {
		a.removeLease(s.lease)
	}
	s.owner = ""
	if s.blocked {
		s.state, s.blocked = slotRetired, false
		delete(a.index, s.freq)
		a.blocked--
		return
	}
	s.state = slotFree
	a.free = append(a.free, i)
	a.allocated--
}

func (a *Allocator) linkOwner(i int32) {
	s := &a.slots[i]
	s.prev, s.next = none, none
	if head, ok := a.owners[s.owner]; ok {
		s.next = head
		a.slots[head].prev = i
	}
	a.owners[s.owner] = i
}

func (a *Allocator) unlinkOwner(i int32) {
	s := &a.slots[i]
	switch {
	case s.prev != none:
		a.slots[s.prev].next = s.next
	case s.next != none:
		a.owners[s.owner] = s.next
	default:
		delete(a.owners, s.owner)
	}
	if s.next != none {
		a.slots[s.next].prev = s.prev
	}
}

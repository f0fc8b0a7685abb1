package frequency

import (
	"time"

	"github.com/bsc-sim/bsc/internal/sup"
)

// Leases are a min-heap of slots ordered by expiry, then by lease order so
// that leases expiring at the same instant go back in a defined order. One
// timer, armed for the earliest, reaps them; there is no goroutine to own
// between expiries.

func (a *Allocator) addLease(i int32, expires, now time.Time) {
	a.leaseN++
	s := &a.slots[i]
	s.expires, s.leaseN, s.lease = expires, a.leaseN, int32(len(a.leases))
	a.leases = append(a.leases, i)
	a.up(s.lease)
	if s.lease == 0 {
		a.armReaper(now)
	}
}

// armReaper sets the timer for the earliest lease. A timer left armed for a
// lease since released fires early and finds nothing due, which is cheaper
// than re-arming on every release.
func (a *Allocator) armReaper(now time.Time) {
	d := a.slots[a.leases[0]].expires.Sub(now)
	if a.timer == nil {
		a.timer = time.AfterFunc(d, a.reap)
		return
	}
	a.timer.Reset(d)
}

// reap runs on the timer's goroutine, where a panic would take the whole
// service down: it kills this process instead, for its supervisor to see.
func (a *Allocator) reap() {
	if err := sup.Protect(a.expire); err != nil {
		a.die(err)
	}
}

func (a *Allocator) expire() error {
	if n := a.expireDue(); n > 0 {
		a.log.Info().Str("process", source).Int("count", n).Msg("frequency leases expired")
	}
	return nil
}

// expireDue releases every lease that has run out, earliest first, re-arms
// the timer for the next one and tells how many it released. It counts them
// before changed clears the alarms, so that whoever sees the alarm cleared
// also sees the count.
func (a *Allocator) expireDue() int {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock() // deferred so that a panic leaves the lock free for die
	if a.life != running {
		return 0
	}
	n := 0
	for len(a.leases) > 0 && !a.slots[a.leases[0]].expires.After(now) {
		i := a.leases[0]
		a.Handled("expire", a.slots[i].label)
		a.release(i)
		n++
	}
	if len(a.leases) > 0 {
		a.armReaper(now)
	}
	if n > 0 {
		a.metrics.deallocation(expired, n)
		a.changed()
	}
	return n
}

func (a *Allocator) removeLease(j int32) {
	last := int32(len(a.leases) - 1)
	a.slots[a.leases[j]].lease = none
	if j != last {
		a.leases[j] = a.leases[last]
		a.slots[a.leases[j]].lease = j
	}
	a.leases = a.leases[:last]
	if j < last && !a.down(j) {
		a.up(j)
	}
}

func (a *Allocator) before(j, k int32) bool {
	x, y := &a.slots[a.leases[j]], &a.slots[a.leases[k]]
	if x.expires.Equal(y.expires) {
		return x.leaseN < y.leaseN
	}
	return x.expires.Before(y.expires)
}

func (a *Allocator) swap(j, k int32) {
	a.leases[j], a.leases[k] = a.leases[k], a.leases[j]
	a.slots[a.leases[j]].lease = j
	a.slots[a.leases[k]].lease = k
}

func (a *Allocator) up(j int32) {
	for j > 0 {
		parent := (j - 1) / 2
		if !a.before(j, parent) {
			return
		}
		a.swap(j, parent)
		j = parent
	}
}

// down sifts j towards the leaves and tells whether it moved.
func (a *Allocator) down(j int32) bool {
	start, n := j, int32(len(a.leases))
	for {
		child := 2*j + 1
		if child >= n {
			break
		}
		if right := child + 1; right < n && a.before(right, child) {
			child = right
		}
		if !a.before(child, j) {
			break
		}
		a.swap(j, child)
		j = child
	}
	return j != start
}

package frequency

import (
	"fmt"
	"slices"
	"time"

	"github.com/bsc-sim/bsc/internal/sup"
)

// Allocation is one frequency held by an owner.
type Allocation struct {
	Frequency int        `json:"frequency"`
	Owner     string     `json:"owner"`
	Since     time.Time  `json:"since"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // nil without a lease
}

// View is the allocator's state as the API shows it. Free is in free-list
// order, head first. Allocated is in pool order followed by the blocked
// allocations, which Blocked lists in ascending order.
type View struct {
	Pool      []int        `json:"pool"`
	Free      []int        `json:"free"`
	Allocated []Allocation `json:"allocated"`
	Blocked   []int        `json:"blocked"`
}

// View returns the current state; a stopped instance has none, so its View
// is empty.
func (a *Allocator) View() View {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.life != running {
		return View{}
	}
	return a.view()
}

func (a *Allocator) view() View {
	v := View{
		Pool:      slices.Clone(a.pool),
		Free:      make([]int, 0, len(a.free)),
		Allocated: make([]Allocation, 0, a.allocated+a.blocked),
		Blocked:   make([]int, 0, a.blocked),
	}
	for k := len(a.free) - 1; k >= 0; k-- {
		v.Free = append(v.Free, a.slots[a.free[k]].freq)
	}
	for j := range a.slots {
		s := &a.slots[j]
		if s.state != slotAllocated {
			continue
		}
		al := Allocation{Frequency: s.freq, Owner: s.owner, Since: s.since}
		if s.lease != none {
			expires := s.expires
			al.ExpiresAt = &expires
		}
		v.Allocated = append(v.Allocated, al)
		if s.blocked {
			v.Blocked = append(v.Blocked, s.freq)
		}
	}
	return v
}

// Inspect answers introspection (sup.Inspector). A stopped instance reports
// status "stopped", its last counts and why it ended.
func (a *Allocator) Inspect() sup.Info {
	a.mu.Lock()
	state := fmt.Sprintf("free=%d allocated=%d blocked=%d", len(a.free), a.allocated, a.blocked)
	life, reason := a.life, a.reason
	a.mu.Unlock()
	info := a.Info(state)
	if life != running {
		info.Status = "stopped"
	}
	if reason != nil {
		info.State += " exit=" + reason.Error()
	}
	return info
}

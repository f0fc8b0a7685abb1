package frequency

import (
	"slices"
	"strconv"
)

// SetPool replaces the pool at run time without dropping a call (the book's
// release upgrade). Added frequencies join the tail of the free list, removed
// free ones vanish, removed allocated ones become blocked: they stay with
// their owner and are retired when released. A blocked frequency that a
// later pool brings back is an ordinary allocation again.
func (a *Allocator) SetPool(pool []int) (View, error) {
	if err := ValidatePool(pool); err != nil {
		return View{}, err
	}
	pool = slices.Clone(pool)
	a.mu.Lock()
	if a.life != running {
		a.mu.Unlock()
		return View{}, ErrUnavailable
	}
	a.rebuild(pool)
	a.changed()
	v := a.view()
	a.mu.Unlock()
	a.Handled("set_pool", strconv.Itoa(len(pool)))
	a.log.Info().Str("process", source).Ints("pool", pool).Int("free", len(v.Free)).
		Int("allocated", len(v.Allocated)).Ints("blocked", v.Blocked).Msg("frequency pool reconfigured")
	return v, nil
}

// rebuild lays the slots out afresh for pool: the pool's frequencies in
// order, then the blocked ones ascending, retired slots dropped. Allocations,
// owners' lists, leases and the order of the free list carry over. It is
// O(pool) and only runs at New and SetPool, which keeps the hot path free of
// any bookkeeping for removals.
func (a *Allocator) rebuild(pool []int) {
	old, oldIndex := a.slots, a.index
	slots := make([]slot, 0, len(pool)+a.blocked)
	index := make(map[int]int32, len(pool)+a.blocked)
	add := func(s slot) {
		index[s.freq] = int32(len(slots))
		slots = append(slots, s)
	}
	for _, f := range pool {
		if j, ok := oldIndex[f]; ok && old[j].state == slotAllocated {
			s := old[j]
			s.blocked = false
			add(s)
			continue
		}
		add(slot{freq: f, label: strconv.Itoa(f), lease: none, prev: none, next: none})
	}
	var blocked []int
	for j := range old {
		if old[j].state == slotAllocated {
			if _, kept := index[old[j].freq]; !kept {
				blocked = append(blocked, old[j].freq)
			}
		}
	}
	slices.Sort(blocked)
	for _, f := range blocked {
		s := old[oldIndex[f]]
		s.blocked = true
		add(s)
	}

	// The free list, head first: the old free frequencies still in the pool,
	// in their order, then the added ones in pool order. The stack holds it
	// reversed.
	wasFree := make(map[int]bool, len(a.free))
	list := make([]int32, 0, len(pool))
	for k := len(a.free) - 1; k >= 0; k-- {
		f := old[a.free[k]].freq
		wasFree[f] = true
		if j, ok := index[f]; ok {
			list = append(list, j)
		}
	}
	for _, f := range pool {
		if j := index[f]; slots[j].state == slotFree && !wasFree[f] {
			list = append(list, j)
		}
	}
	slices.Reverse(list)

	owners := make(map[string]int32, len(a.owners))
	for owner, head := range a.owners {
		prev := int32(none)
		for j := head; j != none; j = old[j].next {
			k := index[old[j].freq]
			slots[k].prev, slots[k].next = prev, none
			if prev == none {
				owners[owner] = k
			} else {
				slots[prev].next = k
			}
			prev = k
		}
	}

	// The heap keeps its shape: its order is the leases' own, not the slots'.
	leases := make([]int32, 0, len(a.leases))
	for _, j := range a.leases {
		k := index[old[j].freq]
		slots[k].lease = int32(len(leases))
		leases = append(leases, k)
	}

	a.pool, a.slots, a.index, a.free, a.owners, a.leases = pool, slots, index, list, owners, leases
	a.allocated = len(slots) - len(blocked) - len(list)
	a.blocked = len(blocked)
}

package hlr

import (
	"fmt"
	"slices"

	"github.com/bsc-sim/bsc/internal/store"
)

// Registry is the attachment register: which live controller (T) serves
// each attached MSISDN. It is the book's ETS tables owned by the phone
// supervisor, and like them it belongs to the supervisor instance: it
// survives a phone controller's crash (the restarted controller Replaces
// the dead one) and is emptied (Clear) when the supervisor restarts.
//
// Only the MSISDN → controller direction is stored. The reverse lookup (the
// book's lookup_ms) is the controller's own MSISDN field, so a second map,
// and the memory and locking to keep the two consistent, is not needed.
//
// The zero value is an empty registry. Every method is safe for concurrent
// use.
type Registry[T any] struct {
	shards [shardCount]shard[T]
}

// Attach records v as m's controller; ErrAlreadyAttached if m has one.
func (r *Registry[T]) Attach(m MSISDN, v T) error {
	sh := &r.shards[shardOf(m)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[m]; ok {
		return fmt.Errorf("%w: %s", ErrAlreadyAttached, m)
	}
	if sh.m == nil {
		sh.m = make(map[MSISDN]T)
	}
	sh.m[m] = v
	return nil
}

// Lookup is m's controller (the book's lookup_id).
func (r *Registry[T]) Lookup(m MSISDN) (T, bool) {
	sh := &r.shards[shardOf(m)]
	sh.mu.RLock()
	v, ok := sh.m[m]
	sh.mu.RUnlock()
	return v, ok
}

// Replace makes v m's controller if m is attached, and reports whether it
// was: a restarted controller takes over its MSISDN, but a phone detached
// meanwhile stays detached.
func (r *Registry[T]) Replace(m MSISDN, v T) bool {
	sh := &r.shards[shardOf(m)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[m]; !ok {
		return false
	}
	sh.m[m] = v
	return true
}

// Detach removes m and returns the controller it had; ErrNotAttached if it
// had none.
func (r *Registry[T]) Detach(m MSISDN) (T, error) {
	sh := &r.shards[shardOf(m)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, ok := sh.m[m]
	if !ok {
		return v, fmt.Errorf("%w: %s", ErrNotAttached, m)
	}
	delete(sh.m, m)
	return v, nil
}

// Len is the number of attached MSISDNs.
func (r *Registry[T]) Len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// List returns, in order, up to store.PageLimit(limit) attached MSISDNs
// greater than after (the zero MSISDN: from the first); the last one is the
// next page's cursor. Nothing is kept sorted, so each page scans every entry: O(n) map
// reads plus O(n log limit) sorting in the worst case, about 40 ms for a
// million entries on two cores. That is an operator's listing, not a hot path, and
// keeping attach O(1) matters more. A page is a snapshot per shard, not of
// the whole registry.
func (r *Registry[T]) List(after MSISDN, limit int) []MSISDN {
	limit = store.PageLimit(limit)
	// Collect candidates below bound; when the buffer fills, keep the limit
	// smallest and lower bound to the largest kept, so that most keys are
	// rejected by one comparison.
	buf := make([]MSISDN, 0, 2*limit)
	bound := ^MSISDN(0)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for m := range sh.m {
			if m <= after || m >= bound {
				continue
			}
			buf = append(buf, m)
			if len(buf) == cap(buf) {
				slices.Sort(buf)
				buf = buf[:limit]
				bound = buf[limit-1]
			}
		}
		sh.mu.RUnlock()
	}
	slices.Sort(buf)
	if len(buf) > limit {
		buf = buf[:limit]
	}
	return buf
}

// Values returns every controller, shard by shard (a snapshot per shard),
// for the rare sweeps over all phones, such as telling those whose peer's
// cell changed owner.
func (r *Registry[T]) Values() []T {
	var out []T
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, v := range sh.m {
			out = append(out, v)
		}
		sh.mu.RUnlock()
	}
	return out
}

// Clear empties the registry and gives its memory back, as a restarted
// supervisor starts with empty tables.
func (r *Registry[T]) Clear() {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		sh.m = nil
		sh.mu.Unlock()
	}
}

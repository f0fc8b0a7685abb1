package hlr

import (
	"math/rand/v2"
	"testing"
)

// TestMSISDNTableMatchesMap runs random adds, removes and lookups on the
// open-addressing table and on a map, over key ranges small enough that
// probe runs collide and wrap around the table's end, and large enough to
// grow it.
func TestMSISDNTableMatchesMap(t *testing.T) {
	for _, keys := range []int{3, 20, 300, 5000} {
		rng := rand.New(rand.NewPCG(uint64(keys), 1))
		var tab msisdnTable
		model := map[MSISDN]bool{}
		for op := 0; op < 40*keys; op++ {
			m := nth(rng.IntN(keys) + 1)
			switch rng.IntN(3) {
			case 0:
				tab.add(m)
				model[m] = true
			case 1:
				tab.remove(m)
				delete(model, m)
			}
			if tab.has(m) != model[m] || tab.n != len(model) {
				t.Fatalf("%d keys, op %d on %s: has %v n %d; map %v, %d", keys, op, m, tab.has(m), tab.n, model[m], len(model))
			}
		}
		for i := 1; i <= keys; i++ {
			if m := nth(i); tab.has(m) != model[m] {
				t.Fatalf("%d keys: %s has %v, map %v", keys, m, tab.has(m), model[m])
			}
		}
		if !fits(tab.n, len(tab.slots)) {
			t.Fatalf("%d keys: %d entries in %d slots, over the load limit", keys, tab.n, len(tab.slots))
		}
	}
}

func TestMSISDNTableReserve(t *testing.T) {
	var tab msisdnTable
	tab.reserve(1000)
	slots := len(tab.slots)
	for i := 1; i <= 1000; i++ {
		tab.add(nth(i))
	}
	if len(tab.slots) != slots || tab.n != 1000 {
		t.Fatalf("reserved %d slots, grew to %d for 1000 entries (n %d)", slots, len(tab.slots), tab.n)
	}
}

func TestMSISDNSet(t *testing.T) {
	var s msisdnSet
	ms := []MSISDN{msisdn(t, "0"), msisdn(t, "00"), msisdn(t, "123"), msisdn(t, "0123")}
	for _, m := range ms {
		s.add(m)
		s.add(m)
	}
	if s.len() != len(ms) {
		t.Fatalf("len %d, want %d", s.len(), len(ms))
	}
	s.remove(ms[2])
	s.remove(msisdn(t, "999"))
	for i, m := range ms {
		if s.has(m) != (i != 2) {
			t.Fatalf("has(%s) = %v", m, s.has(m))
		}
	}
}

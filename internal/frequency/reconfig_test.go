package frequency

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestSetPoolBlocksRemovedAllocations(t *testing.T) {
	a, rec, _ := start(t, book, Config{})
	mustAllocate(t, a, "a") // 10
	mustAllocate(t, a, "b") // 11
	v, err := a.SetPool([]int{11, 12, 13, 20, 21})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Free, []int{12, 13, 20, 21}) || !slices.Equal(v.Blocked, []int{10}) {
		t.Fatalf("view %+v: want free [12 13 20 21] (added at the tail), blocked [10]", v)
	}
	if owners := ownersOf(v); !reflect.DeepEqual(owners, map[int]string{10: "a", 11: "b"}) {
		t.Fatalf("allocated %v: the blocked frequency must stay with its owner", owners)
	}
	for _, want := range []int{12, 13, 20, 21} {
		if got := mustAllocate(t, a, "c"); got != want {
			t.Fatalf("got %d, want %d", got, want)
		}
	}
	_, err = a.Allocate("c", 0)
	wantCode(t, err, ErrNoFrequency) // 10 is never handed out again
	if err := a.Deallocate("a", 10); err != nil {
		t.Fatal(err)
	}
	if v := a.View(); len(v.Free) != 0 || len(v.Blocked) != 0 || ownersOf(v)[10] != "" {
		t.Fatalf("the released blocked frequency did not vanish: %+v", v)
	}
	if !rec.isActive(alarmNoFrequency) {
		t.Fatal("retiring a blocked frequency cleared no_frequency while the free list is empty")
	}
	wantCode(t, a.Deallocate("a", 10), ErrNotAllocated)
	rec.check(t)
}

func TestSetPoolReaddsBlocked(t *testing.T) {
	a, _, _ := start(t, book, Config{})
	mustAllocate(t, a, "a") // 10
	if _, err := a.SetPool([]int{11, 12}); err != nil {
		t.Fatal(err)
	}
	v, err := a.SetPool([]int{12, 11, 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Blocked) != 0 || ownersOf(v)[10] != "a" || !slices.Equal(v.Free, []int{11, 12}) {
		t.Fatalf("view %+v: want 10 back to normal, still a's", v)
	}
	if err := a.Deallocate("a", 10); err != nil {
		t.Fatal(err)
	}
	if got := a.View().Free; !slices.Equal(got, []int{10, 11, 12}) {
		t.Fatalf("free = %v: a re-added frequency is released like any other", got)
	}
}

// Reconfiguration carries owners and leases over.
func TestSetPoolKeepsOwnersAndLeases(t *testing.T) {
	clk := newClock()
	a, _, _ := start(t, book, Config{Now: clk.Now})
	a.Allocate("a", 0)                                              // 10
	a.Allocate("a", 10*time.Millisecond)                            // 11
	a.Allocate("b", 20*time.Millisecond)                            // 12
	if _, err := a.SetPool([]int{15, 14, 13, 12, 30}); err != nil { // 10, 11 blocked
		t.Fatal(err)
	}
	clk.advance(15 * time.Millisecond)
	a.reap() // 11 expires and is retired
	if got := a.ReleaseOwner("a"); !slices.Equal(got, []int{10}) {
		t.Fatalf("a released %v, want [10]", got)
	}
	clk.advance(5 * time.Millisecond)
	a.reap() // 12 expires to the head
	if v := a.View(); !slices.Equal(v.Free, []int{12, 13, 14, 15, 30}) || len(v.Allocated) != 0 || len(v.Blocked) != 0 {
		t.Fatalf("view %+v", v)
	}
}

// The no_frequency alarm follows the free list through reconfiguration.
func TestSetPoolKeepsAlarmInvariant(t *testing.T) {
	a, rec, _ := start(t, []int{10, 11}, Config{})
	mustAllocate(t, a, "a")
	steps := []struct {
		pool   []int
		active bool
	}{
		{[]int{10}, true},      // the free 11 vanishes: the list is empty
		{[]int{10, 12}, false}, // 12 joins
		{[]int{12}, false},     // 10 blocked, 12 still free
		{[]int{13}, false},
		{[]int{10}, true},
	}
	for _, s := range steps {
		if _, err := a.SetPool(s.pool); err != nil {
			t.Fatal(err)
		}
		if got := rec.isActive(alarmNoFrequency); got != s.active {
			t.Fatalf("pool %v: no_frequency active = %v, want %v", s.pool, got, s.active)
		}
	}
	rec.check(t)
}

func TestSetPoolRejectsBadPools(t *testing.T) {
	a, _, _ := start(t, book, Config{})
	mustAllocate(t, a, "a")
	before := a.View()
	for _, pool := range [][]int{nil, {1, 1}, {0}, {-3}} {
		if _, err := a.SetPool(pool); !errors.Is(err, ErrInvalidPool) {
			t.Fatalf("SetPool(%v) = %v, want ErrInvalidPool", pool, err)
		}
	}
	if after := a.View(); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused pool changed the view: %+v", after)
	}
}

func TestPoolHighHysteresis(t *testing.T) {
	pool, _ := ParsePool("1-10")
	a, rec, _ := start(t, pool, Config{})
	held := []int{}
	steps := []struct {
		to     int // allocations held after the step
		active bool
	}{
		{7, false}, // 70 %
		{8, true},  // 80 %: raise
		{7, true},  // 70 % is not below 70 %
		{9, true},  // no second raise
		{10, true},
		{6, false}, // 60 %: clear
		{5, false}, // no second clear
		{8, true},
		{0, false},
	}
	for _, s := range steps {
		for len(held) < s.to {
			held = append(held, mustAllocate(t, a, "x"))
		}
		for len(held) > s.to {
			if err := a.Deallocate("x", held[len(held)-1]); err != nil {
				t.Fatal(err)
			}
			held = held[:len(held)-1]
		}
		if got := rec.isActive(alarmPoolHigh); got != s.active {
			t.Fatalf("%d of 10 held: frequency_pool_high active = %v, want %v", s.to, got, s.active)
		}
	}
	if set, clear := rec.count("set_alarm:frequency_pool_high"), rec.count("clear_alarm:frequency_pool_high"); set != 2 || clear != 2 {
		t.Fatalf("%d raises and %d clears, want 2 and 2", set, clear)
	}
	rec.check(t)
}

func TestPoolHighFollowsReconfiguration(t *testing.T) {
	pool, _ := ParsePool("1-5")
	a, rec, _ := start(t, pool, Config{})
	for range 3 {
		mustAllocate(t, a, "x") // 60 %
	}
	if _, err := a.SetPool([]int{1, 2, 3, 4}); err != nil { // 75 %
		t.Fatal(err)
	}
	if rec.isActive(alarmPoolHigh) {
		t.Fatal("raised at 75 %")
	}
	if _, err := a.SetPool([]int{1, 2, 3}); err != nil { // 100 %
		t.Fatal(err)
	}
	if !rec.isActive(alarmPoolHigh) || !rec.isActive(alarmNoFrequency) {
		t.Fatal("a full pool must raise both alarms")
	}
	if _, err := a.SetPool([]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); err != nil { // 30 %
		t.Fatal(err)
	}
	if rec.isActive(alarmPoolHigh) || rec.isActive(alarmNoFrequency) {
		t.Fatal("growing the pool must clear both alarms")
	}
	rec.check(t)
}

func ownersOf(v View) map[int]string {
	owners := map[int]string{}
	for _, al := range v.Allocated {
		owners[al.Frequency] = al.Owner
	}
	return owners
}

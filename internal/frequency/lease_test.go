package frequency

import (
	"github.com/bsc-sim/bsc/internal/testutil"

	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// On the real clock: the reaper's timer releases the lease and clears the
// alarm the allocation raised.
func TestLeaseExpires(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, rec, _ := start(t, []int{10}, Config{Metrics: NewMetrics(reg).Cell(0)})
	al, err := a.Allocate("client-7", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if al.ExpiresAt == nil || al.ExpiresAt.Sub(al.Since) != 20*time.Millisecond {
		t.Fatalf("allocation %+v, want a 20ms lease", al)
	}
	// Counted rather than read as active: a loaded machine may let the
	// lease run out before this line.
	if n := rec.count("set_alarm:" + alarmNoFrequency); n != 1 {
		t.Fatalf("no_frequency raised %d times, want once", n)
	}
	rec.waitFor(t, "the lease to expire", func() bool { return !rec.isActive(alarmNoFrequency) })
	if v := a.View(); !slices.Equal(v.Free, []int{10}) || len(v.Allocated) != 0 {
		t.Fatalf("after expiry: %+v", v)
	}
	if v, _ := testutil.Metric(t, reg, "bsc_frequency_deallocations_total", "result", "expired"); v != 1 {
		t.Fatalf("deallocations{expired} = %v, want 1", v)
	}
	wantCode(t, a.Deallocate("client-7", 10), ErrNotAllocated)
	rec.check(t)
}

// Leases go back earliest first, and equal expiries in allocation order, so
// the free list order is defined.
func TestLeasesExpireInOrder(t *testing.T) {
	clk := newClock()
	a, _, _ := start(t, []int{1, 2, 3, 4, 5, 6}, Config{Now: clk.Now})
	for _, ttl := range []time.Duration{30, 10, 20, 10, 0, 40} { // 1..6
		if _, err := a.Allocate("c", ttl*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance time.Duration
		free    []int
	}{
		{9 * time.Millisecond, []int{}},
		{1 * time.Millisecond, []int{4, 2}},
		{20 * time.Millisecond, []int{1, 3, 4, 2}},
		{time.Hour, []int{6, 1, 3, 4, 2}},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		a.reap()
		if got := a.View().Free; !slices.Equal(got, s.free) {
			t.Fatalf("free = %v, want %v", got, s.free)
		}
	}
	if v := a.View(); len(v.Allocated) != 1 || v.Allocated[0].Frequency != 5 || v.Allocated[0].ExpiresAt != nil {
		t.Fatalf("allocated %+v, want only 5 without a lease", v.Allocated)
	}
}

// Deallocating cancels the lease: the frequency's next holder keeps it.
func TestDeallocateCancelsLease(t *testing.T) {
	clk := newClock()
	a, _, _ := start(t, book, Config{Now: clk.Now})
	if _, err := a.Allocate("old", 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := a.Deallocate("old", 10); err != nil {
		t.Fatal(err)
	}
	if got := mustAllocate(t, a, "new"); got != 10 {
		t.Fatalf("got %d", got)
	}
	clk.advance(time.Hour)
	a.reap()
	if v := a.View(); len(v.Allocated) != 1 || v.Allocated[0].Owner != "new" {
		t.Fatalf("the cancelled lease released the new holder's frequency: %+v", v)
	}
}

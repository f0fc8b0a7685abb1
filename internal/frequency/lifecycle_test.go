package frequency

import (
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/sup"
)

func TestStopAndCrash(t *testing.T) {
	cases := []struct {
		name   string
		kill   func(*Allocator)
		normal bool
	}{
		{"stop", (*Allocator).Stop, true},
		{"crash", (*Allocator).Crash, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, rec, ex := start(t, []int{10}, Config{})
			mustAllocate(t, a, "a") // raises no_frequency and frequency_pool_high
			c.kill(a)
			c.kill(a)
			a.Stop()
			a.Crash()
			if n := ex.n.Load(); n != 1 {
				t.Fatalf("exit called %d times, want 1", n)
			}
			reason := ex.last()
			if sup.IsNormal(reason) != c.normal {
				t.Fatalf("exit reason %v, normal = %v, want %v", reason, sup.IsNormal(reason), c.normal)
			}
			var pe *sup.PanicError
			if !c.normal && (!errors.As(reason, &pe) || pe.Value != "injected crash") {
				t.Fatalf("exit reason %#v, want *sup.PanicError{injected crash}", reason)
			}
			if c.normal && !errors.Is(reason, sup.ErrShutdown) {
				t.Fatalf("exit reason %v, want ErrShutdown", reason)
			}
			assertUnavailable(t, a)
			if rec.isActive(alarmNoFrequency) || rec.isActive(alarmPoolHigh) {
				t.Fatal("a dead allocator left its alarms raised")
			}
			rec.check(t)
			if info := a.Inspect(); info.Status != "stopped" {
				t.Fatalf("status %q after %s", info.Status, c.name)
			}
		})
	}
}

func assertUnavailable(t *testing.T, a *Allocator) {
	t.Helper()
	_, err := a.Allocate("a", 0)
	wantCode(t, err, ErrUnavailable)
	wantCode(t, a.Deallocate("a", 10), ErrUnavailable)
	_, err = a.SetPool([]int{1})
	wantCode(t, err, ErrUnavailable)
	if got := a.ReleaseOwner("a"); got != nil {
		t.Fatalf("ReleaseOwner on a dead instance = %v", got)
	}
	if v := a.View(); !reflect.DeepEqual(v, View{}) {
		t.Fatalf("View on a dead instance = %+v", v)
	}
}

func TestNotStartedIsUnavailable(t *testing.T) {
	assertUnavailable(t, New(Config{Pool: book}))
}

func TestStopRacingCrashExitsOnce(t *testing.T) {
	for range 50 {
		a, _, ex := start(t, book, Config{})
		var wg sync.WaitGroup
		wg.Go(a.Stop)
		wg.Go(a.Crash)
		wg.Go(func() { a.Allocate("x", 0) })
		wg.Wait()
		if n := ex.n.Load(); n != 1 {
			t.Fatalf("exit called %d times, want 1", n)
		}
	}
}

func TestStartFailures(t *testing.T) {
	ex := &exits{}
	if _, err := New(Config{Pool: []int{1, 1}}).Start(t.Context(), ex.exit); !errors.Is(err, ErrInvalidPool) {
		t.Fatalf("start with a bad pool: %v", err)
	}
	a, _, _ := start(t, book, Config{})
	if _, err := a.Start(t.Context(), ex.exit); err == nil {
		t.Fatal("second start succeeded")
	}
	a.Stop()
	if _, err := a.Start(t.Context(), ex.exit); err == nil {
		t.Fatal("start after stop succeeded")
	}
	if ex.n.Load() != 0 {
		t.Fatal("a failed start called exit")
	}
}

func TestStopDisarmsTheReaper(t *testing.T) {
	a, _, _ := start(t, book, Config{})
	if _, err := a.Allocate("a", time.Hour); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	if a.timer.Stop() {
		t.Fatal("lease reaper still armed after Stop")
	}
}

// A panic in the reaper kills the process instead of the service.
func TestReaperPanicCrashesTheProcess(t *testing.T) {
	var broken atomic.Bool
	a, _, ex := start(t, book, Config{Now: func() time.Time {
		if broken.CompareAndSwap(true, false) {
			panic("clock broke")
		}
		return time.Now()
	}})
	broken.Store(true)
	a.reap()
	var pe *sup.PanicError
	if !errors.As(ex.last(), &pe) || pe.Value != "clock broke" || ex.n.Load() != 1 {
		t.Fatalf("exit %d times with %v", ex.n.Load(), ex.last())
	}
	assertUnavailable(t, a)
}

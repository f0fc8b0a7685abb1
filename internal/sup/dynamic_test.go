package sup

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// lightProc is a dynamic child without a goroutine, like an idle phone:
// Stop ends it at once.
type lightProc struct {
	exit ExitFunc
	once sync.Once
}

func (p *lightProc) Stop() { p.crash(ErrShutdown) }

func (p *lightProc) crash(reason error) { p.once.Do(func() { p.exit(reason) }) }

// lightChildren starts light processes and keeps the latest incarnation of
// each by key, so tests can crash them.
type lightChildren struct {
	mu     sync.Mutex
	procs  map[string]*lightProc
	starts atomic.Int64
}

func (l *lightChildren) start(key string) StartFunc {
	return func(ctx context.Context, exit ExitFunc) (Proc, error) {
		p := &lightProc{exit: exit}
		l.mu.Lock()
		l.procs[key] = p
		l.mu.Unlock()
		l.starts.Add(1)
		return p, nil
	}
}

func (l *lightChildren) get(key string) *lightProc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.procs[key]
}

func startPhones(t *testing.T, maxR int, restart Restart, rep Reporter, exit ExitFunc) *Supervisor {
	t.Helper()
	s, err := Start(context.Background(), Spec{Name: "phones", Strategy: SimpleOneForOne, MaxRestarts: maxR, MaxSeconds: 3600,
		Template: ChildSpec{Name: "phone", Restart: restart, Shutdown: 50 * time.Millisecond}, Reporter: rep}, exit)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDynamicStartTerminateCountList(t *testing.T) {
	s := startPhones(t, 10, Transient, nil, nil)
	defer stopAndWait(t, s)
	l := &lightChildren{procs: map[string]*lightProc{}}
	ids := map[uint64]bool{}
	for i := 0; i < 5; i++ {
		id, err := s.StartChild(context.Background(), l.start(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if n := s.CountChildren(); n != 5 || len(ids) != 5 {
		t.Fatalf("count %d, distinct ids %d", n, len(ids))
	}
	seen := 0
	s.EachChild(func(c ChildInfo) bool {
		if !ids[c.ID] {
			t.Errorf("listed unknown id %d", c.ID)
		}
		seen++
		return true
	})
	if seen != 5 {
		t.Fatalf("listed %d children", seen)
	}
	for id := range ids {
		if err := s.TerminateChild(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if err := s.TerminateChild(context.Background(), id); !errors.Is(err, ErrNoChild) {
			t.Fatalf("second terminate: %v", err)
		}
		break
	}
	if n := s.CountChildren(); n != 4 {
		t.Fatalf("count after terminate %d", n)
	}
	if got := s.Tree(); got.Count == nil || *got.Count != 4 || got.Strategy != "simple_one_for_one" {
		t.Fatalf("tree %+v", got)
	}
}

func TestDynamicCrashRestartsOnlyThatChild(t *testing.T) {
	s := startPhones(t, 10, Transient, nil, nil)
	defer stopAndWait(t, s)
	l := &lightChildren{procs: map[string]*lightProc{}}
	idA, _ := s.StartChild(context.Background(), l.start("a"))
	if _, err := s.StartChild(context.Background(), l.start("b")); err != nil {
		t.Fatal(err)
	}
	b := l.get("b")
	l.get("a").crash(&PanicError{Value: "boom"})
	// The child is listed again once its start has returned, which is
	// after the start function counted it.
	var restarted ChildInfo
	testutil.Eventually(t, 5*time.Second, "a restarted and listed", func() bool {
		restarted = ChildInfo{}
		s.EachChild(func(c ChildInfo) bool {
			if c.ID == idA {
				restarted = c
			}
			return true
		})
		return restarted.Restarts > 0
	})
	if l.starts.Load() != 3 || l.get("b") != b || s.CountChildren() != 2 {
		t.Fatalf("starts %d, b changed or count %d", l.starts.Load(), s.CountChildren())
	}
	if restarted.Restarts != 1 {
		t.Fatalf("restarted child keeps its id with 1 restart, got %+v", restarted)
	}
	// A normal exit of a transient child is not restarted.
	l.get("b").crash(nil)
	testutil.Eventually(t, 5*time.Second, "b gone", func() bool { return s.CountChildren() == 1 })
	if l.starts.Load() != 3 {
		t.Fatal("normal exit of a transient child was restarted")
	}
}

func TestDynamicIntensityGivesUp(t *testing.T) {
	ex := newExitCatcher()
	s := startPhones(t, 2, Transient, nil, ex.exit)
	l := &lightChildren{procs: map[string]*lightProc{}}
	if _, err := s.StartChild(context.Background(), l.start("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartChild(context.Background(), l.start("b")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		l.get("a").crash(errBoom)
		if i < 2 {
			want := int64(3 + i)
			testutil.Eventually(t, 5*time.Second, "restart", func() bool { return l.starts.Load() == want })
		}
	}
	var ie *IntensityError
	if reason := ex.wait(t); !errors.As(reason, &ie) {
		t.Fatalf("exit %v", reason)
	}
	if n := s.CountChildren(); n != 0 {
		t.Fatalf("%d children left after giving up", n)
	}
	if _, err := s.StartChild(context.Background(), l.start("c")); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("start after give-up: %v", err)
	}
}

func TestDynamicStopAbandonsDeafChildren(t *testing.T) {
	rep := &reports{}
	s := startPhones(t, 1, Transient, rep, nil)
	deaf := func(ctx context.Context, exit ExitFunc) (Proc, error) { return deafProc{}, nil }
	for i := 0; i < 3; i++ {
		if _, err := s.StartChild(context.Background(), deaf); err != nil {
			t.Fatal(err)
		}
	}
	l := &lightChildren{procs: map[string]*lightProc{}}
	if _, err := s.StartChild(context.Background(), l.start("ok")); err != nil {
		t.Fatal(err)
	}
	stopAndWait(t, s)
	if len(rep.abandoned) != 1 || rep.abandoned[0] != "phone:3" {
		t.Fatalf("abandoned reports %v, want one report of 3", rep.abandoned)
	}
}

func TestDynamicConcurrentStartsAndStop(t *testing.T) {
	s := startPhones(t, 10, Transient, nil, nil)
	l := &lightChildren{procs: map[string]*lightProc{}}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if _, err := s.StartChild(context.Background(), l.start(fmt.Sprint(g, "-", i))); err != nil && !errors.Is(err, ErrNotRunning) {
					t.Error(err)
					return
				}
			}
		}()
	}
	testutil.Eventually(t, 5*time.Second, "some children", func() bool { return s.CountChildren() > 100 })
	stopAndWait(t, s)
	wg.Wait()
	if n := s.CountChildren(); n != 0 {
		t.Fatalf("%d children survived the stop", n)
	}
}

// BenchmarkDynamicStartStop starts and stops a million simple_one_for_one
// children per iteration and reports time and heap bytes per child.
func BenchmarkDynamicStartStop1M(b *testing.B) {
	const n = 1_000_000
	start := func(ctx context.Context, exit ExitFunc) (Proc, error) { return &lightProc{exit: exit}, nil }
	for b.Loop() {
		s, err := Start(context.Background(), Spec{Name: "phones", Strategy: SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 3600,
			Template: ChildSpec{Name: "phone", Restart: Transient}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			if _, err := s.StartChild(context.Background(), start); err != nil {
				b.Fatal(err)
			}
		}
		startDur := time.Since(t0)
		runtime.ReadMemStats(&after)
		t1 := time.Now()
		s.Stop()
		<-s.Done()
		stopDur := time.Since(t1)
		b.ReportMetric(float64(startDur.Nanoseconds())/n, "ns/start")
		b.ReportMetric(float64(stopDur.Nanoseconds())/n, "ns/stop")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/child")
	}
}

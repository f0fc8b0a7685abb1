package sup

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

func threeChildren(r *recorder, restart Restart) []ChildSpec {
	var cs []ChildSpec
	for _, n := range []string{"a", "b", "c"} {
		cs = append(cs, ChildSpec{Name: n, Start: r.worker(n), Restart: restart})
	}
	return cs
}

// The book's experiment: three children, the middle one crashes; which
// restart, and in what order, depends on the strategy.
func TestStrategiesRestartInOrder(t *testing.T) {
	cases := []struct {
		strategy Strategy
		want     []string
	}{
		{OneForOne, []string{"exit:b", "start:b"}},
		{OneForAll, []string{"exit:b", "stop:c", "stop:a", "start:a", "start:b", "start:c"}},
		{RestForOne, []string{"exit:b", "stop:c", "start:b", "start:c"}},
	}
	for _, c := range cases {
		t.Run(c.strategy.String(), func(t *testing.T) {
			r := newRecorder()
			s, err := Start(context.Background(), Spec{Name: "top", Strategy: c.strategy, MaxRestarts: 5, MaxSeconds: 3600,
				Children: threeChildren(r, Permanent)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer stopAndWait(t, s)
			r.waitEvents(t, 0, "start:a", "start:b", "start:c")
			r.exitWith("b", errBoom)
			r.waitEvents(t, 3, c.want...)
			testutil.Eventually(t, 5*time.Second, "one restart in the tree", func() bool { return s.Tree().Restarts == 1 })
		})
	}
}

func stopAndWait(t *testing.T, s *Supervisor) {
	t.Helper()
	s.Stop()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("supervisor did not stop")
	}
}

func TestStopIsReverseOrder(t *testing.T) {
	r := newRecorder()
	ex := newExitCatcher()
	s, err := Start(context.Background(), Spec{Name: "top", Strategy: OneForOne, MaxRestarts: 1, MaxSeconds: 1,
		Children: threeChildren(r, Permanent)}, ex.exit)
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if reason := ex.wait(t); !errors.Is(reason, ErrShutdown) {
		t.Fatalf("exit reason %v, want ErrShutdown", reason)
	}
	r.waitEvents(t, 3, "stop:c", "stop:b", "stop:a")
	if s.Err() != nil || s.Tree().State != "stopped" {
		t.Fatalf("err %v state %s", s.Err(), s.Tree().State)
	}
}

// Restart types on normal and abnormal exits. A sibling "z" is crashed
// after the child under test: once z is back, the supervisor has handled
// the earlier exit, so "not restarted" is observed without waiting on time.
func TestRestartTypes(t *testing.T) {
	cases := []struct {
		name      string
		restart   Restart
		exit      func(r *recorder)
		restarted bool
		removed   bool
	}{
		{"permanent normal", Permanent, func(r *recorder) { r.exitWith("x", nil) }, true, false},
		{"permanent error", Permanent, func(r *recorder) { r.exitWith("x", errBoom) }, true, false},
		{"transient normal", Transient, func(r *recorder) { r.exitWith("x", nil) }, false, false},
		{"transient shutdown", Transient, func(r *recorder) { r.exitWith("x", ErrShutdown) }, false, false},
		{"transient error", Transient, func(r *recorder) { r.exitWith("x", errBoom) }, true, false},
		{"transient panic", Transient, func(r *recorder) { r.panicWith("x", "kaboom") }, true, false},
		{"temporary normal", Temporary, func(r *recorder) { r.exitWith("x", nil) }, false, true},
		{"temporary error", Temporary, func(r *recorder) { r.exitWith("x", errBoom) }, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRecorder()
			s, err := Start(context.Background(), Spec{Name: "top", Strategy: OneForOne, MaxRestarts: 10, MaxSeconds: 3600,
				Children: []ChildSpec{
					{Name: "x", Start: r.worker("x"), Restart: c.restart},
					{Name: "z", Start: r.worker("z"), Restart: Permanent},
				}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer stopAndWait(t, s)
			r.waitEvents(t, 0, "start:x", "start:z")
			c.exit(r)
			if c.restarted {
				r.waitFor(t, "x restarted", func(ev []string) bool { return len(ev) == 4 && ev[3] == "start:x" })
			} else {
				testutil.Eventually(t, 5*time.Second, "x's exit handled", func() bool {
					x := childNode(s.Tree(), "x")
					return x == nil || x.State != "running"
				})
			}
			// Once z is back, the supervisor finished handling x's exit.
			r.exitWith("z", errBoom)
			r.waitFor(t, "z restarted", func(ev []string) bool { return ev[len(ev)-1] == "start:z" })
			x := childNode(s.Tree(), "x")
			switch {
			case c.removed && x != nil:
				t.Fatalf("temporary child still in the tree: %+v", *x)
			case !c.removed && x == nil:
				t.Fatal("child missing from the tree")
			case x != nil && (x.State == "running") != c.restarted:
				t.Fatalf("child state %s, restarted want %v", x.State, c.restarted)
			}
		})
	}
}

// The book: with max 2 restarts in 3600 s, the third crash within the hour
// stops the supervisor, its children, and escalates with an error.
func TestThirdRestartWithinIntensityIsFatal(t *testing.T) {
	r := newRecorder()
	rep := &reports{}
	ex := newExitCatcher()
	s, err := Start(context.Background(), Spec{Name: "bsc", Strategy: OneForOne, MaxRestarts: 2, MaxSeconds: 3600,
		Children: threeChildren(r, Permanent), Reporter: rep}, ex.exit)
	if err != nil {
		t.Fatal(err)
	}
	r.waitEvents(t, 0, "start:a", "start:b", "start:c")
	for i := 0; i < 2; i++ {
		r.exitWith("a", errBoom)
		r.waitEvents(t, 3+2*i, "exit:a", "start:a")
	}
	r.exitWith("a", errBoom)
	reason := ex.wait(t)
	var ie *IntensityError
	if !errors.As(reason, &ie) || ie.MaxRestarts != 2 || ie.Child != "a" || !errors.Is(reason, errBoom) {
		t.Fatalf("exit reason %v, want IntensityError for a wrapping boom", reason)
	}
	r.waitEvents(t, 7, "exit:a", "stop:c", "stop:b")
	if len(rep.gaveUp) != 1 || s.Tree().State != "failed" || s.Err() == nil {
		t.Fatalf("gave up %d times, state %s, err %v", len(rep.gaveUp), s.Tree().State, s.Err())
	}
}

func TestRestartStormReported(t *testing.T) {
	r := newRecorder()
	rep := &reports{}
	s, err := Start(context.Background(), Spec{Name: "top", Strategy: OneForOne, MaxRestarts: 4, MaxSeconds: 3600,
		Children: []ChildSpec{{Name: "a", Start: r.worker("a")}}, Reporter: rep}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.waitEvents(t, 0, "start:a")
	for i := 0; i < 3; i++ {
		r.exitWith("a", errBoom)
		r.waitEvents(t, 1+2*i, "exit:a", "start:a")
	}
	rep.mu.Lock()
	storms := append([]bool(nil), rep.storms...)
	rep.mu.Unlock()
	if len(storms) != 1 || !storms[0] {
		t.Fatalf("storm reports %v, want one activation after 3 of 4 restarts", storms)
	}
	stopAndWait(t, s)
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.storms[len(rep.storms)-1] {
		t.Fatal("storm still active after the supervisor stopped")
	}
}

func TestStormEndsWhenRestartsLeaveTheWindow(t *testing.T) {
	in := intensity{max: 2, period: time.Second}
	t0 := time.Unix(1000, 0)
	in.add(t0)
	in.add(t0.Add(100 * time.Millisecond))
	if !in.storm(t0.Add(200 * time.Millisecond)) {
		t.Fatal("2 restarts of 2 allowed is a storm")
	}
	if in.storm(t0.Add(1050 * time.Millisecond)) {
		t.Fatal("storm must end once the first restart left the window")
	}
	if !in.add(t0.Add(1050*time.Millisecond)) || in.add(t0.Add(1060*time.Millisecond)) {
		t.Fatal("intensity must allow 2 and refuse the third within the period")
	}
}

// A child supervisor that gives up is an abnormal exit for its parent,
// which restarts it.
func TestGiveUpEscalatesToParent(t *testing.T) {
	r := newRecorder()
	inner := Spec{Name: "inner", Strategy: OneForOne, MaxRestarts: 0, MaxSeconds: 3600,
		Children: []ChildSpec{{Name: "w", Start: r.worker("w")}}}
	outer, err := Start(context.Background(), Spec{Name: "outer", Strategy: OneForOne, MaxRestarts: 1, MaxSeconds: 3600,
		Children: []ChildSpec{{Name: "inner", Kind: SupervisorKind, Start: Supervise(inner, nil)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stopAndWait(t, outer)
	r.waitEvents(t, 0, "start:w")
	r.exitWith("w", errBoom)
	r.waitEvents(t, 1, "exit:w", "start:w")
	testutil.Eventually(t, 5*time.Second, "outer restarted inner", func() bool { return outer.Tree().Restarts == 1 })
	tree := outer.Tree()
	if tree.Restarts != 1 || tree.Children[0].Strategy != "one_for_one" || tree.Children[0].Children[0].Name != "w" {
		t.Fatalf("tree %+v", tree)
	}
}

// A child that ignores its shutdown is abandoned after its shutdown time,
// with a report, and the supervisor still ends.
func TestChildIgnoringShutdownIsAbandoned(t *testing.T) {
	rep := &reports{}
	stubborn := func(ctx context.Context, exit ExitFunc) (Proc, error) { return deafProc{}, nil }
	s, err := Start(context.Background(), Spec{Name: "top", Strategy: OneForOne, MaxRestarts: 1, MaxSeconds: 1,
		Children: []ChildSpec{{Name: "deaf", Start: stubborn, Shutdown: 30 * time.Millisecond}}, Reporter: rep}, nil)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	stopAndWait(t, s)
	if len(rep.abandoned) != 1 || rep.abandoned[0] != "deaf:1" {
		t.Fatalf("abandoned reports %v", rep.abandoned)
	}
	if waited := time.Since(began); waited < 30*time.Millisecond {
		t.Fatalf("stopped after %v, before the shutdown time", waited)
	}
}

type deafProc struct{}

func (deafProc) Stop() {}

// A child that fails to start stops those started before it, in reverse
// order, and fails the supervisor's start.
func TestStartFailureRollsBack(t *testing.T) {
	r := newRecorder()
	failing := func(ctx context.Context, exit ExitFunc) (Proc, error) { return nil, errBoom }
	children := append(threeChildren(r, Permanent)[:2], ChildSpec{Name: "c", Start: failing})
	_, err := Start(context.Background(), Spec{Name: "top", Strategy: OneForOne, MaxRestarts: 1, MaxSeconds: 1,
		Children: children}, nil)
	if !errors.Is(err, errBoom) {
		t.Fatalf("start error %v, want boom", err)
	}
	r.waitEvents(t, 0, "start:a", "start:b", "stop:b", "stop:a")
}

func TestGoStartFailsWhenFnReturnsBeforeReady(t *testing.T) {
	start := Go(func(ctx context.Context, ready func()) error { return errBoom })
	if _, err := start(context.Background(), func(error) { t.Error("exit called for a failed start") }); !errors.Is(err, errBoom) {
		t.Fatalf("err %v", err)
	}
	start = Go(func(ctx context.Context, ready func()) error { panic("in init") })
	var pe *PanicError
	if _, err := start(context.Background(), nil); !errors.As(err, &pe) {
		t.Fatalf("err %v, want PanicError", err)
	}
}

func TestSpecValidation(t *testing.T) {
	w := ChildSpec{Name: "w", Start: newRecorder().worker("w")}
	cases := []Spec{
		{Strategy: OneForOne, MaxSeconds: 1},
		{Name: "s", Strategy: OneForOne, MaxRestarts: -1, MaxSeconds: 1},
		{Name: "s", Strategy: OneForOne, MaxRestarts: 1},
		{Name: "s", Strategy: OneForOne, MaxSeconds: 1, Children: []ChildSpec{w, w}},
		{Name: "s", Strategy: SimpleOneForOne, MaxSeconds: 1, Children: []ChildSpec{w}},
	}
	for i, spec := range cases {
		if _, err := Start(context.Background(), spec, nil); err == nil {
			t.Errorf("case %d: invalid spec accepted", i)
		}
	}
}

func childNode(tree Node, name string) *Node {
	for i := range tree.Children {
		if tree.Children[i].Name == name {
			return &tree.Children[i]
		}
	}
	return nil
}

// TestCrashIsAnAbnormalExit: a crashed supervisor stops its children as a
// stop would and exits with ErrKilled, which its parent restarts.
func TestCrashIsAnAbnormalExit(t *testing.T) {
	r := newRecorder()
	var incarnations []*Supervisor
	var mu sync.Mutex
	inner := Spec{Name: "inner", Strategy: OneForOne, MaxRestarts: 1, MaxSeconds: 3600,
		Children: []ChildSpec{{Name: "w", Start: r.worker("w")}}}
	outer, err := Start(context.Background(), Spec{Name: "outer", Strategy: OneForOne, MaxRestarts: 1, MaxSeconds: 3600,
		Children: []ChildSpec{{Name: "inner", Kind: SupervisorKind, Start: Supervise(inner, func(s *Supervisor) {
			mu.Lock()
			incarnations = append(incarnations, s)
			mu.Unlock()
		})}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stopAndWait(t, outer)
	r.waitEvents(t, 0, "start:w")
	mu.Lock()
	first := incarnations[0]
	mu.Unlock()
	first.Crash()
	r.waitEvents(t, 1, "stop:w", "start:w")
	<-first.Done()
	if err := first.Err(); !errors.Is(err, ErrKilled) || IsNormal(err) {
		t.Fatalf("crashed supervisor's Err = %v, want ErrKilled", err)
	}
	testutil.Eventually(t, 5*time.Second, "outer restarted inner", func() bool { return outer.Tree().Restarts == 1 })
}

// TestAddAndDeleteChild: children added at run time start at once, are
// restarted like the others, show in the tree, and go when deleted.
func TestAddAndDeleteChild(t *testing.T) {
	r := newRecorder()
	s, err := Start(context.Background(), Spec{Name: "top", Strategy: OneForOne, MaxRestarts: 3, MaxSeconds: 3600,
		Children: []ChildSpec{{Name: "a", Start: r.worker("a")}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stopAndWait(t, s)
	r.waitEvents(t, 0, "start:a")
	if err := s.AddChild(context.Background(), ChildSpec{Name: "b", Start: r.worker("b")}); err != nil {
		t.Fatal(err)
	}
	r.waitEvents(t, 1, "start:b")
	if err := s.AddChild(context.Background(), ChildSpec{Name: "b", Start: r.worker("b")}); err == nil {
		t.Fatal("a second child b was added")
	}
	r.exitWith("b", errBoom)
	r.waitEvents(t, 2, "exit:b", "start:b")
	testutil.Eventually(t, 5*time.Second, "b restarted in the tree", func() bool {
		n := s.Tree()
		return len(n.Children) == 2 && n.Children[1].Name == "b" && n.Children[1].Restarts == 1 && n.Children[1].State == "running"
	})
	if err := s.DeleteChild(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	r.waitEvents(t, 4, "stop:b")
	if n := s.Tree(); len(n.Children) != 1 {
		t.Fatalf("tree after delete %+v", n)
	}
	if err := s.DeleteChild(context.Background(), "b"); !errors.Is(err, ErrNoChild) {
		t.Fatalf("second delete = %v, want ErrNoChild", err)
	}
}

package sup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// lp is a test light process: it logs what it handles to a shared log and
// sends on to the processes a message names.
type lp struct {
	Light[lmsg]
	name    string
	log     *[]string // written only by the goroutine running the process
	mu      *sync.Mutex
	count   int           // unguarded: only the owner goroutine touches it
	block   chan struct{} // a held message waits for it
	entered chan struct{} // a held message says it is being handled
	crashed *PanicError
}

type lmsg struct {
	text string
	next []*lp // who to send text to after handling it
	err  error // what Handle returns
	hold bool  // wait on block before returning (tests only)
	boom bool  // panic
}

func (p *lp) Handle(x *Exec[lmsg], m lmsg) error {
	p.count++
	p.mu.Lock()
	*p.log = append(*p.log, p.name+":"+m.text)
	p.mu.Unlock()
	if m.boom {
		panic("boom")
	}
	if m.hold {
		p.entered <- struct{}{}
		<-p.block
	}
	for _, n := range m.next {
		n.Post(x, lmsg{text: m.text}, false)
	}
	return m.err
}

func (p *lp) Crashed(_ *Exec[lmsg], reason *PanicError) {
	p.crashed = reason
	p.Die()
}

func newLPs(rt *Runtime[lmsg], names ...string) ([]*lp, func() []string) {
	var log []string
	var mu sync.Mutex
	ps := make([]*lp, len(names))
	for i, n := range names {
		ps[i] = &lp{name: n, log: &log, mu: &mu, block: make(chan struct{}), entered: make(chan struct{}, 1)}
		ps[i].Init(rt, ps[i])
	}
	return ps, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(log)
	}
}

// TestLightCallRunsInlineThenCascade: Call returns Handle's result; what
// the handler sent runs next, in order, before Call returns.
func TestLightCallRunsInlineThenCascade(t *testing.T) {
	rt := NewRuntime[lmsg](RuntimeConfig{})
	ps, log := newLPs(rt, "a", "b", "c")
	a, b, c := ps[0], ps[1], ps[2]
	want := errors.New("result")
	b.Light.proc = &relay{b, c}
	if err := a.Call(context.Background(), lmsg{text: "x", next: []*lp{b, c}, err: want}, false); err != want {
		t.Fatalf("Call = %v, want Handle's result", err)
	}
	if got := log(); !slices.Equal(got, []string{"a:x", "b:x", "c:x", "c:x"}) {
		t.Fatalf("log %v, want a, then b and c, then what b sent to c", got)
	}
}

// relay forwards every message to next.
type relay struct {
	*lp
	next *lp
}

func (r *relay) Handle(x *Exec[lmsg], m lmsg) error {
	m.next = []*lp{r.next}
	return r.lp.Handle(x, m)
}

// TestLightMailboxBound: while a process runs, messages queue; past the
// bound, shed sends are refused and unshed ones are taken.
func TestLightMailboxBound(t *testing.T) {
	rt := NewRuntime[lmsg](RuntimeConfig{Mailbox: 2})
	ps, _ := newLPs(rt, "a")
	a := ps[0]
	done := make(chan error, 1)
	go func() { done <- a.Call(context.Background(), lmsg{text: "hold", hold: true}, false) }()
	<-a.entered
	rt.Do(func(x *Exec[lmsg]) {
		for i := range 2 {
			if ok, full := a.Post(x, lmsg{text: fmt.Sprint(i)}, true); !ok || full {
				t.Errorf("post %d within the bound: ok %v full %v", i, ok, full)
			}
		}
		if ok, full := a.Post(x, lmsg{text: "over"}, true); ok || !full {
			t.Errorf("shed post past the bound: ok %v full %v", ok, full)
		}
		if ok, _ := a.Post(x, lmsg{text: "taken"}, false); !ok {
			t.Error("unshed post past the bound refused")
		}
	})
	if err := a.Call(context.Background(), lmsg{}, true); !errors.Is(err, ErrMailboxFull) {
		t.Errorf("shed Call past the bound = %v, want ErrMailboxFull", err)
	}
	close(a.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLightDie: a dead process takes nothing more; what its mailbox held
// comes back to it, and a caller waiting on one of those gets ErrDead.
func TestLightDie(t *testing.T) {
	rt := NewRuntime[lmsg](RuntimeConfig{})
	ps, _ := newLPs(rt, "a")
	a := ps[0]
	held := make(chan error, 1)
	go func() { held <- a.Call(context.Background(), lmsg{text: "hold", hold: true}, false) }()
	<-a.entered
	queued := make(chan error, 1)
	go func() { queued <- a.Call(context.Background(), lmsg{text: "queued"}, false) }()
	testutil.Eventually(t, 5*time.Second, "the second call queued", func() bool {
		a.Lock()
		defer a.Unlock()
		return len(a.queue) == 1
	})
	pending := a.Die()
	if len(pending) != 1 || pending[0].text != "queued" {
		t.Fatalf("Die returned %+v, want the queued message", pending)
	}
	if err := <-queued; !errors.Is(err, ErrDead) {
		t.Fatalf("the waiting Call = %v, want ErrDead", err)
	}
	close(a.block)
	<-held
	if a.Send(lmsg{}) || !a.Dead() {
		t.Fatal("a dead process took a message")
	}
	if err := a.Call(context.Background(), lmsg{}, false); !errors.Is(err, ErrDead) {
		t.Fatalf("Call on a dead process = %v, want ErrDead", err)
	}
}

// TestLightPanicIsACrash: a panicking handler is the process's crash:
// Crashed is told, the caller gets ErrDead.
func TestLightPanicIsACrash(t *testing.T) {
	rt := NewRuntime[lmsg](RuntimeConfig{})
	ps, _ := newLPs(rt, "a")
	a := ps[0]
	if err := a.Call(context.Background(), lmsg{boom: true}, false); !errors.Is(err, ErrDead) {
		t.Fatalf("Call = %v, want ErrDead", err)
	}
	if a.crashed == nil || a.crashed.Value != "boom" || !a.Dead() {
		t.Fatalf("crashed %v, dead %v", a.crashed, a.Dead())
	}
}

// TestLightBudget: a cascade longer than the budget is finished by the
// background, which Wait waits for.
func TestLightBudget(t *testing.T) {
	rt := NewRuntime[lmsg](RuntimeConfig{Budget: 4})
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	ps, log := newLPs(rt, names...)
	if err := ps[0].Call(context.Background(), lmsg{text: "x", next: ps[1:]}, false); err != nil {
		t.Fatal(err)
	}
	if err := rt.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := log(); len(got) != 20 {
		t.Fatalf("%d handled, want 20: %v", len(got), got)
	}
}

// TestLightOneHandlerAtATime: many goroutines calling one process never
// run its handler at once (the race detector watches count).
func TestLightOneHandlerAtATime(t *testing.T) {
	rt := NewRuntime[lmsg](RuntimeConfig{Mailbox: 1000})
	ps, _ := newLPs(rt, "a")
	a := ps[0]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := a.Call(context.Background(), lmsg{}, false); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	a.Lock()
	defer a.Unlock()
	if a.count != 1600 {
		t.Fatalf("handled %d, want 1600", a.count)
	}
}

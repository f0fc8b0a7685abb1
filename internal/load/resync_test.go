package load

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// The books mismatch of overloaded runs (BENCHMARKS.md, issue 14): a's
// call to b waits past its deadline, the server being far behind, and the
// driver resyncs a and hangs up. b's accept reaches the server just before
// that hangup: the server connects the call (the hangup then ends it,
// answered) and sends a its accepted, which the stream brings late, after
// a dialled again, to q. Taken for the answer of that call, it counted an
// answer for a pair the server never connected. The resync reads a's
// replies back up to its hangup before a dials again: it counts a->b
// answered, and the late reply, by its seq, is stale.
func TestLateReplyAfterResyncIsStale(t *testing.T) {
	f := newFakeBSC(t, 6)
	d, ph := pinnedDriver(t, f, 3)
	a, b, q := ph[0], ph[1], ph[2]
	d.start = time.Now() // the books read the records since
	f.mu.Lock()
	f.late = func(m, typ string) bool { return m == a.msisdn && typ == "accepted" }
	f.mu.Unlock()
	var accepted sync.Once
	f.arrive = func(m, action string) {
		if m != a.msisdn || action != "hangup" {
			return
		}
		accepted.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if status, code := f.act(b.msisdn, "accept", ""); code != "" {
				t.Errorf("b's accept before a's hangup: %d %s", status, code)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(func() {
		cancel()
		d.g.close()
		<-d.g.Done()
	})
	if err := d.startStreams(ctx, ctx); err != nil {
		t.Fatal(err)
	}

	d.dial(ctx, a, d.reserved(a, b), time.Now())
	d.resync(a, d.tokenOf(a), d.callWait()) // a's deadline passed
	if s, fs := d.stateOf(a), f.stateOf(a.msisdn); s != stIdle || fs != "idle" {
		t.Fatalf("after the resync: a is %v to the driver, %s to the server; want idle", s, fs)
	}
	d.dial(ctx, a, d.reserved(a, q), time.Now())
	f.releaseLate()
	stale := func() int64 {
		d.st.mu.Lock()
		defer d.st.mu.Unlock()
		return d.st.stale
	}
	testutil.Eventually(t, 10*time.Second, "a's late accepted handled", func() bool {
		return stale() > 0 || d.stateOf(a) == stTalking
	})

	var books BooksResult
	if err := d.booksCalls(ctx, &books); err != nil {
		t.Errorf("books: %v", err)
	}
	if s, n := d.stateOf(a), stale(); s != stCalling || n != 1 {
		t.Errorf("a is %v, stale replies %d; want calling q still, and the late reply stale", s, n)
	}
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	if len(d.st.answered) != 1 || d.st.answered[pair{a.msisdn, b.msisdn}] != 1 {
		t.Errorf("answered calls %v, want %s->%s once", d.st.answered, a.msisdn, b.msisdn)
	}
}

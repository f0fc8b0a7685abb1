package load

import (
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// A driver whose phones (n) are attached and idle on f, with no traffic of
// its own: the test makes every move, and feeds it the replies it wants it
// to have seen (no event stream; nothing planned).
func pinnedDriver(t *testing.T, f *fakeBSC, n int) (*driver, []*phone) {
	t.Helper()
	cfg := testConfig(f.srv.URL)
	cfg.Phones = n
	d := newDriver(cfg)
	t.Cleanup(d.c.closeIdle)
	f.mu.Lock()
	d.mu.Lock()
	for _, ph := range d.pop.phones {
		f.phones[ph.msisdn] = &fakePhone{state: "idle"}
		d.pop.attach(ph)
	}
	d.stopping = true // plans no user's action: the test sends them
	d.mu.Unlock()
	f.mu.Unlock()
	return d, d.pop.phones
}

func (d *driver) tokenOf(ph *phone) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return ph.token
}

func (d *driver) stateOf(ph *phone) pstate {
	d.mu.Lock()
	defer d.mu.Unlock()
	return ph.state
}

func (d *driver) reserved(caller, callee *phone) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reserveCall(caller, callee)
}

func (f *fakeBSC) stateOf(m string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.phones[m].state
}

// callsFrom is the calls the fake took from m, by callee.
func (f *fakeBSC) callsFrom(m string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var to []string
	for _, r := range f.records {
		if r.Caller == m {
			to = append(to, r.Callee)
		}
	}
	return to
}

// A call crosses an inbound one: c calls a while a's own call to b is
// decided. a's user rejects c; a, idle again, is reserved for a call to
// q. The first call, if it still went, would set up a call the driver
// does not follow (its accepted reply would land on the second attempt):
// it is not sent, and the second is.
func TestDialSupersededBeforeSendingIsNotSent(t *testing.T) {
	f := newFakeBSC(t, 6)
	d, ph := pinnedDriver(t, f, 4)
	a, b, c, q := ph[0], ph[1], ph[2], ph[3]
	ctx := t.Context()

	first := d.reserved(a, b)
	d.dial(ctx, c, d.reserved(c, a), time.Now())
	d.onReply(reply{Seq: 1, MSISDN: a.msisdn, Type: "inbound", From: c.msisdn})
	d.answer(a, d.tokenOf(a), time.Now(), false)
	d.onReply(reply{Seq: 1, MSISDN: c.msisdn, Type: "rejected"})
	if s, fs := d.stateOf(a), f.stateOf(a.msisdn); s != stIdle || fs != "idle" {
		t.Fatalf("after the reject: a is %v to the driver, %s to the server; want idle", s, fs)
	}
	second := d.reserved(a, q)

	d.dial(ctx, a, first, time.Now())
	if to := f.callsFrom(a.msisdn); len(to) != 0 {
		t.Fatalf("the superseded call was sent: the server took calls from a to %v", to)
	}
	d.dial(ctx, a, second, time.Now())
	if to, s := f.callsFrom(a.msisdn), d.stateOf(a); len(to) != 1 || to[0] != q.msisdn || s != stCalling {
		t.Errorf("the server took calls from a to %v, the driver has a %v; want one to q, calling", to, s)
	}
}

// The race of a flaky books MISMATCH in CI: a's call to b is on its way
// (slow to reach the server) when c's call reaches a first; a's user
// rejects c. Sent at once, the reject could overtake the call, and the
// server would then take the call from a, idle again, to b: a call the
// driver does not follow. The reject waits for the call's answer (busy:
// a was ringing), so the server takes them in the order they were made.
func TestPhoneActionsGoOneAtATime(t *testing.T) {
	f := newFakeBSC(t, 6)
	d, ph := pinnedDriver(t, f, 3)
	a, b, c := ph[0], ph[1], ph[2]
	ctx := t.Context()

	callHeld, release := make(chan struct{}), make(chan struct{})
	rejectArrived := make(chan struct{}, 1)
	f.arrive = func(m, action string) {
		switch {
		case m == a.msisdn && action == "call":
			close(callHeld)
			<-release
		case m == a.msisdn && action == "reject":
			rejectArrived <- struct{}{}
		}
	}
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		d.dial(ctx, a, d.reserved(a, b), time.Now())
	}()
	<-callHeld
	d.dial(ctx, c, d.reserved(c, a), time.Now())
	d.onReply(reply{Seq: 1, MSISDN: a.msisdn, Type: "inbound", From: c.msisdn})
	rejected := make(chan struct{})
	go func() {
		defer close(rejected)
		d.answer(a, d.tokenOf(a), time.Now(), false)
	}()
	testutil.Eventually(t, 10*time.Second, "the reject sent or waiting for a's call", func() bool {
		d.st.mu.Lock()
		defer d.st.mu.Unlock()
		return len(rejectArrived) > 0 || d.st.phoneWaits > 0
	})
	if len(rejectArrived) > 0 {
		t.Errorf("a's reject reached the server while a's call was on its way")
	}
	close(release)
	<-dialed
	<-rejected
	if to := f.callsFrom(a.msisdn); len(to) != 0 {
		t.Errorf("the server took calls from a to %v, want none: a was ringing", to)
	}
	if s, fs := d.stateOf(a), f.stateOf(a.msisdn); s != stIdle || fs != "idle" {
		t.Errorf("a is %v to the driver, %s to the server; want idle", s, fs)
	}
	if r := d.report(ctx, nil); r.Calls.PhoneWaits != 1 || r.Operations[opCall].Count != 2 || r.Races["busy"] != 1 {
		t.Errorf("phone waits %d, calls %d, races %v; want 1, 2 and the busy call of a",
			r.Calls.PhoneWaits, r.Operations[opCall].Count, r.Races)
	}
}

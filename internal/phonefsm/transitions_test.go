package phonefsm

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// inject delivers a controller event to `to` as if `from` sent it, for the
// rows of the table no user sequence reaches deterministically.
func (w *world) inject(to, from string, k input, dropped bool) {
	w.t.Helper()
	dst, err := w.set(w.m(to)).Lookup(w.m(to))
	if err != nil {
		w.t.Fatal(err)
	}
	src, err := w.set(w.m(from)).Lookup(w.m(from))
	if err != nil {
		w.t.Fatal(err)
	}
	dst.Send(message{kind: k, from: src.Ref(), dropped: dropped})
}

// setup puts phones 1 and 2 in a state: "calling" (1 called 2, 2
// receiving), "connected" (2 accepted), or "idle".
func (w *world) setup(state string) {
	w.attach("1", "2", "3")
	if state == "idle" {
		return
	}
	w.mustAct("1", ActCall, "2")
	if state == "connected" {
		w.mustAct("2", ActAccept, "")
	}
}

// One case per row of the transition table of domain.md §3.
func TestTransitionTable(t *testing.T) {
	cases := []struct {
		row     string
		setup   string
		do      func(w *world) error
		wantErr error
		states  [2]string // phones 1 and 2 afterwards
		replies [2][]string
		outcome []calls.Outcome // records written
	}{
		{"idle call to a detached number", "idle", func(w *world) error { return w.act("1", ActCall, "9") }, ErrInvalidNumber,
			[2]string{"idle", "idle"}, [2][]string{{"invalid"}, nil}, nil},
		{"idle call to an attached number", "idle", func(w *world) error { return w.act("1", ActCall, "2") }, nil,
			[2]string{"calling", "receiving"}, [2][]string{nil, {"inbound:1"}}, nil},
		{"calling gets accept", "connected", nil, nil,
			[2]string{"connected", "connected"}, [2][]string{{"accepted"}, {"inbound:1"}}, nil},
		{"calling gets busy", "calling", func(w *world) error { w.inject("1", "2", evBusy, false); return nil }, nil,
			[2]string{"idle", "receiving"}, [2][]string{{"busy"}, {"inbound:1"}}, []calls.Outcome{calls.Busy}},
		{"calling gets reject", "calling", func(w *world) error { return w.act("2", ActReject, "") }, nil,
			[2]string{"idle", "idle"}, [2][]string{{"rejected"}, {"inbound:1"}}, []calls.Outcome{calls.Rejected}},
		{"calling gets hangup", "calling", func(w *world) error { w.inject("1", "2", evHangup, false); return nil }, nil,
			[2]string{"idle", "receiving"}, [2][]string{{"hangup"}, {"inbound:1"}}, []calls.Outcome{calls.Rejected}},
		{"calling hangs up", "calling", func(w *world) error { return w.act("1", ActHangup, "") }, nil,
			[2]string{"idle", "idle"}, [2][]string{nil, {"inbound:1", "hangup"}}, []calls.Outcome{calls.Cancelled}},
		{"receiving rejects", "calling", func(w *world) error { return w.act("2", ActReject, "") }, nil,
			[2]string{"idle", "idle"}, [2][]string{{"rejected"}, {"inbound:1"}}, []calls.Outcome{calls.Rejected}},
		{"receiving hangup is reject", "calling", func(w *world) error { return w.act("2", ActHangup, "") }, nil,
			[2]string{"idle", "idle"}, [2][]string{{"rejected"}, {"inbound:1"}}, []calls.Outcome{calls.Rejected}},
		{"connected caller hangs up", "connected", func(w *world) error { return w.act("1", ActHangup, "") }, nil,
			[2]string{"idle", "idle"}, [2][]string{{"accepted"}, {"inbound:1", "hangup"}}, []calls.Outcome{calls.Answered}},
		{"connected callee hangs up", "connected", func(w *world) error { return w.act("2", ActHangup, "") }, nil,
			[2]string{"idle", "idle"}, [2][]string{{"accepted", "hangup"}, {"inbound:1"}}, []calls.Outcome{calls.Answered}},
		{"connected callee gets reject", "connected", func(w *world) error { w.inject("2", "1", evReject, false); return nil }, nil,
			[2]string{"connected", "idle"}, [2][]string{{"accepted"}, {"inbound:1", "no_frequency"}}, nil},
		{"busy to a third caller", "connected", func(w *world) error { return w.act("3", ActCall, "1") }, nil,
			[2]string{"connected", "connected"}, [2][]string{{"accepted"}, {"inbound:1"}}, []calls.Outcome{calls.Busy}},
		{"call while not idle", "calling", func(w *world) error { return w.act("1", ActCall, "3") }, ErrBusy,
			[2]string{"calling", "receiving"}, [2][]string{nil, {"inbound:1"}}, nil},
		{"accept while idle", "idle", func(w *world) error { return w.act("1", ActAccept, "") }, ErrInvalidState,
			[2]string{"idle", "idle"}, [2][]string{nil, nil}, nil},
		{"accept while calling", "calling", func(w *world) error { return w.act("1", ActAccept, "") }, ErrInvalidState,
			[2]string{"calling", "receiving"}, [2][]string{nil, {"inbound:1"}}, nil},
		{"hangup while idle", "idle", func(w *world) error { return w.act("1", ActHangup, "") }, ErrInvalidState,
			[2]string{"idle", "idle"}, [2][]string{nil, nil}, nil},
		{"event from a non-peer is ignored", "connected", func(w *world) error { w.inject("1", "3", evHangup, false); return nil }, nil,
			[2]string{"connected", "connected"}, [2][]string{{"accepted"}, {"inbound:1"}}, nil},
		{"calling: the callee's mailbox is full", "calling", func(w *world) error { w.inject("1", "2", evPeerFull, false); return nil }, nil,
			[2]string{"idle", "receiving"}, [2][]string{{"busy"}, {"inbound:1"}}, []calls.Outcome{calls.Busy}},
		{"calling: the callee has ended", "calling", func(w *world) error { w.inject("1", "2", evPeerGone, false); return nil }, nil,
			[2]string{"idle", "receiving"}, [2][]string{{"hangup"}, {"inbound:1"}}, []calls.Outcome{calls.Dropped}},
		{"connected caller: the peer cannot be reached", "connected", func(w *world) error { w.inject("1", "2", evPeerUnreachable, false); return nil }, nil,
			[2]string{"idle", "connected"}, [2][]string{{"accepted", "hangup"}, {"inbound:1"}}, []calls.Outcome{calls.Dropped}},
		{"connected callee: the peer cannot be reached", "connected", func(w *world) error { w.inject("2", "1", evPeerUnreachable, false); return nil }, nil,
			[2]string{"connected", "idle"}, [2][]string{{"accepted"}, {"inbound:1", "hangup"}}, nil},
		{"event not for the state is ignored", "connected", func(w *world) error { w.inject("1", "2", evBusy, false); return nil }, nil,
			[2]string{"connected", "connected"}, [2][]string{{"accepted"}, {"inbound:1"}}, nil},
	}
	for _, c := range cases {
		for _, split := range []bool{false, true} {
			name := c.row
			if split {
				name += " (peers on two nodes)"
			}
			t.Run(name, func(t *testing.T) {
				w := newWorld(t, []int{10, 11})
				if split {
					w = newSplitWorld(t, []int{10, 11})
				}
				w.setup(c.setup)
				if c.do != nil {
					if err := c.do(w); !errors.Is(err, c.wantErr) {
						t.Fatalf("error %v, want %v", err, c.wantErr)
					}
				}
				for i, who := range []string{"1", "2"} {
					w.waitState(who, c.states[i])
					w.waitReplies(who, c.replies[i]...)
				}
				w.waitOutcomes(c.outcome...)
				wantAlloc := 0
				if c.states[0] == "connected" {
					wantAlloc = 1
				}
				if w.allocated() != wantAlloc {
					t.Fatalf("%d frequencies allocated, want %d", w.allocated(), wantAlloc)
				}
			})
		}
	}
}

// waitOutcomes waits until the records written are want's outcomes, in
// order (a record written on the other node of a split world comes a
// little later).
func (w *world) waitOutcomes(want ...calls.Outcome) {
	w.t.Helper()
	var got []calls.Outcome
	testutil.Eventually(w.t, 5*time.Second, fmt.Sprint("records ", want), func() bool {
		got = got[:0]
		for _, r := range w.records.all() {
			got = append(got, r.Outcome)
		}
		return slices.Equal(got, want)
	})
}

// eachWorld runs test in a world of one phone set, and in a split world
// (the peers on two nodes).
func eachWorld(t *testing.T, pool []int, test func(*testing.T, *world)) {
	t.Run("one node", func(t *testing.T) { test(t, newWorld(t, pool)) })
	t.Run("two nodes", func(t *testing.T) { test(t, newSplitWorld(t, pool)) })
}

// endAll hangs up whatever is still going on and checks nothing leaked.
func (w *world) endAll(phones ...string) {
	w.t.Helper()
	for _, p := range phones {
		if err := w.act(p, ActHangup, ""); err != nil && !errors.Is(err, ErrInvalidState) {
			w.t.Fatalf("hangup %s: %v", p, err)
		}
	}
	for _, p := range phones {
		w.waitState(p, "idle")
	}
	if w.allocated() != 0 {
		w.t.Fatalf("%d frequencies still allocated", w.allocated())
	}
	if b := w.alarms.balance(); b != 0 {
		w.t.Fatalf("alarm balance %d", b)
	}
}

// Two phones dial each other at once, many times: whatever the
// interleaving, no phone is stuck and nothing leaks.
func TestCrossingCalls(t *testing.T) {
	eachWorld(t, []int{10}, testCrossingCalls)
}

func testCrossingCalls(t *testing.T, w *world) {
	w.attach("1", "2")
	for i := 0; i < 300; i++ {
		var wg sync.WaitGroup
		for _, p := range [][2]string{{"1", "2"}, {"2", "1"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.act(p[0], ActCall, p[1]); err != nil && !errors.Is(err, ErrBusy) {
					t.Errorf("call: %v", err)
				}
			}()
		}
		wg.Wait()
		w.endAll("1", "2")
	}
}

// The callee accepts while the caller hangs up: either the call connects
// and ends, or it is cancelled; the frequency is never leaked.
func TestHangupCrossingAccept(t *testing.T) {
	eachWorld(t, []int{10}, testHangupCrossingAccept)
}

func testHangupCrossingAccept(t *testing.T, w *world) {
	w.attach("1", "2")
	for i := 0; i < 300; i++ {
		w.mustAct("1", ActCall, "2")
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = w.act("2", ActAccept, "") }()
		go func() { defer wg.Done(); _ = w.act("1", ActHangup, "") }()
		wg.Wait()
		w.endAll("1", "2")
	}
	for _, r := range w.records.all() {
		if r.Outcome != calls.Cancelled && r.Outcome != calls.Answered {
			t.Fatalf("unexpected outcome %s", r.Outcome)
		}
	}
}

// Detaching a phone mid-call ends the call for the peer and releases the
// frequency; the record says dropped.
func TestDetachMidCall(t *testing.T) {
	for _, who := range []string{"1", "2"} {
		eachWorld(t, []int{10}, func(t *testing.T, w *world) {
			w.setup("connected")
			if err := w.detach(who); err != nil {
				t.Fatal(err)
			}
			other := map[string]string{"1": "2", "2": "1"}[who]
			w.waitState(other, "idle")
			if w.state(who) != "detached" || w.allocated() != 0 {
				t.Fatalf("%s %s, %d allocated", who, w.state(who), w.allocated())
			}
			recs := w.records.all()
			if len(recs) != 1 || recs[0].Outcome != calls.Dropped {
				t.Fatalf("records %+v", recs)
			}
		})
	}
}

// A controller that crashes mid-call is restarted alone, fresh and idle for
// the same MSISDN; the peer gets hangup, the frequency is free, the record
// says dropped.
func TestCrashMidCall(t *testing.T) {
	for _, who := range []string{"1", "2"} {
		t.Run("crash "+who, func(t *testing.T) {
			w := newWorld(t, []int{10})
			w.setup("connected")
			before, _ := w.phones.Lookup(w.m(who))
			other := map[string]string{"1": "2", "2": "1"}[who]
			otherBefore, _ := w.phones.Lookup(w.m(other))
			if err := w.phones.Crash(w.m(who)); err != nil {
				t.Fatal(err)
			}
			w.waitState(other, "idle")
			waitRestarted(t, w, who, before)
			if after, _ := w.phones.Lookup(w.m(other)); after != otherBefore {
				t.Fatal("the peer was restarted too")
			}
			if w.state(who) != "idle" || w.allocated() != 0 || w.phones.Count() != 3 {
				t.Fatalf("%s %s, %d allocated, %d attached", who, w.state(who), w.allocated(), w.phones.Count())
			}
			if got := w.replies(other); got[len(got)-1] != "hangup" {
				t.Fatalf("peer replies %v", got)
			}
			recs := w.records.all()
			if len(recs) != 1 || recs[0].Outcome != calls.Dropped {
				t.Fatalf("records %+v", recs)
			}
			// The restarted phone works.
			w.mustAct(who, ActCall, "3")
			w.waitState("3", "receiving")
		})
	}
}

func waitRestarted(t *testing.T, w *world, who string, before *Controller) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, who+" restarted", func() bool {
		after, err := w.phones.Lookup(w.m(who))
		return err == nil && after != before
	})
}

// Detach and crash race the peer's own actions mid-call, many times: the
// peer always ends idle, nothing is allocated, and every call has exactly
// one record.
func TestStopRacesPeerActions(t *testing.T) {
	for _, how := range []string{"detach", "crash"} {
		t.Run(how, func(t *testing.T) {
			records := 0
			var w *world
			for i := 0; i < 200; i++ {
				// A fresh phones supervisor every 8 crashes: 10 restarts an
				// hour is all it allows.
				if i%8 == 0 {
					if w != nil {
						records += len(w.records.all())
					}
					w = newWorld(t, []int{10})
					w.attach("1", "2")
				}
				before, _ := w.phones.Lookup(w.m("1"))
				w.mustAct("1", ActCall, "2")
				if i%2 == 0 {
					w.mustAct("2", ActAccept, "")
				}
				var wg sync.WaitGroup
				wg.Add(2)
				go func() {
					defer wg.Done()
					_ = w.act("2", []Action{ActHangup, ActAccept}[i%4/2], "")
				}()
				go func() {
					defer wg.Done()
					if how == "detach" {
						if err := w.detach("1"); err != nil {
							t.Error(err)
						}
					} else if err := w.phones.Crash(w.m("1")); err != nil {
						t.Error(err)
					}
				}()
				wg.Wait()
				if how == "detach" {
					w.attach("1")
				} else {
					waitRestarted(t, w, "1", before)
				}
				w.endAll("1", "2")
			}
			if n := records + len(w.records.all()); n != 200 {
				t.Fatalf("%d records for 200 calls", n)
			}
		})
	}
}

// Listing by a state few phones are in costs a bounded scan per call: a
// short page with a place to resume, never a walk of the whole registry.
func TestListByStateIsBounded(t *testing.T) {
	w := newWorld(t, []int{10})
	for i := 0; i < listScanBudget+500; i++ {
		w.attach(fmt.Sprint(100000 + i))
	}
	w.attach("999998", "999999")
	w.mustAct("999998", ActCall, "999999")
	w.mustAct("999999", ActAccept, "")
	connected := Connected
	page, resume := w.phones.List(0, 10, &connected)
	if len(page) != 0 || resume == 0 {
		t.Fatalf("first call: %d phones, resume %v; want a short page with a cursor", len(page), resume)
	}
	var got []string
	for resume != 0 {
		page, resume = w.phones.List(resume, 10, &connected)
		for _, st := range page {
			got = append(got, st.MSISDN.String())
		}
	}
	if !slices.Equal(got, []string{"999998", "999999"}) {
		t.Fatalf("connected phones %v", got)
	}
	if all, resume := w.phones.List(0, 3, nil); len(all) != 3 || resume != 0 {
		t.Fatalf("unfiltered page: %d phones, resume %v", len(all), resume)
	}
}

// An event from an earlier incarnation of the peer is stale: a Ref names
// one process, and a restarted controller is another.
func TestEventFromEarlierIncarnationIsIgnored(t *testing.T) {
	w := newWorld(t, []int{10})
	w.setup("connected")
	old, _ := w.phones.Lookup(w.m("2"))
	stale := old.Ref()
	stale.Inc-- // the incarnation before
	c, _ := w.phones.Lookup(w.m("1"))
	c.Send(message{kind: evHangup, from: stale})
	if w.state("1") != "connected" || len(w.records.all()) != 0 {
		t.Fatalf("after a stale hangup: 1 %s, records %v", w.state("1"), w.records.all())
	}
	c.Send(message{kind: evHangup, from: old.Ref()})
	w.waitState("1", "idle")
}

// The send seam: an event for a controller that has ended is lost (peer
// gone), one for a controller of no node here cannot be delivered (peer
// unreachable).
func TestSendSeam(t *testing.T) {
	w := newWorld(t, []int{10})
	w.attach("1", "2")
	c, _ := w.phones.Lookup(w.m("2"))
	if err := w.detach("2"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		to   Ref
		want delivery
	}{
		{c.Ref(), peerGone},
		{Ref{MSISDN: c.msisdn, Inc: c.inc}, peerUnreachable},
	}
	for _, tc := range cases {
		var got delivery
		w.phones.rt.Do(func(x *sup.Exec[message]) { got = w.phones.deliver(x, tc.to, message{kind: evInbound}, true) })
		if got != tc.want {
			t.Errorf("deliver to %+v: %v, want %v", tc.to, got, tc.want)
		}
	}
}

// When the cell of a remote peer changes owner (its node died), the phone
// ends its call as when the peer cannot be reached: the caller records
// the call dropped, a callee just goes idle.
func TestPeerCellMoved(t *testing.T) {
	for _, moved := range []struct {
		name      string
		cell      int
		idle      string
		replies   []string
		outcomes  []calls.Outcome
		connected string
	}{
		{"the callee's cell", 1, "1", []string{"accepted", "hangup"}, []calls.Outcome{calls.Dropped}, "2"},
		{"the caller's cell", 0, "2", []string{"inbound:1", "hangup"}, nil, "1"},
	} {
		t.Run(moved.name, func(t *testing.T) {
			w := newSplitWorld(t, []int{10})
			w.setup("connected")
			survivor := w.set(w.m(moved.idle))
			survivor.ex.CellMoved(moved.cell, 2, nodes{})
			w.waitState(moved.idle, "idle")
			w.waitReplies(moved.idle, moved.replies...)
			w.waitOutcomes(moved.outcomes...)
			if w.state(moved.connected) != "connected" {
				t.Fatalf("%s is %s: its own node did not lose anything", moved.connected, w.state(moved.connected))
			}
		})
	}
}

// nodes is a membership where live is up and drained left after a drain;
// every other node is down.
type nodes struct{ live, drained string }

func (n nodes) IsLive(node string) bool      { return node == n.live }
func (n nodes) WasDraining(node string) bool { return node == n.drained }

// A caller not answered yet whose callee's cell moved waits for the
// answer when the callee's node is up (that node refuses the call of a
// cell it gave up, or the callee answers as it was): the call is not
// dropped. When that node is down, or goes down, the call is dropped;
// when it left drained, the callee was busy.
func TestUnansweredCallerAndTheCalleesNode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lose    func(w *world)
		outcome calls.Outcome
	}{
		{"the cell moved, its node up", func(w *world) {
			w.set(w.m("1")).ex.CellMoved(1, 2, nodes{live: "n2"})
			w.mustAct("2", ActReject, "")
		}, calls.Rejected},
		{"the cell moved, its node down", func(w *world) {
			w.set(w.m("1")).ex.CellMoved(1, 2, nodes{})
		}, calls.Dropped},
		{"the cell moved, its node left drained", func(w *world) {
			w.set(w.m("1")).ex.CellMoved(1, 2, nodes{drained: "n2"})
		}, calls.Busy},
		{"its node down", func(w *world) { w.set(w.m("1")).ex.NodeDown("n2", false) }, calls.Dropped},
		// A node that left drained had ended its calls (a callee ringing
		// there rejects as it stops): one it never answered was lost on
		// the way, never set up.
		{"its node left drained", func(w *world) { w.set(w.m("1")).ex.NodeDown("n2", true) }, calls.Busy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSplitWorld(t, []int{10})
			w.setup("calling")
			w.waitState("2", "receiving")
			tc.lose(w)
			w.waitState("1", "idle")
			w.waitOutcomes(tc.outcome)
		})
	}
}

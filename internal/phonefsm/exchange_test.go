package phonefsm

import (
	"fmt"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/calls"
)

// Envelopes are written in the version the cluster speaks: version 1
// without a send time while some node speaks only it, version 2 with
// one, whose transit the receiver reports, once every node speaks it.
func TestEnvelopeVersions(t *testing.T) {
	for _, tc := range []struct {
		protocol int
		v2       bool
	}{{EnvelopeV1, false}, {EnvelopeV2, true}} {
		t.Run(fmt.Sprint("protocol ", tc.protocol), func(t *testing.T) {
			w := newSplitWorld(t, []int{10})
			w.net.mu.Lock()
			w.net.protocol = tc.protocol
			w.net.mu.Unlock()
			w.attach("1", "2")
			w.mustAct("1", ActCall, "2")
			w.waitState("2", "receiving")
			w.mustAct("2", ActAccept, "")
			w.mustAct("1", ActHangup, "")
			w.waitState("2", "idle")
			w.net.mu.Lock()
			defer w.net.mu.Unlock()
			if n := w.net.sent[[2]bool{tc.v2, tc.v2}]; n == 0 || len(w.net.sent) != 1 {
				t.Errorf("envelopes sent by (version 2, send time): %v, want all %v", w.net.sent, tc.v2)
			}
			if got := w.net.transits > 0; got != tc.v2 {
				t.Errorf("%d transits reported, want some: %v", w.net.transits, tc.v2)
			}
		})
	}
}

// A closed phone set (its cell being handed to another node) takes no
// new call: the caller finds the callee busy, and the callee stays idle.
func TestClosedPhonesRefuseInbound(t *testing.T) {
	eachWorld(t, []int{10, 11}, func(t *testing.T, w *world) {
		w.attach("1", "2")
		w.set(w.m("2")).Close()
		w.mustAct("1", ActCall, "2")
		w.waitReplies("1", "busy")
		w.waitState("1", "idle")
		w.waitState("2", "idle")
		w.waitOutcomes(calls.Busy)
	})
}

// Nor does a callee of a closed set found by the call but stopped (with
// its cell) before the call reached it: the caller finds it busy, not
// gone; the call was never set up, and is not dropped. Whether the callee
// is reached by pointer (one node) or by the network (two).
func TestClosedPhonesRefuseInboundToAPhoneStoppedOnceFound(t *testing.T) {
	eachWorld(t, []int{10, 11}, func(t *testing.T, w *world) {
		w.attach("1", "2")
		set := w.set(w.m("2"))
		set.Close()
		c, _ := set.reg.Lookup(w.m("2"))
		if err := w.detach("2"); err != nil {
			t.Fatal(err)
		}
		if err := set.reg.Attach(w.m("2"), c); err != nil { // as the call's lookup found it
			t.Fatal(err)
		}
		w.mustAct("1", ActCall, "2")
		w.waitReplies("1", "busy")
		w.waitState("1", "idle")
		w.waitOutcomes(calls.Busy)
	})
}

// Answers and acks go to the node named in what they answer, not to the
// caller's cell's owner as the answering node sees it: that view may be
// behind a move (here it names a node, n3, that has nothing of the
// caller). Before the accept: the accept would be lost, the callee
// connected to a caller still calling. Before the hangup (a handoff that
// ended with this very hangup): its ack would be lost, the hangup failing
// after 5 s, or it would end another action n3 holds under the same
// number.
func TestRepliesGoToTheCallersNode(t *testing.T) {
	for _, lagFrom := range []string{"receiving", "connected"} {
		t.Run("the caller's cell seen on n3 once the call is "+lagFrom, func(t *testing.T) {
			w := newSplitWorld(t, []int{10})
			lag := func(now string) {
				if now == lagFrom {
					w.net.own(0, w.net.exchange("n3"))
				}
			}
			w.attach("1", "2")
			w.mustAct("1", ActCall, "2")
			w.waitState("2", "receiving")
			lag("receiving")
			w.mustAct("2", ActAccept, "")
			w.waitState("1", "connected")
			lag("connected")
			w.mustAct("1", ActHangup, "")
			w.waitState("2", "idle")
			w.waitOutcomes(calls.Answered)
		})
	}
}

// A call to a phone whose cell is moving finds the callee busy: it was
// never set up, and is not a dropped call. The cell has no owner this
// moment (between owners, or failing over), or the call reaches the node
// taking the cell over before the cell's phones run there, or the node
// handing it off while its phones stop.
func TestCallToAMovingCellIsBusy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owner func(w *world) *Exchange
	}{
		{"no owner", func(*world) *Exchange { return nil }},
		{"being taken by n3", func(w *world) *Exchange { return w.net.exchange("n3") }},
		{"being handed off, its phones stopping", func(w *world) *Exchange {
			set := w.set(w.m("2"))
			set.started = time.Now().Add(-time.Hour) // long past restoring its phones
			set.Close()
			if err := w.detach("2"); err != nil { // as its controller stops
				w.t.Fatal(err)
			}
			w.net.mu.Lock()
			defer w.net.mu.Unlock()
			return w.net.owners[1] // still its owner
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSplitWorld(t, []int{10})
			w.attach("1", "2")
			w.net.own(1, tc.owner(w)) // phone 2's cell
			w.mustAct("1", ActCall, "2")
			w.waitReplies("1", "busy")
			w.waitState("1", "idle")
			w.waitOutcomes(calls.Busy)
		})
	}
}

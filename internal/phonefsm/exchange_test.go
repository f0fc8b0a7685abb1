package phonefsm

import (
	"fmt"
	"testing"

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

// An action waiting for its peer on another node gets its ack back even
// when its own cell moved meanwhile (a handoff that ended with this very
// hangup): the ack goes to the node holding the action, not to the cell's
// new owner, which holds nothing of it (and could hold another action
// under the same number).
func TestAckGoesToTheActionsNode(t *testing.T) {
	w := newSplitWorld(t, []int{10})
	w.attach("1", "2")
	w.mustAct("1", ActCall, "2")
	w.waitState("2", "receiving")
	w.mustAct("2", ActAccept, "")
	w.net.own(0, w.net.exchange("n3")) // phone 1's cell, as the others now see it
	if err := w.act("1", ActHangup, ""); err != nil {
		t.Fatalf("hangup while the caller's cell moved: %v, want it acknowledged", err)
	}
	w.waitState("2", "idle")
	w.waitOutcomes(calls.Answered)
}

// An answer goes to the node its addressee's cell was on when it wrote
// (the address says), not to the cell's owner as the answering node sees
// it: that view may be behind a move (here it names a node that has
// nothing of the caller), and the accept would be lost, the callee
// connected to a caller still calling.
func TestAnswerGoesToTheCallersNode(t *testing.T) {
	w := newSplitWorld(t, []int{10})
	w.attach("1", "2")
	w.mustAct("1", ActCall, "2")
	w.waitState("2", "receiving")
	w.net.own(0, w.net.exchange("n3")) // a view of phone 1's cell behind the truth
	w.mustAct("2", ActAccept, "")
	w.waitState("1", "connected")
	w.mustAct("1", ActHangup, "")
	w.waitState("2", "idle")
	w.waitOutcomes(calls.Answered)
}

// A call to a phone whose cell has no owner this moment (moving between
// nodes, or failing over) finds the callee busy: it was never set up, and
// is not a dropped call.
func TestCallToACellWithNoOwnerIsBusy(t *testing.T) {
	w := newSplitWorld(t, []int{10})
	w.attach("1", "2")
	w.net.own(1, nil) // phone 2's cell, between owners
	w.mustAct("1", ActCall, "2")
	w.waitReplies("1", "busy")
	w.waitState("1", "idle")
	w.waitOutcomes(calls.Busy)
}

// A call reaching the node that is taking the callee's cell over, before
// the cell's phones run there, finds the callee busy, not gone.
func TestCallToACellBeingTakenIsBusy(t *testing.T) {
	w := newSplitWorld(t, []int{10})
	w.attach("1", "2")
	w.net.own(1, w.net.exchange("n3")) // phone 2's cell, taken by n3, its phones not restored yet
	w.mustAct("1", ActCall, "2")
	w.waitReplies("1", "busy")
	w.waitState("1", "idle")
	w.waitOutcomes(calls.Busy)
}

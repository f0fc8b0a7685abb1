package phonefsm

import (
	"errors"
	"slices"
	"testing"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/errcode"
)

// TestActionsWaitForTheRecordsTheyEnd: an action that ends a call is
// answered only after waiting for that call's record, even when the
// caller's controller, not the phone acted on, writes it.
func TestActionsWaitForTheRecordsTheyEnd(t *testing.T) {
	full := []int{10}
	cases := []struct {
		name    string
		pool    []int // nil: every frequency taken
		setup   string
		who     string
		act     Action
		detach  bool
		outcome calls.Outcome // the record the action waits for; 0: none
	}{
		{"caller hangs up a connected call", full, "connected", "1", ActHangup, false, calls.Answered},
		{"callee hangs up a connected call", full, "connected", "2", ActHangup, false, calls.Answered},
		{"caller hangs up before an answer", full, "calling", "1", ActHangup, false, calls.Cancelled},
		{"callee rejects", full, "calling", "2", ActReject, false, calls.Rejected},
		{"callee hangs up while receiving", full, "calling", "2", ActHangup, false, calls.Rejected},
		{"callee accepts, no frequency", nil, "calling", "2", ActAccept, false, calls.NoFrequency},
		{"callee accepts", full, "calling", "2", ActAccept, false, 0},
		{"callee detaches mid-call", full, "connected", "2", 0, true, calls.Dropped},
		{"caller detaches mid-call", full, "connected", "1", 0, true, calls.Dropped},
		{"idle phone detaches", full, "idle", "1", 0, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, []int{10})
			if tc.pool == nil { // the pool is used up
				if _, err := w.alloc.Allocate("client", 0); err != nil {
					t.Fatal(err)
				}
			}
			w.setup(tc.setup)
			w.records.waits()
			var err error
			if tc.detach {
				err = w.detach(tc.who)
			} else {
				err = w.act(tc.who, tc.act, "")
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []calls.Ticket{0}
			if tc.outcome != 0 {
				recs := w.records.all()
				if len(recs) != 1 || recs[0].Outcome != tc.outcome {
					t.Fatalf("records %+v, want one %v", recs, tc.outcome)
				}
				want = []calls.Ticket{1}
			}
			if got := w.records.waits(); !slices.Equal(got, want) {
				t.Fatalf("waited for tickets %v, want %v", got, want)
			}
		})
	}
}

// TestCallActionDoesNotWait: a call ends nothing, so it waits for no
// record (its record is waited for by whatever ends it).
func TestCallActionDoesNotWait(t *testing.T) {
	w := newWorld(t, []int{10})
	w.attach("1", "2")
	w.mustAct("1", ActCall, "2")
	if got := w.records.waits(); len(got) != 0 {
		t.Fatalf("a call waited for %v", got)
	}
}

// TestUncommittedEndIsNotAcknowledged: when the record cannot be committed
// the action fails with the writer's error, although the call ended (it
// cannot be undone; the record stays queued).
func TestUncommittedEndIsNotAcknowledged(t *testing.T) {
	w := newWorld(t, []int{10})
	w.setup("connected")
	storage := errcode.New(errcode.Unavailable, "disk full")
	w.records.waitErr = storage
	if err := w.act("2", ActHangup, ""); !errors.Is(err, storage) {
		t.Fatalf("hangup = %v, want the writer's error", err)
	}
	w.waitState("1", "idle")
	if w.state("2") != "idle" || w.allocated() != 0 {
		t.Fatalf("after the hangup: 2 %s, %d allocated", w.state("2"), w.allocated())
	}
}

// TestCallShedWhenNoRecordRoom: a call whose record could not be kept is
// refused before it leaves idle: nothing changes, the callee hears nothing.
func TestCallShedWhenNoRecordRoom(t *testing.T) {
	w := newWorld(t, []int{10})
	w.attach("1", "2")
	w.records.reserveErr = calls.ErrOverloaded
	if err := w.act("1", ActCall, "2"); !errors.Is(err, calls.ErrOverloaded) {
		t.Fatalf("call = %v, want ErrOverloaded", err)
	}
	if w.state("1") != "idle" || w.state("2") != "idle" || len(w.replies("2")) != 0 {
		t.Fatalf("after a shed call: 1 %s, 2 %s, 2 got %v", w.state("1"), w.state("2"), w.replies("2"))
	}
	w.records.reserveErr = nil
	w.mustAct("1", ActCall, "2")
	w.waitState("2", "receiving")
}

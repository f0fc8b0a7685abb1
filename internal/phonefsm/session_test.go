package phonefsm

import (
	"errors"
	"testing"

	"github.com/bsc-sim/bsc/internal/calls"
)

// The book's acceptance session (domain.md §3).
func TestBookAcceptanceSession(t *testing.T) {
	w := newWorld(t, []int{10, 11, 12, 13, 14, 15})
	w.attach("123", "124", "125")

	w.mustAct("123", ActCall, "124")
	w.waitReplies("124", "inbound:123")
	w.mustAct("124", ActAccept, "")
	w.waitReplies("123", "accepted")
	w.waitState("123", "connected")
	w.waitState("124", "connected")
	if st, _ := w.phones.Get(w.m("123")); st.Frequency != 10 || w.allocated() != 1 {
		t.Fatalf("123 frequency %d, %d allocated", st.Frequency, w.allocated())
	}
	for who, want := range map[string]bool{"123": false, "125": true, "126": false} { // 126: not attached
		if got := w.phones.Idle(w.m(who)); got != want {
			t.Errorf("Idle(%s) = %v, want %v", who, got, want)
		}
	}

	w.mustAct("125", ActCall, "123")
	w.waitReplies("125", "busy")
	w.mustAct("125", ActCall, "124")
	w.waitReplies("125", "busy", "busy")

	w.mustAct("123", ActHangup, "")
	w.waitReplies("124", "inbound:123", "hangup")
	w.waitState("124", "idle")
	if w.state("123") != "idle" || w.allocated() != 0 {
		t.Fatalf("123 %s, %d allocated", w.state("123"), w.allocated())
	}

	w.mustAct("125", ActCall, "125")
	w.waitReplies("125", "busy", "busy", "busy")
	w.waitState("125", "idle")

	if err := w.act("125", ActCall, "999"); !errors.Is(err, ErrInvalidNumber) {
		t.Fatalf("call to 999: %v", err)
	}
	w.waitReplies("125", "busy", "busy", "busy", "invalid")

	recs := w.records.all()
	want := []calls.Outcome{calls.Busy, calls.Busy, calls.Answered, calls.Busy}
	if len(recs) != len(want) {
		t.Fatalf("records %+v", recs)
	}
	for i, o := range want {
		if recs[i].Outcome != o {
			t.Fatalf("record %d outcome %s, want %s (%+v)", i, recs[i].Outcome, o, recs)
		}
	}
	if r := recs[2]; r.Caller.String() != "123" || r.Callee.String() != "124" || r.Frequency != 10 || r.EndedBy != "caller" || r.AnsweredAt.IsZero() {
		t.Fatalf("answered record %+v", r)
	}
}

// With one frequency and two calls answered, the second caller gets
// no_frequency, so does its callee, and both go back to idle.
func TestNoFrequencyPath(t *testing.T) {
	w := newWorld(t, []int{10})
	w.attach("1", "2", "3", "4")
	w.mustAct("1", ActCall, "2")
	w.waitState("2", "receiving")
	w.mustAct("2", ActAccept, "")
	w.waitState("1", "connected")

	w.mustAct("3", ActCall, "4")
	w.waitState("4", "receiving")
	w.mustAct("4", ActAccept, "")
	w.waitReplies("3", "no_frequency")
	w.waitReplies("4", "inbound:3", "no_frequency")
	w.waitState("3", "idle")
	w.waitState("4", "idle")
	if b := w.alarms.balance(); b != 1 {
		t.Fatalf("alarm set-clear %d while the pool is empty", b)
	}
	w.mustAct("2", ActHangup, "")
	w.waitState("1", "idle")
	if b := w.alarms.balance(); b != 0 || w.allocated() != 0 {
		t.Fatalf("alarm set-clear %d, %d allocated after the call ended", b, w.allocated())
	}
	recs := w.records.all()
	if len(recs) != 2 || recs[0].Outcome != calls.NoFrequency || recs[1].Outcome != calls.Answered || recs[1].EndedBy != "callee" {
		t.Fatalf("records %+v", recs)
	}
}

package phonefsm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// autoActions lets an auto device act on its phone.
type autoActions struct {
	w *world
	m hlr.MSISDN
}

func (a autoActions) Act(ctx context.Context, action string) error {
	act, _ := ParseAction(action)
	_, c, err := a.w.phones.Act(ctx, a.m, act, 0)
	if err == nil {
		err = c.Wait(ctx)
	}
	return err
}

// The book's phone:start_test(150, 500): 150 simulated phones answer and
// hang up on their own while 500 calls are dialled between random pairs.
// Afterwards every answered call has its record, no frequency is
// allocated, and the no_frequency alarm is balanced.
func TestSimulatorStartTest150x500(t *testing.T) {
	const phones, attempts = 150, 500
	w := newWorld(t, []int{10, 11, 12, 13, 14, 15})
	policy := hw.AutoPolicy{AnswerDelay: [2]time.Duration{time.Millisecond, 5 * time.Millisecond},
		AcceptProbability: 0.5, TalkTime: [2]time.Duration{time.Millisecond, 10 * time.Millisecond}}
	names := make([]string, phones)
	for i := range names {
		names[i] = fmt.Sprint(1000 + i)
		m := w.m(names[i])
		auto, err := hw.NewAuto(policy, autoActions{w, m}, rand.NewPCG(uint64(i), 7), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.phones.Attach(context.Background(), m, w.hub.Device(names[i], hw.WithAuto(auto))); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dialled := 0
	for dialled < attempts {
		from, to := names[rng.IntN(phones)], names[rng.IntN(phones)]
		err := w.act(from, ActCall, to)
		switch {
		case err == nil:
			dialled++
		case errors.Is(err, ErrBusy), errors.Is(err, ErrInvalidState):
			// The caller is already in a call; pick another.
		default:
			t.Fatalf("call %s→%s: %v", from, to, err)
		}
	}
	testutil.Eventually(t, 30*time.Second, "every phone idle again", func() bool {
		for _, n := range names {
			if w.state(n) != "idle" {
				return false
			}
		}
		return true
	})
	accepted := 0
	for _, n := range names {
		for _, r := range w.replies(n) {
			if r == "accepted" {
				accepted++
			}
		}
	}
	answered := 0
	recs := w.records.all()
	for _, r := range recs {
		if r.Outcome == calls.Answered {
			answered++
		}
	}
	if len(recs) != attempts || answered != accepted || accepted == 0 {
		t.Fatalf("%d records for %d attempts; %d answered records, %d accepted replies", len(recs), attempts, answered, accepted)
	}
	if w.allocated() != 0 {
		t.Fatalf("%d frequencies still allocated", w.allocated())
	}
	if b := w.alarms.balance(); b != 0 && b != 1 {
		t.Fatalf("no_frequency set-clear = %d", b)
	}
}

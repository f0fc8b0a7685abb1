package hw

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/testutil"
)

var errInvalidState = errcode.New(errcode.InvalidState, "not valid in this state")

// fakeActions records the actions an Auto takes, answering each with
// fail[action] (nil by default).
type fakeActions struct {
	acted chan string
	fail  map[string]error
	block bool // hold every action until its context ends

	mu       sync.Mutex
	refusals map[string]int // that many first tries of an action answer unavailable
}

func newFakeActions() *fakeActions { return &fakeActions{acted: make(chan string, 64)} }

func (f *fakeActions) Act(ctx context.Context, action string) error {
	select {
	case f.acted <- action:
	case <-ctx.Done():
		return ctx.Err()
	}
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refusals[action] > 0 {
		f.refusals[action]--
		return errUnavailable
	}
	return f.fail[action]
}

var errUnavailable = errcode.New(errcode.Unavailable, "try again")

func (f *fakeActions) next(t *testing.T) string {
	t.Helper()
	select {
	case a := <-f.acted:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for an action")
	}
	return ""
}

// syncBuffer is a log sink the Auto's timer goroutines may write to.
type syncBuffer = testutil.LogBuffer

func fastPolicy(p float64) AutoPolicy {
	return AutoPolicy{
		AnswerDelay:       [2]time.Duration{time.Millisecond, 2 * time.Millisecond},
		AcceptProbability: p,
		TalkTime:          [2]time.Duration{time.Millisecond, 2 * time.Millisecond},
	}
}

// idle waits for the Auto's timer callbacks in flight, then tells whether
// it has nothing planned. Only valid once the test has seen the last action
// it expects, so that no new callback can start meanwhile.
func idle(a *Auto) bool {
	a.running.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.timer == nil
}

func autoPhone(t *testing.T, p AutoPolicy, act Actions, log zerolog.Logger) (*Hub, *PhoneDevice, *Auto) {
	t.Helper()
	a, err := NewAuto(p, act, rand.NewPCG(1, 2), log)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHub(HubConfig{})
	d := h.Device("124", WithAuto(a))
	t.Cleanup(func() { h.Remove("124") })
	return h, d, a
}

func TestAutoPolicyValidate(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		edit func(*AutoPolicy)
		ok   bool
	}{
		{"book defaults", func(*AutoPolicy) {}, true},
		{"zero delays, certain accept", func(p *AutoPolicy) { *p = AutoPolicy{AcceptProbability: 1} }, true},
		{"answer min above max", func(p *AutoPolicy) { p.AnswerDelay = [2]time.Duration{2 * ms, ms} }, false},
		{"negative talk time", func(p *AutoPolicy) { p.TalkTime[0] = -ms }, false},
		{"talk time over the bound", func(p *AutoPolicy) { p.TalkTime[1] = MaxAutoDelay + 1 }, false},
		{"probability below 0", func(p *AutoPolicy) { p.AcceptProbability = -0.1 }, false},
		{"probability above 1", func(p *AutoPolicy) { p.AcceptProbability = 1.5 }, false},
		{"probability NaN", func(p *AutoPolicy) { p.AcceptProbability = math.NaN() }, false},
	}
	for _, c := range cases {
		p := DefaultAutoPolicy()
		c.edit(&p)
		err := p.Validate()
		if c.ok != (err == nil) {
			t.Errorf("%s: Validate = %v", c.name, err)
		}
		if !c.ok && (errcode.Of(err) != errcode.InvalidRequest || !errors.Is(err, ErrInvalidPolicy)) {
			t.Errorf("%s: %v has code %q, want invalid_request", c.name, err, errcode.Of(err))
		}
		if _, err := NewAuto(p, newFakeActions(), nil, zerolog.Nop()); c.ok != (err == nil) {
			t.Errorf("%s: NewAuto = %v", c.name, err)
		}
	}
}

func TestAutoAnswersAndHangsUp(t *testing.T) {
	cases := []struct {
		name  string
		p     float64
		reply ReplyType
		want  []string
	}{
		{"always accepts, then hangs up", 1, Inbound, []string{ActionAccept, ActionHangup}},
		{"never accepts", 0, Inbound, []string{ActionReject}},
		{"our call was accepted: hang up", 0, Accepted, []string{ActionHangup}},
	}
	for _, c := range cases {
		act := newFakeActions()
		_, d, a := autoPhone(t, fastPolicy(c.p), act, zerolog.Nop())
		d.Deliver(c.reply, "123")
		var got []string
		for range c.want {
			got = append(got, act.next(t))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: actions %v, want %v", c.name, got, c.want)
		}
		if !idle(a) || len(act.acted) != 0 {
			t.Errorf("%s: more is planned after %v", c.name, got)
		}
	}
}

func TestAutoCancelsWhenTheCallEnds(t *testing.T) {
	for _, end := range []ReplyType{Hangup, Rejected, Busy, NoFrequency} {
		p := fastPolicy(1)
		p.AnswerDelay = [2]time.Duration{time.Hour, time.Hour}
		_, d, a := autoPhone(t, p, newFakeActions(), zerolog.Nop())
		d.Deliver(Inbound, "123")
		d.Deliver(end, "")
		a.mu.Lock()
		planned := a.timer != nil
		a.mu.Unlock()
		if planned {
			t.Errorf("%v: the answer is still planned after the call ended", end)
		}
	}
}

func TestAutoActionErrors(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		logged bool
	}{
		{"call already ended", errInvalidState, false},
		{"wrapped invalid_state", errors.Join(errors.New("phone 124"), errInvalidState), false},
		{"anything else", errors.New("controller gone"), true},
	}
	for _, c := range cases {
		act := newFakeActions()
		act.fail = map[string]error{ActionAccept: c.err}
		var log syncBuffer
		_, d, a := autoPhone(t, fastPolicy(1), act, zerolog.New(&log))
		d.Deliver(Inbound, "123")
		if got := act.next(t); got != ActionAccept {
			t.Fatalf("%s: first action %q", c.name, got)
		}
		if !idle(a) {
			t.Errorf("%s: a failed accept must not lead to a hangup", c.name)
		}
		if logged := log.String() != ""; logged != c.logged {
			t.Errorf("%s: logged %q, want logged %v", c.name, log.String(), c.logged)
		}
	}
}

func TestAutoStopCancelsTheActionInFlight(t *testing.T) {
	act := newFakeActions()
	act.block = true
	var log syncBuffer
	h, d, _ := autoPhone(t, fastPolicy(1), act, zerolog.New(&log))
	d.Deliver(Inbound, "123")
	act.next(t)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		h.Remove("124")
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Remove did not stop the Auto's action in flight")
	}
	if log.String() != "" {
		t.Errorf("a cancelled action must not be logged: %q", log.String())
	}
}

func TestAutoIsReproducibleFromItsSeed(t *testing.T) {
	run := func() []string {
		p := fastPolicy(0.5)
		p.AnswerDelay[0], p.TalkTime[0] = 0, 0
		act := newFakeActions()
		_, d, _ := autoPhone(t, p, act, zerolog.Nop())
		var answers []string
		for range 32 {
			d.Deliver(Inbound, "123")
			a := act.next(t)
			if a == ActionAccept && act.next(t) != ActionHangup {
				t.Fatal("an accepted call must be hung up")
			}
			answers = append(answers, a)
		}
		return answers
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Errorf("same seed, different answers:\n%v\n%v", first, second)
	}
	if !slices.Contains(first, ActionAccept) || !slices.Contains(first, ActionReject) {
		t.Errorf("p = 0.5 over 32 calls should both accept and reject: %v", first)
	}
}

// An action refused for now (503: a cell moving, the service shedding) is
// tried again after a back-off, as a client honouring Retry-After: the
// accept refused twice goes through at the third try, and the call goes on.
func TestAutoBacksOffAndRetries(t *testing.T) {
	act := newFakeActions()
	act.refusals = map[string]int{ActionAccept: 2}
	_, d, _ := autoPhone(t, fastPolicy(1), act, zerolog.Nop())
	d.Deliver(Inbound, "123")
	for i := range 3 {
		if got := act.next(t); got != ActionAccept {
			t.Fatalf("try %d: %q, want accept", i+1, got)
		}
	}
	d.Deliver(Accepted, "")
	if got := act.next(t); got != ActionHangup {
		t.Fatalf("after the accept went through: %q, want the hangup", got)
	}
}

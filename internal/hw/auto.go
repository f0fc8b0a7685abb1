package hw

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/backoff"
	"github.com/bsc-sim/bsc/internal/errcode"
)

// The actions an Auto takes on its phone, as api.md names them.
const (
	ActionAccept = "accept"
	ActionReject = "reject"
	ActionHangup = "hangup"
)

// Actions is the phone's controller as its user sees it. Act performs one of
// ActionAccept, ActionReject or ActionHangup and returns once the controller
// has handled it; it must return promptly once ctx is cancelled. An error
// with code "invalid_state" means the call ended meanwhile; Auto ignores it.
type Actions interface {
	Act(ctx context.Context, action string) error
}

// ErrInvalidPolicy is an AutoPolicy that Validate refuses.
var ErrInvalidPolicy = errcode.New(errcode.InvalidRequest, "invalid auto device policy")

// MaxAutoDelay bounds a policy's delays: a typo cannot park a phone for days,
// and a random draw over the range cannot overflow.
const MaxAutoDelay = time.Hour

// AutoPolicy is the book's phone simulator: answer an inbound call after a
// random delay in AnswerDelay, accepting it with AcceptProbability, and hang
// up an answered call after a random time in TalkTime. Ranges are [min, max],
// both included.
type AutoPolicy struct {
	AnswerDelay       [2]time.Duration
	AcceptProbability float64
	TalkTime          [2]time.Duration
}

// DefaultAutoPolicy is the book's: answer within 1–1500 ms, accept half the
// calls, hang up after 1–3000 ms.
func DefaultAutoPolicy() AutoPolicy {
	return AutoPolicy{
		AnswerDelay:       [2]time.Duration{time.Millisecond, 1500 * time.Millisecond},
		AcceptProbability: 0.5,
		TalkTime:          [2]time.Duration{time.Millisecond, 3000 * time.Millisecond},
	}
}

// Validate checks the ranges are ordered and within [0, MaxAutoDelay] and
// the probability is within [0, 1].
func (p AutoPolicy) Validate() error {
	for _, r := range []struct {
		name string
		d    [2]time.Duration
	}{{"answer delay", p.AnswerDelay}, {"talk time", p.TalkTime}} {
		if r.d[0] < 0 || r.d[1] > MaxAutoDelay || r.d[0] > r.d[1] {
			return fmt.Errorf("%w: %s [%v, %v] is not a range within [0, %v]", ErrInvalidPolicy, r.name, r.d[0], r.d[1], MaxAutoDelay)
		}
	}
	if math.IsNaN(p.AcceptProbability) || p.AcceptProbability < 0 || p.AcceptProbability > 1 {
		return fmt.Errorf("%w: accept probability %v is not within [0, 1]", ErrInvalidPolicy, p.AcceptProbability)
	}
	return nil
}

// Auto drives one phone by its policy, reacting to its device's replies
// (attach it with WithAuto): on inbound it answers, on accepted (it called)
// or once it has accepted it hangs up after the talk time, and any reply that
// ends the call cancels what it had planned. While waiting it holds a timer,
// not a goroutine.
type Auto struct {
	policy AutoPolicy
	act    Actions
	log    zerolog.Logger
	ctx    context.Context // cancelled by Stop, for the action in flight
	cancel context.CancelFunc

	mu      sync.Mutex
	rng     *rand.Rand
	gen     uint64 // bumped whenever the plan changes; a stale timer sees it
	timer   *time.Timer
	stopped bool
	running sync.WaitGroup // timer callbacks past their check
}

// NewAuto makes an Auto for one phone. src seeds its random draws, for
// reproducible runs; nil draws a random seed.
func NewAuto(p AutoPolicy, act Actions, src rand.Source, log zerolog.Logger) (*Auto, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if src == nil {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Auto{policy: p, act: act, log: log, ctx: ctx, cancel: cancel, rng: rand.New(src)}, nil
}

// Stop cancels what the Auto had planned and waits for an action in flight,
// whose context it cancels. Hub.Remove calls it.
func (a *Auto) Stop() {
	a.Cancel()
	a.running.Wait()
}

// Cancel stops the simulator without waiting for an action in flight,
// which then fails on its cancelled context. Removing a device uses it: the
// removal may run inside that very action (a controller stopped on the
// action's own goroutine), where waiting would deadlock.
func (a *Auto) Cancel() {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	a.cancelLocked()
	a.mu.Unlock()
	a.cancel()
}

// onReply runs inline in Deliver, so it only (re)schedules.
func (a *Auto) onReply(t ReplyType) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	switch t {
	case Inbound:
		a.scheduleLocked(a.policy.AnswerDelay, a.answer)
	case Accepted:
		a.scheduleLocked(a.policy.TalkTime, a.hangup)
	default: // the call is over, or never started
		a.cancelLocked()
	}
}

func (a *Auto) answer(gen uint64) {
	a.mu.Lock()
	accept := a.rng.Float64() < a.policy.AcceptProbability
	a.mu.Unlock()
	if !accept {
		a.do(ActionReject, gen)
		return
	}
	if !a.do(ActionAccept, gen) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.stopped && a.gen == gen { // no hangup came while accepting
		a.scheduleLocked(a.policy.TalkTime, a.hangup)
	}
}

func (a *Auto) hangup(gen uint64) { a.do(ActionHangup, gen) }

// autoRetry is how an action refused for now (unavailable, overloaded: a
// cell moving between nodes, the service shedding) is tried again, as a
// client honouring Retry-After would (cluster.md, "Back-off"). In process
// there is no Retry-After: the floor is none.
var autoRetry = backoff.Policy{Base: 50 * time.Millisecond, Cap: 2 * time.Second, Attempts: 6}

// do acts and tells whether it worked, trying again after a refusal that
// may pass while the plan it belongs to (gen) stands; failures are logged
// unless they mean the call or the Auto ended meanwhile.
func (a *Auto) do(action string, gen uint64) bool {
	var err error
	stale := false
	_ = autoRetry.Retry(a.ctx, func(attempt int) (bool, time.Duration) {
		if attempt > 1 && !a.current(gen) {
			stale = true
			return false, 0
		}
		err = a.act.Act(a.ctx, action)
		code := errcode.Of(err)
		return err != nil && (code == errcode.Unavailable || code == errcode.Overloaded), 0
	})
	switch {
	case err == nil:
		return true
	case stale || a.ctx.Err() != nil:
		return false
	}
	if errcode.Of(err) != errcode.InvalidState {
		a.log.Warn().Err(err).Str("action", action).Msg("auto device action failed")
	}
	return false
}

// current tells whether the plan gen still stands.
func (a *Auto) current(gen uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.stopped && a.gen == gen
}

// scheduleLocked replaces the plan with step after a random delay in r.
func (a *Auto) scheduleLocked(r [2]time.Duration, step func(gen uint64)) {
	a.cancelLocked()
	gen := a.gen
	delay := r[0] + time.Duration(a.rng.Int64N(int64(r[1]-r[0])+1))
	a.timer = time.AfterFunc(delay, func() {
		a.mu.Lock()
		if a.stopped || a.gen != gen {
			a.mu.Unlock()
			return
		}
		a.timer = nil
		a.running.Add(1)
		a.mu.Unlock()
		defer a.running.Done()
		step(gen)
	})
}

func (a *Auto) cancelLocked() {
	a.gen++
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}

// DeviceSpec is how an attached phone's handset behaves: manual (nil Auto:
// the API drives it) or auto (the book's phone simulator).
type DeviceSpec struct {
	Auto *AutoPolicy
	Seed uint64 // makes an auto device reproducible; 0 = random
}

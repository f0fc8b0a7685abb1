// Package backoff is how bsc tries again what was refused for now
// (cluster.md, "Back-off": a 503 from a server shedding load, a cell moving
// between nodes, a NATS cluster still electing): capped exponential
// back-off with full jitter, honouring the wait the refusal asked for
// (Retry-After) as a floor, a bounded number of attempts, and every wait
// ended by its context. The load driver, the auto devices and a cluster
// node's start share it; it knows nothing of HTTP.
package backoff

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ErrGaveUp is a Retry that stopped trying: its attempts were spent, or
// the refusal asked for a longer wait than the policy's cap.
var ErrGaveUp = errors.New("gave up retrying")

// Policy is how to wait between attempts.
type Policy struct {
	// Base bounds the jitter of the first retry; each retry doubles the
	// bound, up to Cap.
	Base time.Duration
	// Cap bounds every wait, floor included: a refusal asking for longer
	// is given up on rather than waited for beyond what the client meant
	// to spend.
	Cap time.Duration
	// Attempts is how many times at most an operation is tried, the first
	// included (1: never retried; 0: until the context ends, for what a
	// node must have to go on, such as its streams).
	Attempts int
}

// Delay is the wait before retry n (1 for the first) after a refusal that
// asked for at least floor (its Retry-After; 0 when none), and whether to
// retry at all: not once Attempts are spent, nor when floor is beyond Cap.
// The wait is floor plus a uniform draw ("full jitter", which spreads the
// clients refused at one moment instead of bringing them back together)
// in [0, min(Base·2^(n-1), Cap − floor)].
func (p Policy) Delay(n int, floor time.Duration) (time.Duration, bool) {
	if n < 1 || p.Attempts > 0 && n >= p.Attempts || floor < 0 || floor > p.Cap {
		return 0, false
	}
	bound := p.Cap
	if shift := n - 1; shift < 62 && p.Base <= p.Cap>>shift {
		bound = p.Base << shift
	}
	bound = min(bound, p.Cap-floor)
	return floor + time.Duration(rand.Int64N(int64(bound)+1)), true
}

// Retry calls try until it says not to try again, Delay says to give up,
// or ctx ends. try gets the attempt's number (1 for the first) and answers
// whether its refusal is worth another attempt, with the wait it asked
// for. Retry returns nil when try said not to try again (try keeps its
// own outcome), ErrGaveUp, or ctx's error if ctx ended during a wait.
func (p Policy) Retry(ctx context.Context, try func(attempt int) (again bool, floor time.Duration)) error {
	for n := 1; ; n++ {
		again, floor := try(n)
		if !again {
			return nil
		}
		wait, ok := p.Delay(n, floor)
		if !ok {
			return ErrGaveUp
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// Sleep waits d, or less if ctx ends first, whose error it then returns.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

// draws is how often a case draws its delay: enough that the jitter's
// whole range shows (a draw lands in the lowest or the highest tenth of
// it with probability 1 − 0.9^2000, which is 1 to many digits).
const draws = 2000

func TestDelay(t *testing.T) {
	p := Policy{Base: 50 * time.Millisecond, Cap: 2 * time.Second, Attempts: 5}
	for _, tc := range []struct {
		name   string
		p      Policy
		n      int
		floor  time.Duration
		retry  bool
		lo, hi time.Duration // the wait is within [lo, hi], and its draws cover it
	}{
		{"first retry: up to the base", p, 1, 0, true, 0, 50 * time.Millisecond},
		{"doubles each retry", p, 3, 0, true, 0, 200 * time.Millisecond},
		{"capped", Policy{Base: time.Second, Cap: 2 * time.Second, Attempts: 10}, 6, 0, true, 0, 2 * time.Second},
		{"capped without overflow", Policy{Base: time.Second, Cap: 2 * time.Second, Attempts: 100}, 80, 0, true, 0, 2 * time.Second},
		{"Retry-After is the floor", p, 1, time.Second, true, time.Second, time.Second + 50*time.Millisecond},
		{"floor and jitter within the cap", p, 4, 1900 * time.Millisecond, true, 1900 * time.Millisecond, 2 * time.Second},
		{"floor at the cap: no jitter left", p, 2, 2 * time.Second, true, 2 * time.Second, 2 * time.Second},
		{"floor beyond the cap: give up", p, 1, 3 * time.Second, false, 0, 0},
		{"attempts spent: give up", p, 5, 0, false, 0, 0},
		{"one attempt: never retried", Policy{Base: time.Millisecond, Cap: time.Second, Attempts: 1}, 1, 0, false, 0, 0},
		{"no attempt bound: retried on, capped", Policy{Base: time.Second, Cap: 2 * time.Second}, 1000, 0, true, 0, 2 * time.Second},
		{"no retry 0", p, 0, 0, false, 0, 0},
		{"negative floor", p, 1, -time.Second, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lowest, highest := time.Duration(1<<62), time.Duration(-1)
			for range draws {
				d, retry := tc.p.Delay(tc.n, tc.floor)
				if retry != tc.retry {
					t.Fatalf("Delay(%d, %v) retries %v, want %v", tc.n, tc.floor, retry, tc.retry)
				}
				if !retry {
					return
				}
				if d < tc.lo || d > tc.hi {
					t.Fatalf("Delay(%d, %v) = %v, outside [%v, %v]", tc.n, tc.floor, d, tc.lo, tc.hi)
				}
				lowest, highest = min(lowest, d), max(highest, d)
			}
			tenth := (tc.hi - tc.lo) / 10
			if lowest > tc.lo+tenth || highest < tc.hi-tenth {
				t.Errorf("%d draws within [%v, %v]: the jitter does not cover [%v, %v]", draws, lowest, highest, tc.lo, tc.hi)
			}
		})
	}
}

// refusals is a try refused the first n times, asking for floor each
// time.
func refusals(n int, floor time.Duration, attempts *int) func(int) (bool, time.Duration) {
	return func(attempt int) (bool, time.Duration) {
		*attempts = attempt
		return attempt <= n, floor
	}
}

func TestRetry(t *testing.T) {
	p := Policy{Base: time.Millisecond, Cap: 20 * time.Millisecond, Attempts: 4}
	for _, tc := range []struct {
		name     string
		refused  int
		floor    time.Duration
		err      error
		attempts int
	}{
		{"not refused: one attempt", 0, 0, nil, 1},
		{"refused twice, then done", 2, 0, nil, 3},
		{"refused twice with a floor, then done", 2, 10 * time.Millisecond, nil, 3},
		{"refused every time: gives up after the attempts", 10, 0, ErrGaveUp, 4},
		{"asked to wait beyond the cap: gives up at once", 10, time.Second, ErrGaveUp, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attempts int
			start := time.Now()
			err := p.Retry(context.Background(), refusals(tc.refused, tc.floor, &attempts))
			if !errors.Is(err, tc.err) || attempts != tc.attempts {
				t.Fatalf("Retry: %v after %d attempts, want %v after %d", err, attempts, tc.err, tc.attempts)
			}
			// Each wait is at least the floor asked for.
			if waited, floors := time.Since(start), time.Duration(min(tc.refused, tc.attempts-1))*tc.floor; waited < floors {
				t.Errorf("waited %v, less than the %v the refusals asked for", waited, floors)
			}
		})
	}
}

// A wait ends with its context: the retry is not made and the context's
// error returned.
func TestRetryCancelled(t *testing.T) {
	p := Policy{Base: time.Hour, Cap: time.Hour, Attempts: 3}
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	done := make(chan error, 1)
	go func() {
		done <- p.Retry(ctx, func(attempt int) (bool, time.Duration) {
			attempts = attempt
			return true, time.Hour // an hour's wait: only the cancel ends it
		})
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || attempts != 1 {
			t.Fatalf("Retry: %v after %d attempts, want context.Canceled after 1", err, attempts)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Retry did not end with its context")
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context: %v", err)
	}
}

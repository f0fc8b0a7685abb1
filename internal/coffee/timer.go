package coffee

import "time"

// Timer is the payment timer as a machine uses it.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// NewTimerFunc makes a Timer that fires once after d. Tests pass their own to
// move time by hand.
type NewTimerFunc func(d time.Duration) Timer

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

func newRealTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

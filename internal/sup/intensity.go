package sup

import "time"

// intensity is OTP's restart intensity: more than max restarts within
// period makes the supervisor give up.
type intensity struct {
	max    int
	period time.Duration
	times  []time.Time // restarts within the period, oldest first
}

// add records a restart at now and reports whether it is still allowed.
func (in *intensity) add(now time.Time) bool {
	in.times = append(in.prune(now), now)
	return len(in.times) <= in.max
}

// inWindow is how many restarts happened within the period before now.
func (in *intensity) inWindow(now time.Time) int {
	in.times = in.prune(now)
	return len(in.times)
}

// storm tells whether restarts come faster than half the intensity allows.
func (in *intensity) storm(now time.Time) bool {
	return in.max > 0 && in.inWindow(now)*2 > in.max
}

// nextExpiry is when the oldest restart leaves the window.
func (in *intensity) nextExpiry() (time.Time, bool) {
	if len(in.times) == 0 {
		return time.Time{}, false
	}
	return in.times[0].Add(in.period), true
}

func (in *intensity) prune(now time.Time) []time.Time {
	cut := 0
	for cut < len(in.times) && now.Sub(in.times[cut]) >= in.period {
		cut++
	}
	return in.times[cut:]
}

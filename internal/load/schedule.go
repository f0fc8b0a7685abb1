package load

import (
	"math"
	"math/rand/v2"
	"time"
)

// schedule is the open model's arrival process: a Poisson process of rate
// Rate, whose rate grows linearly from 0 over the ramp. Each attempt has
// its intended time fixed in advance by the seeded generator, so the load
// offered does not depend on how fast the server answers (no coordinated
// omission), and the same seed offers the same load.
//
// A ramped Poisson process is made by time rescaling: unit-rate exponential
// gaps accumulate to S, and the arrival is at the t where the cumulative
// rate Λ(t) reaches S. Λ(t) = R·t²/(2T) during a ramp of length T, then
// R·T/2 + R·(t−T).
type schedule struct {
	rate float64 // attempts per second once ramped up
	ramp float64 // seconds
	rng  *rand.Rand
	s    float64 // Λ of the last arrival
}

func newSchedule(rate float64, ramp time.Duration, seed uint64) *schedule {
	// A stream of its own, so the schedule does not shift when the run's
	// other random choices are drawn in a different order.
	return &schedule{rate: rate, ramp: ramp.Seconds(), rng: rand.New(rand.NewPCG(seed, 0x5c4ed01e))}
}

// next is the intended time of the next attempt, from the start of the run.
func (s *schedule) next() time.Duration {
	s.s += s.rng.ExpFloat64()
	return time.Duration(s.at(s.s) * float64(time.Second))
}

// at inverts Λ: the time in seconds at which it reaches lambda.
func (s *schedule) at(lambda float64) float64 {
	if ramped := s.rate * s.ramp / 2; lambda > ramped {
		return s.ramp + (lambda-ramped)/s.rate
	}
	return math.Sqrt(2 * s.ramp * lambda / s.rate)
}

// workerStart is when closed-model worker i of n starts: the workers join
// one by one over the ramp.
func workerStart(i, n int, ramp time.Duration) time.Duration {
	return ramp * time.Duration(i) / time.Duration(n)
}

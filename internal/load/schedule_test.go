package load

import (
	"math"
	"testing"
	"time"
)

func TestScheduleMeanRate(t *testing.T) {
	for _, rate := range []float64{5, 200, 5000} {
		s := newSchedule(rate, 0, 42)
		const n = 20000
		var last time.Duration
		for range n {
			next := s.next()
			if next < last {
				t.Fatalf("rate %v: arrival %v before the previous one %v", rate, next, last)
			}
			last = next
		}
		// The sum of n exponential gaps has a relative spread of 1/sqrt(n),
		// 0.7 %: 3 % is over four of those.
		if got := n / last.Seconds(); math.Abs(got-rate)/rate > 0.03 {
			t.Errorf("rate %v: mean rate %.2f over %d arrivals", rate, got, n)
		}
	}
}

// The gaps of a Poisson process are exponential: their spread equals their
// mean, where evenly spaced arrivals would have none.
func TestScheduleIsPoisson(t *testing.T) {
	s := newSchedule(100, 0, 7)
	var sum, sumSq float64
	prev := time.Duration(0)
	const n = 20000
	for range n {
		next := s.next()
		gap := (next - prev).Seconds()
		prev = next
		sum += gap
		sumSq += gap * gap
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	if math.Abs(sd/mean-1) > 0.05 {
		t.Errorf("gap mean %.5f sd %.5f: coefficient of variation %.3f, want 1", mean, sd, sd/mean)
	}
}

func TestScheduleRamp(t *testing.T) {
	const rate, ramp = 1000.0, 2 * time.Second
	s := newSchedule(rate, ramp, 3)
	var inRamp, firstHalf, afterRamp int
	for {
		at := s.next()
		if at >= 2*ramp {
			break
		}
		switch {
		case at < ramp/2:
			firstHalf++
			inRamp++
		case at < ramp:
			inRamp++
		default:
			afterRamp++
		}
	}
	// Λ(T) = R·T/2 = 1000 arrivals in the ramp, a quarter of them in its
	// first half; then R·T = 2000 in the next T.
	check := func(name string, got int, want float64) {
		if math.Abs(float64(got)-want) > 4*math.Sqrt(want) {
			t.Errorf("%s: %d arrivals, want about %.0f", name, got, want)
		}
	}
	check("ramp", inRamp, 1000)
	check("ramp's first half", firstHalf, 250)
	check("after the ramp", afterRamp, 2000)
}

func TestScheduleReproducible(t *testing.T) {
	a, b, c := newSchedule(50, time.Second, 9), newSchedule(50, time.Second, 9), newSchedule(50, time.Second, 10)
	same := true
	for range 100 {
		x, y, z := a.next(), b.next(), c.next()
		if x != y {
			t.Fatalf("same seed, different schedules: %v and %v", x, y)
		}
		same = same && x == z
	}
	if same {
		t.Error("different seeds, same schedule")
	}
}

func TestWorkerStart(t *testing.T) {
	for i, want := range []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond} {
		if got := workerStart(i, 4, time.Second); got != want {
			t.Errorf("worker %d starts at %v, want %v", i, got, want)
		}
	}
	if got := workerStart(3, 4, 0); got != 0 {
		t.Errorf("no ramp: worker starts at %v", got)
	}
}

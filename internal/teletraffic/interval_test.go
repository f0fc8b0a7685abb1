package teletraffic

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestZ(t *testing.T) {
	for _, tt := range []struct{ conf, z float64 }{{0.95, 1.959964}, {0.99, 2.575829}, {0.999, 3.290527}} {
		if got := Z(tt.conf); math.Abs(got-tt.z) > 1e-6 {
			t.Errorf("Z(%g) = %.6f, want %.6f", tt.conf, got, tt.z)
		}
	}
}

// Published Wilson intervals (Newcombe 1998, table I) and the edges.
func TestWilson(t *testing.T) {
	tests := []struct {
		k, n   float64
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{5, 10, 0.2366, 0.7634},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.k/tt.n, tt.n, Z(0.95))
		if math.Abs(lo-tt.lo) > 1e-4 || math.Abs(hi-tt.hi) > 1e-4 {
			t.Errorf("Wilson(%g/%g) = [%.4f, %.4f], want [%.4f, %.4f]", tt.k, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	if lo, hi := Wilson(0, 0, Z(0.95)); lo != 0 || hi != 1 {
		t.Errorf("no trials: [%g, %g], want [0, 1]", lo, hi)
	}
}

func TestDispersionEdges(t *testing.T) {
	// One channel: the arrivals that find it busy are independent trials.
	for _, a := range []float64{0.1, 1, 7} {
		if d := Dispersion(a, 1); math.Abs(d-1) > 1e-12 {
			t.Errorf("Dispersion(%g, 1) = %g, want 1", a, d)
		}
	}
	if d := Dispersion(0, 10); d != 1 {
		t.Errorf("no traffic: %g", d)
	}
	// Hundreds of channels, far from and near the load: finite, above 1.
	for _, c := range []struct {
		a float64
		n int
	}{{5, 400}, {400, 400}, {2000, 400}} {
		if d := Dispersion(c.a, c.n); !(d >= 1) || math.IsInf(d, 0) {
			t.Errorf("Dispersion(%g, %d) = %g", c.a, c.n, d)
		}
	}
}

// Dispersion against the loss system itself: many seeded runs of a
// simulated M/M/n/n queue, the variance of their blocking ratios compared
// with D·B(1−B)/calls. Seeded, so the figures are the same every time.
func TestDispersionSimulated(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	const calls, runs = 2000, 1000
	for _, c := range []struct {
		a float64
		n int
	}{{3, 6}, {5.08, 10}, {8, 10}} {
		var sum, sumSq float64
		for range runs {
			p := simulateLoss(rng, c.a, c.n, calls)
			sum += p
			sumSq += p * p
		}
		mean := sum / runs
		variance := sumSq/runs - mean*mean
		b := ErlangB(c.a, c.n)
		want := Dispersion(c.a, c.n) * b * (1 - b) / calls
		// The sample variance of 1000 runs has a relative error of about
		// 4.5 %: 12 % is a wide bound (and the seed fixes the draw), while
		// a binomial variance (D = 1) would be off by a factor of 2 to 3.5.
		if r := variance / want; r < 0.88 || r > 1.12 {
			t.Errorf("A=%g N=%d: simulated variance %.3g, formula %.3g (ratio %.3f); D = %.3f",
				c.a, c.n, variance, want, r, Dispersion(c.a, c.n))
		}
		if math.Abs(mean-b) > 0.1*b {
			t.Errorf("A=%g N=%d: simulated blocking %.4f, Erlang B %.4f", c.a, c.n, mean, b)
		}
	}
}

// simulateLoss offers calls Poisson arrivals of a Erlangs (mean holding
// time 1) to n channels, starting empty, and returns the blocked fraction.
// Holding times are exponential, so the state is the number of busy
// channels and the next event is an arrival with probability a/(a+busy),
// else an end of call.
func simulateLoss(rng *rand.Rand, a float64, n, calls int) float64 {
	busy, blocked := 0, 0
	for arrived := 0; arrived < calls; {
		if rng.Float64()*(a+float64(busy)) >= a {
			busy--
			continue
		}
		arrived++
		if busy == n {
			blocked++
		} else {
			busy++
		}
	}
	return float64(blocked) / float64(calls)
}

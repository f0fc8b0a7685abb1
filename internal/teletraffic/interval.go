package teletraffic

import "math"

// How sure a measured blocking is.
//
// A run counts k blocked calls among the n that reached the allocator, and
// k/n estimates the blocking probability. The usual binomial interval
// treats the n calls as independent trials; in a loss system they are
// not: the calls that arrive while all channels are busy are blocked
// together, and a busy spell lasts about a holding time, during which A
// calls arrive. The count of blocked calls is over-dispersed: its variance
// is D times the binomial one, D between 2 and 3.5 for the cells of a few
// to tens of channels (D = 1 for a single channel). An interval that
// ignored it would be too narrow by √D and a correct server would fail a
// test built on it several times in a hundred.
//
// So the interval is Wilson's score interval of the proportion computed
// with the effective number of trials n/D, D being Dispersion(A, N) of
// the Erlang loss system the run offers. Wilson's rather than the
// textbook p ± z·√(p(1−p)/n) (Wald) because blocking is a small
// proportion: Wald's interval collapses to a point when no call was
// blocked and undercovers near 0, Wilson's keeps close to its nominal
// coverage there and never leaves [0, 1].

// Dispersion is D for offered traffic a (> 0) on n (≥ 1) channels: the
// asymptotic variance of the number of blocked calls among the calls
// offered, per call, divided by the binomial variance B(1−B).
//
// The number of busy channels is a birth-death chain (births at rate λ
// below n, deaths at k/h in state k). Counting each arriving call as
// 1−B if blocked and −B if carried gives a sum whose mean is zero (a
// Poisson arrival sees the time-stationary state, so it is blocked with
// probability B = π(n)). Its asymptotic variance per arrival comes from
// the solution of Poisson's equation for the chain, whose increments are
// d(k) = B·F(k)/π(k), F the cumulative stationary distribution:
//
//	v = π(n)(1−B)² + Σ_{k<n} π(k)·((d(k)−B)² + d(k)²)
//
// (the first term blocked arrivals, the second carried ones and the
// departures). With d = 0 it would be the binomial B(1−B). The tests
// check v against a simulation of the loss system.
func Dispersion(a float64, n int) float64 {
	if a <= 0 || n < 1 {
		return 1 // nothing is ever blocked, or everything is: no variance to widen
	}
	// log π(k) up to a constant: the weights aᵏ/k!, in logs so that
	// hundreds of channels neither overflow nor underflow.
	logp := make([]float64, n+1)
	logZ := math.Inf(-1)
	for k := range logp {
		lg, _ := math.Lgamma(float64(k + 1))
		logp[k] = float64(k)*math.Log(a) - lg
		logZ = logAddExp(logZ, logp[k])
	}
	for k := range logp {
		logp[k] -= logZ
	}
	b := math.Exp(logp[n])
	if b <= 0 || b >= 1 {
		return 1
	}
	v := b * (1 - b) * (1 - b)
	logF := math.Inf(-1)
	for k := range n {
		logF = logAddExp(logF, logp[k])
		d := math.Exp(logp[n] + logF - logp[k]) // ≤ 1 where π(k) is small
		v += math.Exp(logp[k]) * ((d-b)*(d-b) + d*d)
	}
	return v / (b * (1 - b))
}

func logAddExp(x, y float64) float64 {
	if x < y {
		x, y = y, x
	}
	if math.IsInf(x, -1) {
		return x
	}
	return x + math.Log1p(math.Exp(y-x))
}

// Z is the standard normal quantile of a two-sided interval of confidence
// conf (0 < conf < 1): 1.96 for 0.95.
func Z(conf float64) float64 { return math.Sqrt2 * math.Erfinv(conf) }

// Wilson is the Wilson score interval of a proportion p measured over n
// trials (n may be fractional: an effective number), at the normal
// quantile z. n ≤ 0 is no measurement: [0, 1].
func Wilson(p, n, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	z2 := z * z
	centre := (p + z2/(2*n)) / (1 + z2/n)
	half := z / (1 + z2/n) * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return max(0, centre-half), min(1, centre+half)
}

// BlockingInterval is the interval of confidence conf around a blocking
// measured as blocked of reached calls, offered a Erlangs on n channels:
// Wilson's with the effective number of trials reached/Dispersion(a, n).
func BlockingInterval(blocked, reached int64, a float64, n int, conf float64) (lo, hi float64) {
	if reached <= 0 {
		return 0, 1
	}
	p := float64(blocked) / float64(reached)
	return Wilson(p, float64(reached)/Dispersion(a, n), Z(conf))
}

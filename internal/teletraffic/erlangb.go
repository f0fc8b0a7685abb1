// Package teletraffic is the arithmetic of dimensioning a cell: Erlang's
// loss formula (Erlang B) and its inverses, and the statistics that compare
// a measured blocking with it. docs/traffic.md explains the model.
//
// Traffic is in Erlangs: A = call arrival rate × mean holding time, the
// mean number of calls in progress if none were refused. Erlang B is the
// probability that a call finds all n channels busy when calls arrive as a
// Poisson process and a blocked call is cleared (it does not wait or come
// back). It depends on the holding times only through their mean.
package teletraffic

// MaxErlangs bounds the traffic the inverses accept: Channels takes about
// A steps, and no cell carries a million Erlangs.
const MaxErlangs = 1e6

// ErlangB is B(a, n): the probability that a call offered to n channels
// carrying a Erlangs is blocked. a ≥ 0, n ≥ 0.
//
// The textbook form, (aⁿ/n!) / Σₖ aᵏ/k!, overflows for a few hundred
// channels; the recursion B(a,0) = 1, B(a,k) = a·B(a,k−1) / (k + a·B(a,k−1))
// stays within [0, 1] at every step and loses no precision.
func ErlangB(a float64, n int) float64 {
	b := 1.0
	for k := 1; k <= n; k++ {
		ab := a * b
		b = ab / (float64(k) + ab)
	}
	return b
}

// Channels is the fewest channels on which a Erlangs are blocked with a
// probability of at most gos (0 < gos < 1, 0 ≤ a ≤ MaxErlangs): the
// inverse of Erlang B that dimensions a cell. B falls with every channel
// added, so the recursion is run until it reaches gos; that takes about a
// steps (a + O(√a) channels are always enough).
func Channels(a, gos float64) int {
	n, b := 0, 1.0
	for b > gos {
		n++
		ab := a * b
		b = ab / (float64(n) + ab)
	}
	return n
}

// Capacity is the most traffic n channels carry at a blocking of at most
// gos (n ≥ 1, 0 < gos < 1): the number in an Erlang B table's row n and
// column gos. B grows with a, so it is found by bisection, to the precision
// of a float64.
func Capacity(n int, gos float64) float64 {
	lo, hi := 0.0, float64(n)+1
	for ErlangB(hi, n) <= gos {
		lo, hi = hi, 2*hi
	}
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if ErlangB(mid, n) <= gos {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

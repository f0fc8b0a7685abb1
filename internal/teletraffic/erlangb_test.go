package teletraffic

import (
	"math"
	"testing"
)

// A standard Erlang B table (e.g. the ITU-T E.800-series tables, or any
// teletraffic handbook): the traffic in Erlangs that n channels carry at a
// blocking of 1 %, 2 % and 5 %, to the table's precision.
var erlangBTable = []struct {
	n    int
	gos  float64
	a    float64 // as printed
	unit float64 // the table's last digit
}{
	{1, 0.01, 0.0101, 0.0001}, {1, 0.02, 0.0204, 0.0001}, {1, 0.05, 0.0526, 0.0001},
	{2, 0.01, 0.153, 0.001}, {2, 0.02, 0.223, 0.001}, {2, 0.05, 0.381, 0.001},
	{5, 0.01, 1.36, 0.01}, {5, 0.02, 1.66, 0.01}, {5, 0.05, 2.22, 0.01},
	{6, 0.01, 1.91, 0.01}, {6, 0.02, 2.28, 0.01}, {6, 0.05, 2.96, 0.01},
	{10, 0.01, 4.46, 0.01}, {10, 0.02, 5.08, 0.01}, {10, 0.05, 6.22, 0.01},
	{20, 0.01, 12.0, 0.1}, {20, 0.02, 13.2, 0.1}, {20, 0.05, 15.2, 0.1},
	{50, 0.01, 37.9, 0.1}, {50, 0.02, 40.3, 0.1}, {50, 0.05, 44.5, 0.1},
	{100, 0.01, 84.1, 0.1}, {100, 0.02, 88.0, 0.1}, {100, 0.05, 95.2, 0.1},
}

// The printed value is the capacity rounded: half a unit below it the
// blocking is under the grade of service, half a unit above it is over.
func TestErlangBTable(t *testing.T) {
	for _, row := range erlangBTable {
		below, above := ErlangB(row.a-row.unit/2, row.n), ErlangB(row.a+row.unit/2, row.n)
		if !(below <= row.gos && row.gos <= above) {
			t.Errorf("n=%d: B(%g) = %.5f, B(%g) = %.5f: the table's %g E at %g is not between",
				row.n, row.a-row.unit/2, below, row.a+row.unit/2, above, row.a, row.gos)
		}
		if c := Capacity(row.n, row.gos); math.Abs(c-row.a) > row.unit/2 {
			t.Errorf("Capacity(%d, %g) = %.5f, table %g", row.n, row.gos, c, row.a)
		}
		if c := Capacity(row.n, row.gos); math.Abs(ErlangB(c, row.n)-row.gos) > 1e-12 {
			t.Errorf("B(Capacity(%d, %g)) = %.15f", row.n, row.gos, ErlangB(c, row.n))
		}
		// The table read backwards: just under the row's capacity needs
		// the row's channels, just over it one more.
		if got := Channels(row.a-row.unit/2, row.gos); got != row.n {
			t.Errorf("Channels(%g, %g) = %d, want %d", row.a-row.unit/2, row.gos, got, row.n)
		}
		if got := Channels(row.a+row.unit/2, row.gos); got != row.n+1 {
			t.Errorf("Channels(%g, %g) = %d, want %d", row.a+row.unit/2, row.gos, got, row.n+1)
		}
	}
}

func TestErlangBExact(t *testing.T) {
	tests := []struct {
		a    float64
		n    int
		want float64
	}{
		{5, 0, 1},          // no channel: every call blocked
		{0, 3, 0},          // no traffic: none
		{1, 1, 0.5},        // a/(1+a)
		{1, 2, 0.2},        // (1/2)/(1+1+1/2)
		{2, 2, 0.4},        // 2/(1+2+2)
		{3, 3, 4.5 / 13},   // (27/6)/(1+3+4.5+4.5)
		{0.25, 1, 0.2},     // 0.25/1.25
		{10, 10, 0.214582}, // beyond the table: to 6 digits
	}
	for _, tt := range tests {
		if got := ErlangB(tt.a, tt.n); math.Abs(got-tt.want) > 5e-7 {
			t.Errorf("B(%g, %d) = %.7f, want %.7f", tt.a, tt.n, got, tt.want)
		}
	}
}

// Thousands of channels: the recursion neither overflows nor loses its
// way, and B falls with every channel added.
func TestErlangBLarge(t *testing.T) {
	prev := 1.0
	for n := 1; n <= 5000; n++ {
		b := ErlangB(4000, n)
		if !(b < prev) || math.IsNaN(b) {
			t.Fatalf("B(4000, %d) = %g after %g", n, b, prev)
		}
		prev = b
	}
	// n channels carry at most n Erlangs, a(1−B) ≤ n, so n ≥ a(1−gos);
	// and n = a already blocks far less than 1 % of a million Erlangs.
	if n := Channels(MaxErlangs, 0.01); n < 0.99*MaxErlangs || n > MaxErlangs {
		t.Errorf("Channels(%g, 0.01) = %d, want within [%g, %g]", MaxErlangs, n, 0.99*MaxErlangs, MaxErlangs)
	}
}

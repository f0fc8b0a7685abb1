package suggest

import (
	"slices"
	"strconv"
	"testing"
)

func TestNames(t *testing.T) {
	known := []string{"serve", "load", "check", "version", "help", "completion"}
	tests := []struct {
		typed string
		want  []string
	}{
		{"serv", []string{"serve"}},      // one missing
		{"sevre", []string{"serve"}},     // two swapped: one edit
		{"SERVE", []string{"serve"}},     // case
		{"chekc", []string{"check"}},     // swapped at the end
		{"comp", []string{"completion"}}, // a prefix, however far
		{"lead", []string{"load"}},       // one substituted
		{"hlep", []string{"help"}},
		{"hepl", []string{"help"}},
		{"xy", nil}, // two letters: one edit at most
		{"lod", []string{"load"}},
		{"frobnicate", nil},
		{"serve", []string{"serve"}}, // as a long flag given with one dash: -serve
		{"", nil},
	}
	for _, tt := range tests {
		if got := Names(tt.typed, known); !slices.Equal(got, tt.want) {
			t.Errorf("Names(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
}

func TestNamesClosestFirst(t *testing.T) {
	got := Names("phone", []string{"phone-rate", "phones", "zone", "phonetic"})
	if want := []string{"phones", "zone", "phonetic", "phone-rate"}; !slices.Equal(got, want) {
		t.Errorf("Names = %q, want %q", got, want)
	}
}

func TestDidYouMean(t *testing.T) {
	flag := func(s string) string { return "--" + s }
	tests := []struct {
		typed string
		known []string
		want  string
	}{
		{"phone", []string{"phones", "target"}, "; did you mean --phones?"},
		{"ra", []string{"rate", "ramp", "seed"}, "; did you mean --rate or --ramp?"},
		{"a", []string{"ab", "ac", "ad", "ae"}, "; did you mean --ab, --ac or --ad?"},
		{"zzzzzz", []string{"phones"}, ""},
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.typed, tt.known, flag); got != tt.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
	if got := DidYouMean("frequency", []string{"frequencies"}, strconv.Quote); got != `; did you mean "frequencies"?` {
		t.Errorf("quoted: %q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"abc", "abc", 0},
		{"ab", "ba", 1}, {"frequency", "frequencies", 3}, {"ca", "abc", 3}} {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

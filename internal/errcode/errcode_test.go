package errcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	base := New("no_frequency", "no free frequency")
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"plain", base, "no_frequency"},
		{"wrapped", fmt.Errorf("allocate: %w", base), "no_frequency"},
		{"foreign", errors.New("boom"), ""},
		{"nil", nil, ""},
	}
	for _, c := range cases {
		if got := Of(c.err); got != c.want {
			t.Errorf("%s: Of = %q, want %q", c.name, got, c.want)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", base), base) {
		t.Error("wrapped sentinel must match with errors.Is")
	}
}

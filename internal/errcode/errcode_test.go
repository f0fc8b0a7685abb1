package errcode

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
)

func TestOf(t *testing.T) {
	base := New(NoFrequency, "no free frequency")
	cases := []struct {
		name string
		err  error
		want Code
	}{
		{"plain", base, NoFrequency},
		{"wrapped", fmt.Errorf("allocate: %w", base), NoFrequency},
		{"foreign", errors.New("boom"), None},
		{"nil", nil, None},
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

// TestNames: every code of All has a name of its own, in snake case as
// the API spells codes; None, which is no code of the API, has none and is
// not listed.
func TestNames(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[string]Code{}
	for _, c := range All() {
		name := c.String()
		if !snake.MatchString(name) {
			t.Errorf("code %d is named %q", c, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("codes %d and %d are both %q", prev, c, name)
		}
		seen[name] = c
		if c == None {
			t.Error("All lists None")
		}
	}
	if len(seen) != int(end-1) {
		t.Errorf("All lists %d codes, want %d", len(seen), end-1)
	}
	if None.String() != "" {
		t.Errorf("None is %q", None)
	}
	if got := Code(200).String(); got != "errcode.Code(200)" {
		t.Errorf("an unknown code prints as %q", got)
	}
}

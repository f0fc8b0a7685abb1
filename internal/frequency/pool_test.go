package frequency

import (
	"errors"
	"slices"
	"testing"
)

func TestParsePool(t *testing.T) {
	cases := []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "10-15", want: []int{10, 11, 12, 13, 14, 15}},
		{in: "10-15,20,22-24", want: []int{10, 11, 12, 13, 14, 15, 20, 22, 23, 24}},
		{in: " 7 , 3 ", want: []int{7, 3}},
		{in: "5", want: []int{5}},
		{in: "", bad: true},
		{in: "0", bad: true},
		{in: "-3", bad: true},
		{in: "10-15,12", bad: true},
		{in: "15-10", bad: true},
		{in: "a-b", bad: true},
		{in: "1-1000000000", bad: true},
		{in: "10,,11", bad: true},
	}
	for _, c := range cases {
		got, err := ParsePool(c.in)
		if c.bad {
			if !errors.Is(err, ErrInvalidPool) {
				t.Errorf("%q: err = %v, want ErrInvalidPool", c.in, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

package cluster

import (
	"fmt"
	"slices"
	"testing"
)

func TestPlacementIsEvenAndStable(t *testing.T) {
	for _, tc := range []struct {
		cells int
		nodes []string
	}{
		{12, []string{"n1", "n2", "n3"}},
		{12, []string{"n1", "n2"}},
		{7, []string{"a", "b", "c"}},
		{1, []string{"a", "b"}},
		{12, []string{"n1"}},
	} {
		p := Placement(tc.cells, tc.nodes)
		count := map[string]int{}
		for c, n := range p {
			if !slices.Contains(tc.nodes, n) {
				t.Fatalf("%d cells on %v: cell %d placed on %q", tc.cells, tc.nodes, c, n)
			}
			count[n]++
		}
		share := (tc.cells + len(tc.nodes) - 1) / len(tc.nodes)
		for n, k := range count {
			if k > share {
				t.Errorf("%d cells on %v: %s has %d, more than its share %d", tc.cells, tc.nodes, n, k, share)
			}
		}
		// The same for every node, whatever order it lists the others in.
		rev := slices.Clone(tc.nodes)
		slices.Reverse(rev)
		if q := Placement(tc.cells, rev); !slices.Equal(p, q) {
			t.Errorf("placement depends on the order of the nodes: %v vs %v", p, q)
		}
	}
}

// When a node leaves, only its cells move (and a few more to keep the
// spread even); when it returns, they go back.
func TestPlacementMovesLittle(t *testing.T) {
	all := Placement(12, []string{"n1", "n2", "n3"})
	two := Placement(12, []string{"n1", "n2"})
	moved := 0
	for c := range all {
		if all[c] != "n3" && all[c] != two[c] {
			moved++
		}
	}
	if moved > 2 {
		t.Errorf("losing n3 moved %d of the other nodes' cells: %v -> %v", moved, all, two)
	}
	if back := Placement(12, []string{"n1", "n2", "n3"}); fmt.Sprint(back) != fmt.Sprint(all) {
		t.Errorf("placement not restored: %v vs %v", back, all)
	}
}

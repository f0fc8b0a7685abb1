package cluster

import (
	"hash/fnv"
	"slices"
	"strconv"
)

// Placement is where the cells should be: each cell's preferred node among
// the live ones, by rendezvous hashing (each node scores each cell; the
// cell prefers its highest-scoring node, the book's precedence list), with
// no node given more than its share (cells/live, rounded up) so that the
// cells are spread evenly. Every node computes the same placement from the
// same live set.
func Placement(cells int, live []string) []string {
	nodes := slices.Clone(live)
	slices.Sort(nodes)
	out := make([]string, cells)
	if len(nodes) == 0 {
		return out
	}
	share := (cells + len(nodes) - 1) / len(nodes)
	load := map[string]int{}
	// Each cell's nodes, best first.
	prefs := make([][]string, cells)
	for c := range cells {
		prefs[c] = rank(c, nodes)
	}
	// Cells whose first choice is strongest go first, so that a full node
	// turns away the cells that care least.
	order := make([]int, cells)
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int {
		sa, sb := score(a, prefs[a][0]), score(b, prefs[b][0])
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	for _, c := range order {
		for _, n := range prefs[c] {
			if load[n] < share {
				out[c] = n
				load[n]++
				break
			}
		}
	}
	return out
}

// rank is the nodes by their score for cell, best first.
func rank(cell int, nodes []string) []string {
	r := slices.Clone(nodes)
	slices.SortStableFunc(r, func(a, b string) int {
		sa, sb := score(cell, a), score(cell, b)
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	return r
}

func score(cell int, node string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(cell)))
	return h.Sum64()
}

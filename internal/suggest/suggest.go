// Package suggest finds what a user probably meant by a name that is not
// one: a mistyped command, flag or config key.
package suggest

import (
	"cmp"
	"slices"
	"strings"
)

// maxEdits is how far a typo may be from the name meant: one edit in
// three letters typed, one at least. Short names would otherwise all be
// near each other, and long ones ("frequency" for "frequencies") missed.
func maxEdits(typed string) int { return max(1, (len(typed)+1)/3) }

// Names returns the known names typed may stand for, closest first: those
// few edits away (case ignored) and those it begins.
func Names(typed string, known []string) []string {
	type near struct {
		name  string
		edits int
	}
	var found []near
	t := strings.ToLower(typed)
	for _, name := range known {
		n := strings.ToLower(name)
		if d := distance(t, n); d <= maxEdits(t) || (t != "" && strings.HasPrefix(n, t)) {
			found = append(found, near{name, d})
		}
	}
	slices.SortStableFunc(found, func(a, b near) int { return cmp.Compare(a.edits, b.edits) })
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.name
	}
	return names
}

// distance is the optimal string alignment distance between a and b: the
// fewest insertions, deletions and substitutions of a byte and swaps of two
// neighbours that turn a into b (the usual typos, each one edit).
func distance(a, b string) int {
	// Rows i-2, i-1 and i of the table of distances between prefixes.
	before, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], before[j-2]+1)
			}
		}
		before, prev, cur = prev, cur, before
	}
	return prev[len(b)]
}

// maxShown bounds the names a hint offers: past a few it is no help.
const maxShown = 3

// DidYouMean is the hint to add to an error about typed: "; did you mean
// X?" with the closest known names (at most three) written by spell, or ""
// when none is close.
func DidYouMean(typed string, known []string, spell func(string) string) string {
	names := Names(typed, known)
	if len(names) == 0 {
		return ""
	}
	names = names[:min(len(names), maxShown)]
	for i, n := range names {
		names[i] = spell(n)
	}
	last := len(names) - 1
	if last == 0 {
		return "; did you mean " + names[0] + "?"
	}
	return "; did you mean " + strings.Join(names[:last], ", ") + " or " + names[last] + "?"
}

// Package celllabel holds the `cell` label of the per-cell series
// (docs/operations.md, "Per cell and per node"): the packages whose
// processes run once per cell (frequency, overload, phonefsm) register
// their vectors with it, give each cell its curried children when the cell
// starts on the node, and delete the cell's series when it leaves, so that
// a sum over the nodes counts each cell once. Its values are the cell
// numbers, 0 to --cells-1.
package celllabel

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Name is the label's name.
const Name = "cell"

// Of is the label pair that names one cell's series.
func Of(id int) prometheus.Labels { return prometheus.Labels{Name: strconv.Itoa(id)} }

// Vec is a metric vector with the cell label.
type Vec interface {
	DeletePartialMatch(prometheus.Labels) int
}

// Delete removes every series of cell id from vecs.
func Delete(id int, vecs ...Vec) {
	l := Of(id)
	for _, v := range vecs {
		v.DeletePartialMatch(l)
	}
}

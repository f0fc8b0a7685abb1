package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
)

// The per-cell routes (frequencies, overload, alarms) name their cell with
// ?cell=N (a body's "cell" for an allocation): a single node has cell 0
// only, so a request that names none is for it (docs/cluster.md).

var errNoCell = fmt.Errorf("%w: no such cell", errNotFound)

// cells is how many cells the service has.
func (s *server) cells() int {
	if s.Cluster == nil {
		return 1
	}
	return s.Cluster.Cells()
}

// cellOf is the cell a request names with ?cell=, 0 when it names none.
func (s *server) cellOf(r *http.Request) (int, error) {
	v := r.URL.Query().Get("cell")
	if v == "" {
		return 0, nil
	}
	c, err := strconv.Atoi(v)
	if err != nil || c < 0 {
		return 0, fmt.Errorf("%w: cell must be a cell number", errInvalidRequest)
	}
	return s.checkCell(c)
}

// bodyCell is a body's "cell": required when there is more than one.
func (s *server) bodyCell(c *int) (int, error) {
	if c == nil {
		if s.cells() > 1 {
			return 0, fmt.Errorf("%w: cell is required: the cluster has %d", errInvalidRequest, s.cells())
		}
		return 0, nil
	}
	return s.checkCell(*c)
}

func (s *server) checkCell(c int) (int, error) {
	if c < 0 || c >= s.cells() {
		return 0, fmt.Errorf("%w: %d (cells are 0 to %d)", errNoCell, c, s.cells()-1)
	}
	return c, nil
}

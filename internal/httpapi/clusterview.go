package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// ClusterStatus is GET /api/v1/cluster: the nodes and who owns each cell,
// as the node asked sees them (docs/cluster.md). A single node answers
// mode "single", itself and its one cell.
type ClusterStatus struct {
	Node       string       `json:"node"`
	Mode       string       `json:"mode"`
	Cells      int          `json:"cells"`
	Nodes      []NodeStatus `json:"nodes"`
	CellOwners []CellOwner  `json:"cell_owners"`
	// Home is the node that leads the engine's streams (docs/cluster.md),
	// and Streams where their leaders are now.
	Home    string         `json:"home,omitempty"`
	Streams []StreamStatus `json:"streams,omitempty"`
}

// StreamStatus is one replicated stream or bucket and its leader.
type StreamStatus struct {
	Name     string `json:"name"`
	Leader   string `json:"leader"`
	Replicas int    `json:"replicas"`
}

// NodeStatus is one node of GET /api/v1/cluster.
type NodeStatus struct {
	Name     string     `json:"name"`
	State    string     `json:"state"` // up, down, draining
	Cells    []int      `json:"cells"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
	Version  string     `json:"version,omitempty"`
}

// CellOwner is one cell of GET /api/v1/cluster.
type CellOwner struct {
	Cell      int    `json:"cell"`
	Owner     string `json:"owner,omitempty"`
	Epoch     uint64 `json:"epoch"`
	Preferred string `json:"preferred"`
	State     string `json:"state"` // serving, handing_off, taking_over, unowned
}

func (s *server) mountCluster(r chi.Router) {
	r = need(r, s.ClusterStatus != nil, "cluster")
	r.Get("/api/v1/cluster", handle(func(w http.ResponseWriter, _ *http.Request) error {
		WriteJSON(w, http.StatusOK, s.ClusterStatus())
		return nil
	}))
	r.Post("/api/v1/cluster/nodes/{node}:drain", handle(s.drainNode))
}

var errSingleNode = fmt.Errorf("%w: a single node has no other node to hand its cells to", errcode.New(errcode.InvalidState, "invalid state"))

// drainNode starts draining a node: this one, or another, to which the
// request is carried. It answers 202 with the cluster as this node sees
// it; the cells move over the next seconds (GET /api/v1/cluster).
func (s *server) drainNode(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "node")
	if s.DrainNode == nil || s.Cluster == nil {
		return errSingleNode
	}
	if name != s.Cluster.Node() {
		known := false
		for _, n := range s.ClusterStatus().Nodes {
			known = known || n.Name == name && n.State != "down"
		}
		if !known {
			return fmt.Errorf("%w: no live node %q", errNotFound, name)
		}
		return s.forward(w, r, name)
	}
	if err := s.DrainNode(); err != nil {
		return err
	}
	WriteJSON(w, http.StatusAccepted, s.ClusterStatus())
	return nil
}

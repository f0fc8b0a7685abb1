package load

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// checkTargets checks that the targets are one server, or every live node
// of one cluster, each once (GET /api/v1/cluster): the driver loads a
// cluster as a whole, its requests spread over every node, and a node
// given twice would get twice its share. Then it checks the traffic
// model's cell against the cells the first target counts (checkCell).
func (d *driver) checkTargets(ctx context.Context) error {
	d.phaseName.set("targets")
	type view struct {
		Node  string `json:"node"`
		Mode  string `json:"mode"`
		Cells int    `json:"cells"`
		Nodes []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"nodes"`
	}
	byNode := map[string]string{} // node name -> the target that is it
	var live []string             // the cluster's nodes not down, as the first target sees them
	var cells int                 // the cells of the cluster, as the first target sees them
	several := len(d.c.targets) > 1
	for i, t := range d.c.targets {
		var v view
		if a := d.c.do(ctx, t, http.MethodGet, "/api/v1/cluster", nil, &v); !a.ok() {
			if ctx.Err() != nil {
				return nil // interrupted, or failed already: the report says so
			}
			return d.setupError("GET "+t.base+"/api/v1/cluster", a)
		}
		if several && v.Mode == "single" {
			return fmt.Errorf("target %s is a single node, not a node of a cluster: give it as the only --target", t.base)
		}
		if other, twice := byNode[v.Node]; twice {
			return fmt.Errorf("targets %s and %s are the same node, %s: give each node once", other, t.base, v.Node)
		}
		byNode[v.Node] = t.base
		if i == 0 {
			cells = max(v.Cells, 1) // a server that counts none has its one
			for _, n := range v.Nodes {
				if n.State != "down" {
					live = append(live, n.Name)
				}
			}
		}
	}
	var missing, strangers []string
	for _, n := range live {
		if byNode[n] == "" {
			missing = append(missing, n)
		}
	}
	for n, base := range byNode {
		if !slices.Contains(live, n) {
			strangers = append(strangers, fmt.Sprintf("%s (%s)", base, n))
		}
	}
	slices.Sort(strangers)
	switch {
	case len(strangers) > 0:
		return fmt.Errorf("targets %s are not live nodes of %s's cluster (%s)", strings.Join(strangers, ", "),
			d.c.targets[0].base, strings.Join(live, ", "))
	case len(missing) > 0:
		return fmt.Errorf("--target leaves out the cluster's nodes %s: the driver loads every node of the cluster, give every node's URL",
			strings.Join(missing, ", "))
	}
	return d.checkCell(cells)
}

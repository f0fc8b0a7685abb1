package app

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bsc-sim/bsc/internal/overload"
)

// clusterAlarms are node_down (major, while a member is missing) and
// cell_unowned (critical, while a cell that had an owner has none). They
// are the cluster's, not a cell's: they are raised once, in the cell with
// the lowest number that has an owner, by its owner, so that the alarm
// list of the cluster (every cell's) shows each once. When that cell
// changes, the alarms move with it.
type clusterAlarms struct {
	mu     sync.Mutex
	host   *cell             // the cell they are raised in here; nil: none
	raised map[alarmKey]bool // what is raised in host
	down   map[string]bool   // members seen missing
	orphan map[int]bool      // cells that lost their owner
}

type alarmKey struct{ id, source string }

// nodeDown notes that a member went (down) or came back.
func (ca *clusterAlarms) nodeDown(n *clusterNode, node string, down bool) {
	ca.mu.Lock()
	if ca.down == nil {
		ca.down = map[string]bool{}
	}
	if down {
		ca.down[node] = true
	} else {
		delete(ca.down, node)
	}
	ca.mu.Unlock()
	ca.changed(n)
}

// changed recomputes what is raised, and where, from the owners view.
func (ca *clusterAlarms) changed(n *clusterNode) {
	node := n.node.Load()
	if node == nil {
		return
	}
	owners := node.Leases.Owners()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.orphan == nil {
		ca.orphan = map[int]bool{}
	}
	want := map[alarmKey]bool{}
	hostID := -1
	for c, o := range owners {
		switch {
		case o.Node != "":
			delete(ca.orphan, c)
			if hostID < 0 {
				hostID = c
			}
		case node.Leases.HadOwner(c):
			ca.orphan[c] = true
		}
	}
	for c := range ca.orphan {
		want[alarmKey{overload.AlarmCellUnowned, "cell:" + strconv.Itoa(c)}] = true
	}
	for d := range ca.down {
		want[alarmKey{overload.AlarmNodeDown, "node:" + d}] = true
	}
	var host *cell
	if hostID >= 0 && owners[hostID].Node == n.Node() {
		host, _ = n.a.cell(hostID)
	}
	if host != ca.host {
		ca.clearAll()
		ca.host = host
	}
	if ca.host == nil {
		return
	}
	if ca.raised == nil {
		ca.raised = map[alarmKey]bool{}
	}
	for k := range ca.raised {
		if !want[k] {
			ca.host.notify(overload.Event{Kind: overload.ClearAlarm, ID: k.id, Source: k.source})
			delete(ca.raised, k)
		}
	}
	keys := make([]alarmKey, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b alarmKey) int {
		return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.source, b.source))
	})
	for _, k := range keys {
		if !ca.raised[k] {
			ca.host.notify(overload.Event{Kind: overload.SetAlarm, ID: k.id, Source: k.source})
			ca.raised[k] = true
		}
	}
}

// clearAll clears what is raised in the host; ca.mu is held.
func (ca *clusterAlarms) clearAll() {
	for k := range ca.raised {
		if ca.host != nil {
			ca.host.notify(overload.Event{Kind: overload.ClearAlarm, ID: k.id, Source: k.source})
		}
	}
	ca.raised = nil
}

// raiseOn raises the alarms again on a new overload manager of c.
func (ca *clusterAlarms) raiseOn(c *cell, m overload.Notifier) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.host != c {
		return
	}
	for k := range ca.raised {
		m.Notify(overload.Event{Kind: overload.SetAlarm, ID: k.id, Source: k.source})
	}
}

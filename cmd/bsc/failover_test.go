package main

import (
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestClusterFailover: kill -9 of a node in the middle of calls. Its cells
// are taken over by the others; its phones are back, idle; each call it
// held ends dropped with exactly one record, its peers elsewhere told
// hangup and idle; the new owner's pool starts free; calls it did not hold
// go on; no record is lost or written twice, and every call whose ending
// was acknowledged while traffic ran through the kill has its record.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	bin := buildBSC(t)
	c := startCluster(t, bin)
	front := c.nodes[0]
	dead, live1, live2 := c.cellOf("n3"), c.cellOf("n1"), c.cellOf("n2")

	n := 0
	attach := func(cell int) string {
		n++
		m := fmt.Sprintf("41%04d", n)
		front.attach(t, m, cell)
		return m
	}
	type call struct {
		caller, callee string
		connected      bool
		want           []string // the records of the caller once it is over
	}
	var calls []call
	place := func(callerCell, calleeCell int, connected bool, want ...string) call {
		cl := call{attach(callerCell), attach(calleeCell), connected, want}
		front.mustAct(t, cl.caller, "call", cl.callee)
		if connected {
			front.mustAct(t, cl.callee, "accept", "")
		}
		calls = append(calls, cl)
		return cl
	}
	// A finished call of the dead node's cell: its record must survive.
	done := place(dead, live1, true, "answered")
	front.mustAct(t, done.caller, "hangup", "")
	for range 3 {
		place(dead, live1, true, "dropped")  // the caller dies
		place(live2, dead, true, "dropped")  // the callee dies: the caller ends it
		place(dead, dead, true, "dropped")   // both die
		place(dead, live2, false, "dropped") // ringing when the caller dies
		place(live2, dead, false, "dropped") // ringing when the callee dies
	}
	untouched := place(live1, live2, true, "answered")
	// The peers on live cells of the calls the dead node holds, and where
	// their replies are before the kill.
	peers := map[string]int{}
	for _, cl := range calls[1:] {
		for _, m := range []string{cl.caller, cl.callee} {
			if ph := front.phone(t, m); ph.Cell != nil && *ph.Cell != dead {
				peers[m] = front.replies(t, m, 0).Next
			}
		}
	}
	delete(peers, untouched.caller)
	delete(peers, untouched.callee)
	// Call cycles through n1 between the dead node's cell and the others,
	// going on through the kill: every call whose ending was answered 200
	// must have its record after (durable on a quorum before the answer).
	tr := newTraffic(front.url, 6, 4_800_000_000)
	for i, p := range tr.pairs {
		front.attach(t, p[0], []int{dead, live1, live2}[i%3])
		front.attach(t, p[1], []int{live2, dead, dead}[i%3])
	}
	tr.start()
	testutil.Eventually(t, clusterWait, "some calls acknowledged before the kill", func() bool {
		acked, _, _ := tr.totals()
		return acked >= 3*len(tr.pairs)
	})

	if err := c.nodes[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// The first 200 on an action of a phone of the dead node's cell.
	probe := calls[1].caller
	testutil.Eventually(t, clusterWait, "an action on a phone of the dead node's cell", func() bool {
		status, _ := front.act(t, probe, "hangup", "")
		return status == http.StatusOK || status == http.StatusConflict
	})
	t.Logf("failover: first answer on a phone of cell %d %v after the kill", dead, time.Since(killed).Round(time.Millisecond))
	<-c.nodes[2].done
	c.waitFormed()
	v, _ := c.view(0)
	if i := slices.IndexFunc(v.Nodes, func(n nodeView) bool { return n.Name == "n3" }); i < 0 || v.Nodes[i].State != "down" ||
		v.Nodes[i].LastSeen == nil || v.Nodes[i].LastSeen.After(killed) || len(v.Nodes[i].Cells) != 0 {
		t.Errorf("n3 in n1's view after the kill: %+v, want down, no cell, last seen before the kill at %v", v.Nodes, killed)
	}
	tr.halt()
	acked, _, _ := tr.totals()
	var lost map[[2]string]int
	defer func() {
		if len(lost) > 0 {
			t.Logf("acknowledged calls without a record, by (caller, outcome): %v", lost)
		}
	}()
	testutil.Eventually(t, clusterWait, "a record for every acknowledged call", func() bool {
		got, status := tryRecorded(t, front, tr.pairs)
		if status != http.StatusOK {
			return false // the node's copy of the records catching up
		}
		lost = map[[2]string]int{}
		for k, n := range tr.acked {
			if got[k] < n {
				lost[k] = n - got[k]
			}
		}
		return len(lost) == 0
	})
	t.Logf("traffic through the kill: %d calls acknowledged, each recorded", acked)
	checkFailoverAlarms(t, front, dead)

	for _, cl := range calls {
		if cl.caller == untouched.caller {
			continue
		}
		for _, m := range []string{cl.caller, cl.callee} {
			front.waitState(t, m, "idle")
		}
	}
	for m, after := range peers {
		var got []string
		for _, r := range front.replies(t, m, after).Items {
			got = append(got, r.Type)
		}
		if !slices.Equal(got, []string{"hangup"}) {
			t.Errorf("%s, whose peer was on the dead node: replies after the kill %v, want [hangup]", m, got)
		}
	}
	var pool struct {
		Allocated []any `json:"allocated"`
	}
	if status, _ := front.send(t, http.MethodGet, fmt.Sprintf("/api/v1/frequencies?cell=%d", dead), nil, &pool); status != http.StatusOK || len(pool.Allocated) != 0 {
		t.Errorf("cell %d's pool on its new owner: %d, allocated %v; want it free", dead, status, pool.Allocated)
	}
	if ph := front.phone(t, untouched.caller); ph.State != "connected" {
		t.Fatalf("a call between live cells was %s after the failover", ph.State)
	}
	front.mustAct(t, untouched.caller, "hangup", "")

	// The next owners write the dropped records once they have read the
	// calls the dead node left, which may wait on an election of the
	// engine's metadata leader: they come, once each, soon after.
	for _, cl := range calls {
		for _, p := range c.nodes[:2] {
			var got []string
			testutil.Eventually(t, clusterWait, "the records of "+cl.caller, func() bool {
				got = outcomes(p.records(t, cl.caller))
				return len(got) >= len(cl.want)
			})
			if !slices.Equal(got, cl.want) {
				t.Errorf("caller %s (cell of %s → %s): records %v, want %v", cl.caller, cl.caller, cl.callee, got, cl.want)
			}
		}
	}
}

// checkFailoverAlarms: node_down is raised for the dead node while it is
// missing, and cell_unowned was raised for its cell until the cell was
// taken, then cleared (both in the history).
func checkFailoverAlarms(t *testing.T, p *bscProcess, dead int) {
	t.Helper()
	type alarm struct{ ID, Source, Action string }
	var active, history struct{ Items []alarm }
	testutil.Eventually(t, clusterWait, "node_down for n3", func() bool {
		p.do(t, http.MethodGet, "/api/v1/alarms", &active)
		return slices.Contains(active.Items, alarm{ID: "node_down", Source: "node:n3"})
	})
	unowned := alarm{ID: "cell_unowned", Source: fmt.Sprintf("cell:%d", dead)}
	if slices.ContainsFunc(active.Items, func(a alarm) bool { return a.ID == unowned.ID }) {
		t.Errorf("cell_unowned still active with every cell owned: %v", active.Items)
	}
	var actions []string
	defer func() {
		if t.Failed() {
			t.Logf("%v in the history: %v; the history: %v", unowned, actions, history.Items)
		}
	}()
	testutil.Eventually(t, clusterWait, "cell_unowned raised and cleared in the history", func() bool {
		p.do(t, http.MethodGet, "/api/v1/alarms/history?limit=1000", &history)
		actions = nil
		for _, a := range history.Items {
			if a.ID == unowned.ID && a.Source == unowned.Source {
				actions = append(actions, a.Action)
			}
		}
		return len(actions) >= 2 && actions[0] == "set" && actions[len(actions)-1] == "clear"
	})
}

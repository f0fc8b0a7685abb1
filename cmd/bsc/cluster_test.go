package main

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// TestClusterCalls: three nodes form a cluster and agree on the owners; a
// call between a phone of a cell on n1 and one of a cell on n2, every
// request sent to n3, goes through every outcome and the crossing races,
// and every node lists the same records.
func TestClusterCalls(t *testing.T) {
	t.Parallel()
	bin := buildBSC(t)
	// One frequency per cell, so that a second call in a cell finds none.
	c := startCluster(t, bin, "--frequencies", "10")
	front := c.nodes[2]
	cellA, cellB := c.cellOf("n1"), c.cellOf("n2")

	t.Run("the cluster as every node sees it", func(t *testing.T) {
		v0, _ := c.view(0)
		if v0.Mode != "embedded" || v0.Cells != 12 || len(v0.Nodes) != 3 || v0.Home != "n1" {
			t.Fatalf("view %+v", v0)
		}
		for _, n := range v0.Nodes {
			if n.State != "up" || len(n.Cells) != 4 {
				t.Errorf("node %s %s with cells %v, want up with 4", n.Name, n.State, n.Cells)
			}
		}
		var tree struct {
			Name     string
			Children []struct{ Name string }
		}
		if status := c.nodes[0].do(t, http.MethodGet, "/api/v1/supervision", &tree); status != http.StatusOK {
			t.Fatalf("supervision: %d", status)
		}
		var cells []string
		for _, ch := range tree.Children {
			cells = append(cells, ch.Name)
		}
		if want := fmt.Sprintf("cell:%d", c.cellOf("n1")); !slices.Contains(cells, want) || len(cells) != 4 {
			t.Errorf("n1's tree has %v, want 4 cell subtrees with %s", cells, want)
		}
	})

	// pair attaches a caller in cell A and a callee in cell B.
	n := 0
	pair := func(t *testing.T) (a, b string) {
		n++
		a, b = fmt.Sprintf("31%04d", n), fmt.Sprintf("32%04d", n)
		if ph := front.attach(t, a, cellA); ph.Node != "n1" || ph.Cell == nil || *ph.Cell != cellA {
			t.Fatalf("attached %+v, want cell %d on n1", ph, cellA)
		}
		if ph := front.attach(t, b, cellB); ph.Node != "n2" {
			t.Fatalf("attached %+v, want n2", ph)
		}
		return a, b
	}
	for _, tc := range []struct {
		outcome string
		play    func(t *testing.T, a, b string)
	}{
		{"answered", func(t *testing.T, a, b string) {
			front.mustAct(t, a, "call", b)
			front.mustAct(t, b, "accept", "")
			if ph := front.phone(t, a); ph.State != "connected" || ph.Frequency != 10 {
				t.Fatalf("caller %+v, want connected on 10", ph)
			}
			front.mustAct(t, b, "hangup", "")
		}},
		{"rejected", func(t *testing.T, a, b string) {
			front.mustAct(t, a, "call", b)
			front.mustAct(t, b, "reject", "")
		}},
		{"cancelled", func(t *testing.T, a, b string) {
			front.mustAct(t, a, "call", b)
			front.mustAct(t, a, "hangup", "")
		}},
		{"busy", func(t *testing.T, a, b string) {
			// b is ringing for another caller of its own cell.
			other := "33" + b[2:]
			front.attach(t, other, cellB)
			front.mustAct(t, other, "call", b)
			front.mustAct(t, a, "call", b)
			front.waitState(t, a, "idle")
			front.mustAct(t, other, "hangup", "")
		}},
		{"no_frequency", func(t *testing.T, a, b string) {
			// The caller's cell has one frequency, in use by another call.
			x, y := "34"+a[2:], "35"+b[2:]
			front.attach(t, x, cellA)
			front.attach(t, y, cellB)
			front.mustAct(t, x, "call", y)
			front.mustAct(t, y, "accept", "")
			front.mustAct(t, a, "call", b)
			front.mustAct(t, b, "accept", "")
			front.waitState(t, b, "idle")
			front.mustAct(t, x, "hangup", "")
		}},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			a, b := pair(t)
			tc.play(t, a, b)
			front.waitState(t, a, "idle")
			front.waitState(t, b, "idle")
			for i, p := range c.nodes {
				if got := outcomes(p.records(t, a)); !slices.Equal(got, []string{tc.outcome}) {
					t.Errorf("n%d lists %v for %s, want [%s]", i+1, got, a, tc.outcome)
				}
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		a, _ := pair(t)
		if status, code := front.act(t, a, "call", "399999"); status != http.StatusNotFound || code != "invalid_number" {
			t.Fatalf("call to a number attached nowhere: %d %s", status, code)
		}
		if recs := front.records(t, a); len(recs) != 0 {
			t.Fatalf("records %v for a call that never left idle", recs)
		}
	})
	t.Run("crossing calls", func(t *testing.T) {
		a, b := pair(t)
		for range 20 {
			var wg sync.WaitGroup
			for _, p := range [][2]string{{a, b}, {b, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if status, code := front.act(t, p[0], "call", p[1]); status != http.StatusOK && code != "busy" {
						t.Errorf("%s calls %s: %d %s", p[0], p[1], status, code)
					}
				}()
			}
			wg.Wait()
			hangUpBoth(t, front, a, b)
		}
		checkEveryCallRecorded(t, c, a, b)
	})
	t.Run("hangup crossing accept", func(t *testing.T) {
		a, b := pair(t)
		for range 20 {
			front.mustAct(t, a, "call", b)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); front.act(t, b, "accept", "") }()
			go func() { defer wg.Done(); front.act(t, a, "hangup", "") }()
			wg.Wait()
			hangUpBoth(t, front, a, b)
		}
		for _, r := range front.records(t, a) {
			if r.Outcome != "cancelled" && r.Outcome != "answered" {
				t.Errorf("record %+v: want cancelled or answered", r)
			}
		}
		checkEveryCallRecorded(t, c, a, b)
	})
}

// hangUpBoth ends whatever a and b are doing and waits until both are idle.
func hangUpBoth(t *testing.T, p *bscProcess, a, b string) {
	t.Helper()
	for _, who := range []string{a, b} {
		if status, code := p.act(t, who, "hangup", ""); status != http.StatusOK && code != "invalid_state" {
			t.Fatalf("hangup %s: %d %s", who, status, code)
		}
	}
	p.waitState(t, a, "idle")
	p.waitState(t, b, "idle")
}

// checkEveryCallRecorded: every node lists the same records of a's and
// b's calls, each with a cell, a node and an epoch.
func checkEveryCallRecorded(t *testing.T, c *testCluster, a, b string) {
	t.Helper()
	var first []record
	for i, p := range c.nodes {
		recs := append(p.records(t, a), p.records(t, b)...)
		for _, r := range recs {
			if r.Cell == nil || r.Node == "" || r.Epoch == 0 {
				t.Errorf("record %+v has no cell, node or epoch", r)
			}
		}
		if i == 0 {
			first = recs
		} else if !slices.EqualFunc(first, recs, func(x, y record) bool { return x.ID == y.ID && x.Outcome == y.Outcome }) {
			t.Errorf("n%d lists %v, n1 %v", i+1, outcomes(recs), outcomes(first))
		}
	}
	if len(first) == 0 {
		t.Error("no records")
	}
}

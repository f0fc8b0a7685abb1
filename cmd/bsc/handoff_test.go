package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestClusterTakeover: n3 dies and its cells are served by n1 and n2;
// when n3 is back, each of its cells goes back to it gracefully. While a
// cell is handed off, a new call in it, or to one of its phones, is
// refused 503 overloaded with Retry-After; a call that ends within
// --handoff-timeout lets the handoff go on and is recorded answered, a
// call still going at the timeout ends dropped with one record; the
// cell's phones are then n3's, idle.
func TestClusterTakeover(t *testing.T) {
	t.Parallel()
	bin := buildBSC(t)
	c := startCluster(t, bin, "--handoff-timeout", "3s")
	front := c.nodes[0]
	var back []int // n3's cells, which go back to it
	for cell, o := range mustView(t, c, 0).owners() {
		if o == "n3" {
			back = append(back, cell)
		}
	}
	if len(back) < 2 {
		t.Fatalf("n3 has cells %v, want two at least", back)
	}
	home := c.cellOf("n1")
	if err := c.nodes[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.nodes[2].done
	c.waitFormed()

	// In the first cell a call that ends in time, in the second one that
	// does not; their peers in a cell that stays on n1.
	quick, held := [2]string{"4700001", "4700002"}, [2]string{"4700003", "4700004"}
	front.attach(t, quick[0], back[0])
	front.attach(t, quick[1], home)
	front.attach(t, held[0], back[1])
	front.attach(t, held[1], home)
	spare := "4700005" // idle in the first cell: may not call while it is handed off
	front.attach(t, spare, back[0])
	other := "4700006" // idle in a cell that stays: may not call spare then
	front.attach(t, other, home)
	for _, cl := range [][2]string{quick, held} {
		front.mustAct(t, cl[0], "call", cl[1])
		front.mustAct(t, cl[1], "accept", "")
	}

	c.nodes[2] = startBSC(t, bin, c.args[2]...)
	testutil.Eventually(t, clusterWait, "n3's first cell handing off", func() bool {
		return cellState(t, c, back[0]) == "handing_off"
	})
	for _, tc := range []struct{ who, to string }{{spare, other}, {other, spare}} {
		status, code, retry := front.actRetry(t, tc.who, "call", tc.to)
		if status != http.StatusServiceUnavailable || code != "overloaded" || retry == "" {
			t.Errorf("call %s -> %s while handing off: %d %s Retry-After %q, want 503 overloaded with Retry-After", tc.who, tc.to, status, code, retry)
		}
	}
	// A phone already in a call is answered as ever (409 busy), not told
	// to try again: a client that missed a call's answer and tries it
	// again learns that the phone is in a call, and hangs up, which the
	// handoff waits for.
	if status, code := front.act(t, quick[0], "call", other); status != http.StatusConflict || code != "busy" {
		t.Errorf("call from %s, in a call, while handing off: %d %s, want 409 busy", quick[0], status, code)
	}
	began := time.Now()
	front.mustAct(t, quick[0], "hangup", "")
	testutil.Eventually(t, clusterWait, "n3 serving its first cell again", func() bool {
		return cellOwner(t, c, back[0]) == "n3"
	})
	t.Logf("handoff of a cell whose call ended: %v after the hangup", time.Since(began).Round(time.Millisecond))
	testutil.Eventually(t, clusterWait, "n3 serving its second cell again, its call dropped", func() bool {
		return cellOwner(t, c, back[1]) == "n3"
	})
	c.waitFormed()
	for _, m := range []string{quick[0], held[0], spare} {
		if ph := front.phone(t, m); ph.Node != "n3" || ph.State != "idle" {
			t.Errorf("phone %s after the takeover: %+v, want idle on n3", m, ph)
		}
	}
	front.waitState(t, held[1], "idle")
	for _, p := range c.nodes {
		if got := outcomes(p.records(t, quick[0])); !slices.Equal(got, []string{"answered"}) {
			t.Errorf("the call that ended in time: records %v, want answered only", got)
		}
		if got := outcomes(p.records(t, held[0])); !slices.Equal(got, []string{"dropped"}) {
			t.Errorf("the call held past the handoff timeout: records %v, want one dropped", got)
		}
	}
	if n := c.nodes[2].metric(t, `bsc_cell_takeovers_total{reason="handoff"}`); n < float64(len(back)) {
		t.Errorf("n3 counts %v handoffs, want %d", n, len(back))
	}
}

// TestClusterDrain: a drain asked of any node moves every cell of the
// node drained to the others, waiting for its calls, dropping none; the
// node says it is draining. SIGTERM in cluster mode drains first: the
// stopped node's cells are handed, not left to expire.
func TestClusterDrain(t *testing.T) {
	t.Parallel()
	bin := buildBSC(t)
	c := startCluster(t, bin)
	n1, n2 := c.nodes[0], c.nodes[1]
	cell := c.cellOf("n2")
	a, b := "4800001", "4800002"
	n1.attach(t, a, cell)
	n1.attach(t, b, c.cellOf("n1"))
	n1.mustAct(t, a, "call", b)
	n1.mustAct(t, b, "accept", "")

	var v clusterView
	if status, code := n1.send(t, http.MethodPost, "/api/v1/cluster/nodes/n2:drain", nil, &v); status != http.StatusAccepted {
		t.Fatalf("drain n2 through n1: %d %s", status, code)
	}
	testutil.Eventually(t, clusterWait, "n2 draining, its cells handing off", func() bool {
		v := mustView(t, c, 0)
		return slices.ContainsFunc(v.Nodes, func(n nodeView) bool {
			return n.Name == "n2" && n.State == "draining"
		}) && cellState(t, c, cell) == "handing_off"
	})
	n1.mustAct(t, a, "hangup", "")
	testutil.Eventually(t, clusterWait, "n2 owns no cell", func() bool {
		return !slices.Contains(mustView(t, c, 0).owners(), "n2") && !slices.Contains(mustView(t, c, 0).owners(), "")
	})
	if ph := n1.phone(t, a); ph.State != "idle" || ph.Node == "n2" || ph.Node == "" {
		t.Errorf("the drained cell's phone: %+v, want idle on another node", ph)
	}
	if got := outcomes(n1.records(t, a)); !slices.Equal(got, []string{"answered"}) {
		t.Errorf("the drained cell's call: records %v, want answered only", got)
	}
	if status, code := n2.send(t, http.MethodPost, "/api/v1/cluster/nodes/n9:drain", nil, nil); status != http.StatusNotFound {
		t.Errorf("drain of no such node: %d %s, want 404", status, code)
	}

	// SIGTERM: n1's cells are handed to n3 (n2 takes none: draining),
	// once every cell is where it is preferred.
	mine := 0
	testutil.Eventually(t, clusterWait, "every cell on its preferred node", func() bool {
		v, mine = mustView(t, c, 0), 0
		for _, o := range v.CellOwners {
			if o.Owner != o.Preferred || o.State != "serving" {
				return false
			}
			if o.Owner == "n1" {
				mine++
			}
		}
		return true
	})
	before := strings.Count(n1.stderr.String(), `"message":"cell handed off"`)
	if err := n1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n1.wait(t); code != 0 {
		t.Errorf("n1 exited %d after SIGTERM", code)
	}
	if got := strings.Count(n1.stderr.String(), `"message":"cell handed off"`) - before; got != mine {
		t.Errorf("n1 handed off %d cells on SIGTERM, want its %d", got, mine)
	}
}

func mustView(t *testing.T, c *testCluster, i int) clusterView {
	t.Helper()
	for range 50 {
		if v, ok := c.view(i); ok {
			return v
		}
	}
	t.Fatalf("n%d does not answer GET /api/v1/cluster", i+1)
	return clusterView{}
}

// cellState and cellOwner are a cell's state and owner as n1 sees them.
func cellState(t *testing.T, c *testCluster, cell int) string {
	return mustView(t, c, 0).CellOwners[cell].State
}

func cellOwner(t *testing.T, c *testCluster, cell int) string {
	o := mustView(t, c, 0).CellOwners[cell]
	if o.State != "serving" {
		return ""
	}
	return o.Owner
}

// actRetry is act, with the answer's Retry-After.
func (p *bscProcess) actRetry(t *testing.T, who, action, to string) (status int, code, retry string) {
	t.Helper()
	body := fmt.Sprintf(`{"action":%q`, action)
	if to != "" {
		body += fmt.Sprintf(`,"to":%q`, to)
	}
	res, err := client.Post(p.url+"/api/v1/phones/"+who+"/actions", "application/json", strings.NewReader(body+"}"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var prob struct{ Code string }
	_ = json.NewDecoder(res.Body).Decode(&prob)
	return res.StatusCode, prob.Code, res.Header.Get("Retry-After")
}

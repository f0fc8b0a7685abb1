package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
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
	t.Run("per-cell series, each on its cell's owner", func(t *testing.T) {
		v, _ := c.view(0)
		for _, n := range v.Nodes {
			p := c.nodes[slices.Index(c.names, n.Name)]
			if got := p.cellsExported(t, "bsc_frequencies", `state="free"`); !slices.Equal(got, slices.Sorted(slices.Values(n.Cells))) {
				t.Errorf("%s exports bsc_frequencies for cells %v, owns %v", n.Name, got, n.Cells)
			}
		}
		answered := fmt.Sprintf(`bsc_calls_total{cell="%d",outcome="answered"}`, cellA)
		if got := c.nodes[0].metric(t, answered); got < 1 {
			t.Errorf("n1, owner of the callers' cell: %s %v, want at least 1", answered, got)
		}
		for _, p := range c.nodes[1:] {
			if got := p.metric(t, answered); got != -1 {
				t.Errorf("a node not running cell %d exports %s %v", cellA, answered, got)
			}
		}
	})
	t.Run("alarm history", func(t *testing.T) { checkAlarmHistory(t, c, cellA) })
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
	t.Run("subscribers", func(t *testing.T) { checkSubscribersEveryNodes(t, c) })
	t.Run("a phone's replies streamed by a node that does not run it", func(t *testing.T) {
		a, b := pair(t)
		ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.nodes[0].url+"/api/v1/phones/"+b+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		res, err := http.DefaultClient.Do(req) // no timeout: a stream
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("stream of %s (run by n2) from n1: %d", b, res.StatusCode)
		}
		front.mustAct(t, a, "call", b)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") && strings.Contains(sc.Text(), `"inbound"`) && strings.Contains(sc.Text(), a) {
				break
			}
		}
		if ctx.Err() != nil || sc.Err() != nil {
			t.Fatalf("no inbound from %s on the relayed stream: %v %v", a, ctx.Err(), sc.Err())
		}
		hangUpBoth(t, front, a, b)
	})
	t.Run("every phone's replies streamed by any node", func(t *testing.T) { checkGlobalStream(t, c, pair, cellA) })
}

// checkGlobalStream: a client streaming every phone's replies from n3
// gets those of phones n1 and n2 run, only of the phones it asked for;
// reconnecting to n1 with its last event id, it gets what it missed and
// nothing twice.
func checkGlobalStream(t *testing.T, c *testCluster, pair func(*testing.T) (string, string), cellA int) {
	front := c.nodes[2]
	a, b := pair(t) // run by n1 and n2
	x := "36" + a[2:]
	front.attach(t, x, cellA) // run by n1, not asked for
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	path := "/api/v1/events?msisdn=" + a + "," + b
	last := map[string]uint64{} // the seq of each phone's last reply seen
	runs := map[string]string{a: "n1", b: "n2"}
	read := func(es *testutil.EventSource, n int) []string {
		t.Helper()
		var got []string
		for range n {
			ev := es.Next()
			var rep struct {
				Seq                uint64
				MSISDN, Type, Node string
			}
			if err := json.Unmarshal([]byte(ev.Data), &rep); err != nil || rep.Type != ev.Type || rep.Node != runs[rep.MSISDN] {
				t.Fatalf("event %+v: %v, want the node that runs the phone, %s", ev, err, runs[rep.MSISDN])
			}
			if rep.Seq <= last[rep.MSISDN] {
				t.Errorf("%s's reply %d again (after %d)", rep.MSISDN, rep.Seq, last[rep.MSISDN])
			}
			last[rep.MSISDN] = rep.Seq
			got = append(got, rep.MSISDN+" "+rep.Type)
		}
		slices.Sort(got)
		return got
	}

	es := testutil.NewEventSource(t, ctx, http.DefaultClient, front.url+path, nil)
	es.Connect()
	front.mustAct(t, a, "call", b)
	front.mustAct(t, b, "accept", "")
	front.mustAct(t, x, "call", b) // busy: not asked for
	front.waitState(t, x, "idle")
	front.mustAct(t, a, "hangup", "")
	want := []string{a + " accepted", b + " hangup", b + " inbound"}
	slices.Sort(want)
	if got := read(es, 3); !slices.Equal(got, want) {
		t.Fatalf("on n3's stream: %v, want %v", got, want)
	}
	front.waitState(t, a, "idle")
	front.waitState(t, b, "idle")

	es.Drop() // the client goes...
	front.mustAct(t, a, "call", b)
	front.mustAct(t, b, "reject", "")
	front.waitState(t, a, "idle")
	again := testutil.NewEventSource(t, ctx, http.DefaultClient, c.nodes[0].url+path, nil)
	again.LastEventID = es.LastEventID // ...and comes back to n1
	want = []string{a + " rejected", b + " inbound"}
	if got := read(again, 2); !slices.Equal(got, want) {
		t.Fatalf("resumed on n1: %v, want %v", got, want)
	}
}

// checkAlarmHistory: every node lists the cluster's alarm history with
// each record once (a node's cells keep their histories in its one
// database), each with the cell it was raised in and the node that owns
// it, in time order; cellA's no_frequency raise is there.
func checkAlarmHistory(t *testing.T, c *testCluster, cellA int) {
	v, _ := c.view(0)
	owners := v.owners()
	for i, p := range c.nodes {
		var page struct {
			Items []struct {
				Seq        int64
				ID, Action string
				At         time.Time
				Cell       *int
				Node       string
			}
		}
		if status := p.do(t, http.MethodGet, "/api/v1/alarms/history?limit=1000", &page); status != http.StatusOK {
			t.Fatalf("n%d: history %d", i+1, status)
		}
		seen, raised := map[string]bool{}, false
		for j, r := range page.Items {
			if r.Cell == nil || *r.Cell >= len(owners) || r.Node != owners[*r.Cell] {
				t.Errorf("n%d: record %+v, want the cell it was raised in and its owner", i+1, r)
				continue
			}
			if key := fmt.Sprintf("%s/%d", r.Node, r.Seq); seen[key] {
				t.Errorf("n%d: record %s listed twice", i+1, key)
			} else {
				seen[key] = true
			}
			if j > 0 && r.At.Before(page.Items[j-1].At) {
				t.Errorf("n%d: record %+v listed after a later one", i+1, r)
			}
			raised = raised || *r.Cell == cellA && r.ID == "no_frequency" && r.Action == "set"
		}
		if !raised {
			t.Errorf("n%d: no raise of no_frequency in cell %d among %d records", i+1, cellA, len(page.Items))
		}
	}
}

// checkSubscribersEveryNodes: a subscriber written through one node is
// read through every other at once; an MSISDN or an IMSI is unique across
// the cluster, even when nodes create it at the same time; a bulk refused
// for one item writes nothing anywhere; a subscriber attached on one node
// cannot be deleted through another.
func checkSubscribersEveryNodes(t *testing.T, c *testCluster) {
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	type sub struct {
		MSISDN   string `json:"msisdn"`
		IMSI     string `json:"imsi,omitempty"`
		Attached bool   `json:"attached,omitempty"`
	}
	if status, code := n1.send(t, http.MethodPost, "/api/v1/subscribers", sub{MSISDN: "4100001", IMSI: "240010000000001"}, nil); status != http.StatusCreated {
		t.Fatalf("create on n1: %d %s", status, code)
	}
	var got sub
	if status, _ := n2.send(t, http.MethodGet, "/api/v1/subscribers/4100001", nil, &got); status != http.StatusOK || got.IMSI != "240010000000001" {
		t.Errorf("read on n2 at once: %d %+v", status, got)
	}
	for _, tc := range []struct {
		via  *bscProcess
		body sub
	}{{n3, sub{MSISDN: "4100001"}}, {n2, sub{MSISDN: "4100002", IMSI: "240010000000001"}}} {
		if status, code := tc.via.send(t, http.MethodPost, "/api/v1/subscribers", tc.body, nil); status != http.StatusConflict || code != "already_exists" {
			t.Errorf("create %+v elsewhere: %d %s, want 409 already_exists", tc.body, status, code)
		}
	}

	// Nine creates of one MSISDN at once, three through each node.
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := c.nodes[i%3].send(t, http.MethodPost, "/api/v1/subscribers", sub{MSISDN: "4100003"}, nil)
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != 8 {
		t.Errorf("nine creates at once through three nodes: %v, want one 201 and eight 409", statuses)
	}

	// A bulk whose second item has n1's subscriber's IMSI: nothing of it.
	bulk := map[string]any{"items": []sub{{MSISDN: "4100010"}, {MSISDN: "4100011", IMSI: "240010000000001"}}}
	if status, code := n3.send(t, http.MethodPost, "/api/v1/subscribers:bulk", bulk, nil); status != http.StatusBadRequest {
		t.Errorf("bulk with a taken IMSI: %d %s, want 400", status, code)
	}
	if status, _ := n1.send(t, http.MethodGet, "/api/v1/subscribers/4100010", nil, nil); status != http.StatusNotFound {
		t.Errorf("the refused bulk's first item on n1: %d, want 404", status)
	}
	bulk = map[string]any{"items": []sub{{MSISDN: "4100010"}, {MSISDN: "4100011"}, {MSISDN: "4100001"}}}
	var counts struct{ Created, Existing int }
	if status, code := n3.send(t, http.MethodPost, "/api/v1/subscribers:bulk", bulk, &counts); status != http.StatusOK || counts.Created != 2 || counts.Existing != 1 {
		t.Errorf("bulk: %d %s %+v, want 2 created, 1 existing", status, code, counts)
	}
	var page struct{ Items []sub }
	status, _ := n2.send(t, http.MethodGet, "/api/v1/subscribers?limit=1000", nil, &page)
	if listed := slices.IndexFunc(page.Items, func(s sub) bool { return s.MSISDN == "4100011" }); status != http.StatusOK || listed < 0 {
		t.Errorf("list on n2 after the bulk on n3: %d %+v", status, page.Items)
	}

	// Attached through n1 in n2's cell; deleted through n3 only once detached.
	n1.attach(t, "4100001", c.cellOf("n2"))
	if status, code := n3.send(t, http.MethodDelete, "/api/v1/subscribers/4100001", nil, nil); status != http.StatusConflict {
		t.Errorf("delete of a subscriber attached elsewhere: %d %s, want 409", status, code)
	}
	if status, _ := n3.send(t, http.MethodGet, "/api/v1/subscribers/4100001", nil, &got); status != http.StatusOK || !got.Attached {
		t.Errorf("n3 reads %d %+v, want it attached", status, got)
	}
	if status, code := n1.send(t, http.MethodDelete, "/api/v1/phones/4100001", nil, nil); status != http.StatusNoContent && status != http.StatusOK {
		t.Fatalf("detach: %d %s", status, code)
	}
	if status, code := n3.send(t, http.MethodDelete, "/api/v1/subscribers/4100001", nil, nil); status != http.StatusNoContent {
		t.Errorf("delete once detached: %d %s", status, code)
	}
	for i, p := range c.nodes {
		if status, _ := p.send(t, http.MethodGet, "/api/v1/subscribers/4100001", nil, nil); status != http.StatusNotFound {
			t.Errorf("n%d reads the deleted subscriber: %d, want 404", i+1, status)
		}
	}
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

// TestClusterNodeWithoutPeersIsNotReady: a node whose peers cannot be
// reached keeps trying, answers /readyz 503 meanwhile, and its log says
// which peer it cannot reach and why.
func TestClusterNodeWithoutPeersIsNotReady(t *testing.T) {
	t.Parallel()
	bin := buildBSC(t)
	routes := testutil.FreeAddrs(t, 3) // nothing listens on the peers' ports
	p := startBSC(t, bin, "--node", "n1", "--cluster-listen", routes[0], "--cluster-peers", routes[1]+","+routes[2])
	testutil.Eventually(t, clusterWait, "a log line naming an unreachable peer", func() bool {
		return strings.Contains(p.stderr.String(), routes[1]) && strings.Contains(p.stderr.String(), "connection refused")
	})
	if status := p.do(t, http.MethodGet, "/readyz", nil); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz of a node with no peer: %d, want 503", status)
	}
	if status := p.do(t, http.MethodGet, "/healthz", nil); status != http.StatusOK {
		t.Errorf("/healthz of a node with no peer: %d, want 200: it is alive, and trying", status)
	}
}

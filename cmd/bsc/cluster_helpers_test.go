package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// Three real nodes (docs/cluster.md): three `bsc serve` processes on
// loopback, each with its own database, HTTP port and route port, the
// embedded NATS servers forming one cluster.

// clusterWait bounds a cluster's forming and a failover: generous for a
// loaded two-core machine, well under a hung cluster.
const clusterWait = 60 * time.Second

// testCluster is three running nodes.
type testCluster struct {
	t     *testing.T
	bin   string
	names []string
	args  [][]string // each node's flags, to start it again
	mu    sync.Mutex // guards nodes against restart, for live
	nodes []*bscProcess
	// earlier are the processes restart replaced, by node: their logs
	// are kept too.
	earlier map[int][]*bscProcess
}

// startCluster starts n1, n2 and n3 with extra flags each, and returns
// once every node is ready and sees every cell owned, the same owners.
func startCluster(t *testing.T, bin string, extra ...string) *testCluster {
	t.Helper()
	var places []nodePlace
	for _, r := range testutil.FreeAddrs(t, 3) {
		places = append(places, nodePlace{route: r})
	}
	return startClusterAt(t, bin, places, extra...)
}

// nodePlace is where a node of a test cluster runs: its route address,
// its HTTP address ("": a free loopback port) and the command its own is
// run under (nil: none; ip netns exec NS: in a network namespace).
type nodePlace struct {
	route, listen string
	wrap          []string
	peers         []string // the route addresses it dials (nil: every node's route address)
}

// clusterSlots bounds the test clusters running at once: leases of a
// second, fenced at 700 ms, want their nodes to get the CPU, and more than
// two clusters of three nodes on a two-core machine starve each other
// (the tests then fail on timing, not on what they check).
var clusterSlots = make(chan struct{}, 2)

// clusterSeq numbers the test clusters of this process.
var clusterSeq atomic.Int64

// startClusterAt is startCluster with the nodes placed at places.
func startClusterAt(t *testing.T, bin string, places []nodePlace, extra ...string) *testCluster {
	// Each cluster its own NATS cluster name: the survivors of a killed
	// node keep dialling its route port, which another test's cluster
	// may have been given since; under one name the two clusters merged.
	clusterName := fmt.Sprintf("test-%d-%d", os.Getpid(), clusterSeq.Add(1))
	t.Helper()
	clusterSlots <- struct{}{}
	t.Cleanup(func() { <-clusterSlots })
	var routes []string
	for _, p := range places {
		routes = append(routes, p.route)
	}
	dir := t.TempDir()
	c := &testCluster{t: t, bin: bin, names: []string{"n1", "n2", "n3"}, nodes: make([]*bscProcess, 3)}
	for i, name := range c.names {
		peers := routes
		if places[i].peers != nil {
			peers = places[i].peers
		}
		args := []string{"--node", name, "--db", filepath.Join(dir, name+".db"), "--cluster-name", clusterName,
			"--cluster-listen", routes[i], "--cluster-peers", strings.Join(peers, ",")}
		if places[i].listen != "" {
			args = append(args, "--listen", places[i].listen)
		}
		c.args = append(c.args, append(args, extra...))
	}
	var wg sync.WaitGroup
	for i := range c.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodes[i] = startBSCUnder(t, places[i].wrap, bin, c.args[i]...)
		}()
	}
	wg.Wait()
	t.Cleanup(c.keepLogsIfFailed)
	c.waitFormed()
	return c
}

// keepLogsIfFailed writes the nodes' logs where a failed test's reader
// finds them.
func (c *testCluster) keepLogsIfFailed() {
	if !c.t.Failed() {
		return
	}
	dir, err := os.MkdirTemp("", "bsc-"+strings.ReplaceAll(c.t.Name(), "/", "-")+"-")
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.nodes {
		if p != nil {
			_ = os.WriteFile(filepath.Join(dir, c.names[i]+".log"), []byte(p.stderr.String()), 0o644)
		}
		for k, p := range c.earlier[i] {
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.run%d.log", c.names[i], k+1)), []byte(p.stderr.String()), 0o644)
		}
	}
	c.t.Logf("the nodes' logs are in %s", dir)
}

// clusterView is GET /api/v1/cluster.
type clusterView struct {
	Node       string
	Mode       string
	Cells      int
	Home       string
	Streams    []struct{ Name, Leader string }
	Nodes      []nodeView
	CellOwners []struct {
		Cell      int
		Owner     string
		Epoch     uint64
		Preferred string
		State     string
	} `json:"cell_owners"`
}

// nodeView is one node of GET /api/v1/cluster.
type nodeView struct {
	Name, State string
	Cells       []int
	LastSeen    *time.Time `json:"last_seen"`
}

// view is node i's view of the cluster; ok is false if it did not answer.
func (c *testCluster) view(i int) (clusterView, bool) {
	var v clusterView
	ok := c.nodes[i].do(c.t, http.MethodGet, "/api/v1/cluster", &v) == http.StatusOK
	return v, ok
}

// owners is a view's owner of every cell, "" for none.
func (v clusterView) owners() []string {
	out := make([]string, len(v.CellOwners))
	for _, o := range v.CellOwners {
		if o.State == "serving" {
			out[o.Cell] = o.Owner
		}
	}
	return out
}

// waitFormed waits until the live nodes are ready and agree that every
// cell is served, by live nodes only, each on its preferred node (no
// handback is about to start), and the engine's leaders are all on the
// home node (until then, a node's death may wait on an election).
func (c *testCluster) waitFormed() {
	c.t.Helper()
	testutil.Eventually(c.t, clusterWait, "the cluster formed: every cell served where it is preferred, the same owners on every node", func() bool {
		var first []string
		for i, p := range c.nodes {
			if p == nil || c.exited(i) {
				continue
			}
			if p.do(c.t, http.MethodGet, "/readyz", nil) != http.StatusOK {
				return false
			}
			v, ok := c.view(i)
			if !ok {
				return false
			}
			owners := v.owners()
			for _, o := range owners {
				if o == "" || c.exited(slices.Index(c.names, o)) {
					return false
				}
			}
			for _, o := range v.CellOwners { // settled: no handback about to start
				if o.State != "serving" || o.Owner != o.Preferred {
					return false
				}
			}
			if len(v.Streams) == 0 {
				return false // not read in time: the leaders are unknown
			}
			for _, st := range v.Streams {
				if st.Leader != v.Home {
					return false
				}
			}
			if first == nil {
				first = owners
			} else if !slices.Equal(first, owners) {
				return false
			}
		}
		return first != nil
	})
}

// exited tells whether node i's process has ended.
func (c *testCluster) exited(i int) bool {
	select {
	case <-c.nodes[i].done:
		return true
	default:
		return false
	}
}

// cellOf is a cell node serves, by node 0's view (or the first live one).
func (c *testCluster) cellOf(node string) int {
	c.t.Helper()
	for i := range c.nodes {
		if c.exited(i) {
			continue
		}
		v, ok := c.view(i)
		if !ok {
			continue
		}
		for cell, o := range v.owners() {
			if o == node {
				return cell
			}
		}
	}
	c.t.Fatalf("no cell served by %s", node)
	return -1
}

// send sends a JSON body (nil: none) and decodes a JSON answer into out
// (nil: not read); it returns the status and the problem's code, 0 when
// the request failed.
func (p *bscProcess) send(t *testing.T, method, path string, body, out any) (int, string) {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, p.url+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	p.authorize(req)
	res, err := client.Do(req)
	if err != nil {
		t.Logf("%s %s %s via %s: %v", time.Now().Format(time.StampMilli), method, path, p.url, err)
		return 0, ""
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	if res.StatusCode >= 300 {
		var prob struct{ Code, Detail string }
		_ = json.Unmarshal(buf.Bytes(), &prob)
		if res.StatusCode >= 500 {
			t.Logf("%s %s %s via %s: %d %s", time.Now().Format(time.StampMilli), method, path, p.url, res.StatusCode, prob.Detail)
		}
		return res.StatusCode, prob.Code
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, buf.String())
		}
	}
	return res.StatusCode, ""
}

// phone is GET /api/v1/phones/{msisdn} as the tests read it.
type phone struct {
	MSISDN, State, Node string
	Peer                *string
	Cell                *int
	Frequency           int
}

// attach attaches msisdn in cell through p.
// A 503 is tried again, as its Retry-After asks, and so is a request not
// answered in time: after a node's death the engine may be electing
// leaders for a few seconds.
func (p *bscProcess) attach(t *testing.T, msisdn string, cell int) phone {
	t.Helper()
	var ph phone
	var status int
	var code string
	tried := false
	testutil.Eventually(t, clusterWait, "an attach not refused for now", func() bool {
		status, code = p.send(t, http.MethodPost, "/api/v1/phones", map[string]any{"msisdn": msisdn, "cell": cell}, &ph)
		if tried && code == "already_attached" {
			// An earlier try, unanswered in time, attached it.
			ph, status = p.phone(t, msisdn), http.StatusCreated
		}
		tried = true
		return status != http.StatusServiceUnavailable && status != 0
	})
	if status != http.StatusCreated {
		t.Fatalf("attach %s in cell %d: %d %s", msisdn, cell, status, code)
	}
	return ph
}

// act performs an action through p and returns the status and code.
func (p *bscProcess) act(t *testing.T, who, action, to string) (int, string) {
	t.Helper()
	body := map[string]string{"action": action}
	if to != "" {
		body["to"] = to
	}
	return p.send(t, http.MethodPost, "/api/v1/phones/"+who+"/actions", body, nil)
}

// mustAct is act that must answer 200.
func (p *bscProcess) mustAct(t *testing.T, who, action, to string) {
	t.Helper()
	if status, code := p.act(t, who, action, to); status != http.StatusOK {
		t.Fatalf("%s %s %s: %d %s", who, action, to, status, code)
	}
}

// phone reads a phone through p.
func (p *bscProcess) phone(t *testing.T, msisdn string) phone {
	t.Helper()
	var ph phone
	if status, code := p.send(t, http.MethodGet, "/api/v1/phones/"+msisdn, nil, &ph); status != http.StatusOK {
		t.Fatalf("get %s: %d %s", msisdn, status, code)
	}
	return ph
}

// replies is the page of msisdn's replies after seq after, read through
// p at once (a long poll that does not wait).
func (p *bscProcess) replies(t *testing.T, msisdn string, after int) repliesPage {
	t.Helper()
	var page repliesPage
	if status, code := p.send(t, http.MethodGet, fmt.Sprintf("/api/v1/phones/%s/events?after=%d", msisdn, after), nil, &page); status != http.StatusOK {
		t.Fatalf("replies of %s: %d %s", msisdn, status, code)
	}
	return page
}

// repliesPage is GET /api/v1/phones/{msisdn}/events as the tests read it.
type repliesPage struct {
	Items []struct{ Type, From string }
	Next  int
}

// waitState waits until msisdn is in state, read through p.
func (p *bscProcess) waitState(t *testing.T, msisdn, state string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, msisdn+" "+state, func() bool {
		var ph phone
		status, code := p.send(t, http.MethodGet, "/api/v1/phones/"+msisdn, nil, &ph)
		if status != http.StatusOK && status != http.StatusServiceUnavailable { // 503: its cell is moving; ask again
			t.Fatalf("get %s: %d %s", msisdn, status, code)
		}
		return ph.State == state
	})
}

// record is a call record as the tests read it.
type record struct {
	ID             int64
	Caller, Callee string
	Outcome        string
	EndedBy        string `json:"ended_by"`
	Frequency      *int
	Cell           *int
	Node           string
	Epoch          uint64
	SetupAt        time.Time `json:"setup_at"`
	EndedAt        time.Time `json:"ended_at"`
}

// records lists every record of caller, through p (all pages).
func (p *bscProcess) records(t *testing.T, caller string) []record {
	t.Helper()
	var out []record
	for _, r := range p.recordsOf(t, "msisdn="+caller) {
		if r.Caller == caller {
			out = append(out, r)
		}
	}
	return out
}

// recordsOf lists every record the filters of query select (msisdn=,
// outcome=, since=: api.md), through p (all pages).
func (p *bscProcess) recordsOf(t *testing.T, query string) []record {
	t.Helper()
	var out []record
	after := ""
	for {
		var page struct {
			Items []record
			Next  string
		}
		path := "/api/v1/calls?limit=1000&" + query
		if after != "" {
			path += "&after=" + after
		}
		// A node whose copy of the records is behind says so (503); a
		// client tries again.
		var status int
		var code string
		testutil.Eventually(t, clusterWait, "the records of "+query, func() bool {
			status, code = p.send(t, http.MethodGet, path, nil, &page)
			return status != http.StatusServiceUnavailable
		})
		if status != http.StatusOK {
			t.Fatalf("list calls of %s: %d %s", query, status, code)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

// outcomes are the outcomes of records, in order.
func outcomes(recs []record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Outcome)
	}
	return out
}

func (c *testCluster) String() string { return fmt.Sprint(c.names) }

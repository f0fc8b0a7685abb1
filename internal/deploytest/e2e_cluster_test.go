package deploytest

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// The dashboard's cluster row proven against a real Prometheus: three real
// `bsc serve` nodes on loopback (docs/cluster.md), one Debian prometheus
// scraping them every 5 s as the compose stack's job bsc-cluster, calls
// between phones of cells all over the cluster sent through two of the
// nodes, then kill -9 of the third, whose cells the others take over.
// While it is dead, every query of the cluster row returns data with the
// instance variable at All, and the panels say what happened; once it is
// started again, the node panels see it back.

const (
	// clusterE2EScrape is the compose stack's scrape interval.
	clusterE2EScrape = 5 * time.Second
	// clusterE2EWait bounds the cluster's forming and a failover:
	// generous for a loaded two-core machine, well under a hang.
	clusterE2EWait = 60 * time.Second
	// clusterE2ECells is --cells' default, which the nodes run with.
	clusterE2ECells = 12
	// clusterE2EPairs is how many callers (each with its own callee) the
	// traffic keeps busy; each pair's phones are in two neighbouring cells.
	clusterE2EPairs = 6
	// clusterE2EPace paces each pair: one call cycle a tick at most.
	clusterE2EPace = 200 * time.Millisecond
)

func TestPrometheusClusterE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds bsc and runs three nodes with a real Prometheus")
	}
	t.Parallel()
	began := time.Now()
	root, dashboards, queries, bin := setUpE2E(t, clusterPanel)

	c := startE2ECluster(t, bin)
	t.Logf("cluster formed %v after the start", time.Since(began).Round(time.Millisecond))
	conf, err := PrometheusTestConfig(root, ClusterJob, c.addrs, clusterE2EScrape)
	if err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, conf)
	job := fmt.Sprintf("job=%q", ClusterJob)
	mustWait(t, e2eWait+clusterE2EScrape, "Prometheus to scrape the three nodes", prom.holds(`count(up{`+job+`} == 1) == 3`))

	// Calls between cells of different nodes, sent through n1 and n2 (n3
	// is the one killed).
	tr := startClusterTraffic(t, c.nodes[:2], c.owners(t))
	mustWait(t, e2eWait+3*clusterE2EScrape, "Prometheus to see requests forwarded and events between nodes", prom.holds(
		`sum(rate(bsc_forwarded_requests_total{`+job+`}[20s])) > 0 and on() `+
			`sum(rate(bsc_internode_messages_total{`+job+`, kind="event", direction="out"}[20s])) > 0`))
	before := tr.cycles.Load()

	// kill -9 of n3, a node other than the home (n1): its cells are taken
	// over without waiting on an election.
	victim := c.nodes[2]
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killed := time.Now()
	c.waitServed(t, c.nodes[:2])
	t.Logf("n3 killed; its cells served by n1 and n2 %v later", time.Since(killed).Round(time.Millisecond))

	// With the instance variable at All (every node's address), as the
	// dashboard loads, while the takeovers are within the rate windows:
	// the panels say what happened, and every query returns data.
	vars := grafanaVars{job: ClusterJob, instances: c.addrs, scrape: clusterE2EScrape}
	live := c.addrs[:2]
	mustWait(t, e2eWait+2*clusterE2EScrape, "the cluster row to show n3 down and its cells taken", panelsShow(t, prom, queries, vars,
		map[string]func([]sample) error{
			"Nodes by state":                   byLabel("state", map[string]float64{"up": 2, "down": 1, "draining": 0}),
			"Nodes up, as each node sees them": perInstance(live, func(v float64) bool { return v == 2 }),
			"Cells owned":                      total(clusterE2ECells),
			"Cells per node":                   allOf(perInstance(live, func(v float64) bool { return v >= 0 }), total(clusterE2ECells)),
			"Cell takeovers per minute": someSeries("a failover by a live node", func(s sample) bool {
				return s.labels["reason"] == "failover" && slices.Contains(live, s.labels["instance"]) && s.value > 0
			}),
			"Takeover duration p50/p99":  someSeries("a duration", func(s sample) bool { return s.value > 0 }),
			"Forwarded requests by node": perInstance(live, func(v float64) bool { return v > 0 }),
			"Inter-node messages by kind": someSeries("events sent", func(s sample) bool {
				return s.labels["kind"] == "event" && s.labels["direction"] == "out" && s.value > 0
			}),
		}))
	values := evaluatePanels(t, prom, queries, vars, "")
	// The cluster's alarm reaches its alert.
	mustWait(t, e2eWait+2*clusterE2EScrape, "alert BscNodeDown pending or firing",
		prom.holds(`ALERTS{alertname="BscNodeDown", `+job+`}`))
	mustWait(t, e2eWait, "the alerting rules to be evaluated", prom.rulesHealthy(len(loadAlertRules(t))))

	// n3 again, on its own database: every node sees three up.
	c.restart(t, 2)
	mustWait(t, clusterE2EWait, "the node panels to see n3 back", panelsShow(t, prom, queries, vars,
		map[string]func([]sample) error{
			"Nodes by state":                   byLabel("state", map[string]float64{"up": 3, "down": 0, "draining": 0}),
			"Nodes up, as each node sees them": perInstance(c.addrs, func(v float64) bool { return v == 3 }),
			"Cells per node":                   allOf(perInstance(c.addrs, func(v float64) bool { return v >= 0 }), total(clusterE2ECells)),
		}))
	t.Logf("n3 back and seen by every node %v after the kill", time.Since(killed).Round(time.Millisecond))

	cycles, failed := tr.stop(t)
	t.Logf("traffic: %d call cycles (%d before the kill), %d failed", cycles, before, failed)
	if cycles <= before {
		t.Errorf("no call cycle completed after the kill (%d before, %d in all)", before, cycles)
	}
	writePanelDoc(t, dashboards, values)
	t.Logf("cluster end to end in %v", time.Since(began).Round(time.Millisecond))
}

// e2eCluster is three running nodes, n1, n2 and n3.
type e2eCluster struct {
	bin   string
	args  [][]string // each node's serve flags, to start it again
	addrs []string   // each node's HTTP address, fixed so that Prometheus scrapes it again after a restart
	nodes []*bscProc
}

// startE2ECluster starts the nodes on free loopback ports, each with its
// own database, and returns once every cell is served, every node agrees
// on the owners and the engine's leaders are on the home, n1.
func startE2ECluster(t *testing.T, bin string) *e2eCluster {
	t.Helper()
	free := testutil.FreeAddrs(t, 6) // HTTP, then routes
	routes := strings.Join(free[3:], ",")
	dir := t.TempDir()
	c := &e2eCluster{bin: bin, addrs: free[:3], nodes: make([]*bscProc, 3)}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		c.args = append(c.args, []string{"--node", name, "--listen", free[i], "--db", filepath.Join(dir, name+".db"),
			"--cluster-listen", free[3+i], "--cluster-peers", routes,
			// A name of its own: another package's test clusters, on ports
			// freed and reused, must not join this one.
			"--cluster-name", fmt.Sprintf("deploytest-%d", os.Getpid())})
	}
	// A node serves HTTP at once and joins in the background, waiting a
	// while for the others: one after the other is together enough.
	for i := range 3 {
		c.nodes[i] = startServe(t, fmt.Sprintf("bsc n%d", i+1), bin, c.args[i])
	}
	c.waitServed(t, c.nodes)
	return c
}

// restart starts node i again with its flags, and waits until it is ready
// and every node agrees on the owners.
func (c *e2eCluster) restart(t *testing.T, i int) {
	t.Helper()
	c.nodes[i] = startServe(t, fmt.Sprintf("bsc n%d (again)", i+1), c.bin, c.args[i])
	c.waitServed(t, c.nodes)
}

// e2eClusterView is what the test reads of GET /api/v1/cluster.
type e2eClusterView struct {
	Home       string
	Streams    []struct{ Leader string }
	CellOwners []struct {
		Cell         int
		Owner, State string
	} `json:"cell_owners"`
}

// owners are the owners of the cells, by cell, as n1 sees them.
func (c *e2eCluster) owners(t *testing.T) []string {
	t.Helper()
	var v e2eClusterView
	c.nodes[0].expect(t, http.StatusOK, "", http.MethodGet, "/api/v1/cluster", nil, &v)
	out := make([]string, clusterE2ECells)
	for _, o := range v.CellOwners {
		out[o.Cell] = o.Owner
	}
	return out
}

// waitServed waits until every node of live is ready and sees every cell
// served by a node of live, the same owners on each, and the engine's
// leaders on the home.
func (c *e2eCluster) waitServed(t *testing.T, live []*bscProc) {
	t.Helper()
	var names []string
	for _, p := range live {
		names = append(names, fmt.Sprintf("n%d", slices.Index(c.nodes, p)+1))
	}
	mustWait(t, clusterE2EWait, fmt.Sprintf("every cell served by %v, every one of them agreeing", names), func() error {
		var first []string
		for i, p := range live {
			if p.exited() {
				return stop{fmt.Errorf("%s exited: %v", names[i], p.err)}
			}
			if status, _, err := p.request(context.Background(), http.MethodGet, "/readyz", nil, nil); err != nil || status != http.StatusOK {
				return fmt.Errorf("%s not ready: %d %v", names[i], status, err)
			}
			var v e2eClusterView
			if status, _, err := p.request(context.Background(), http.MethodGet, "/api/v1/cluster", nil, &v); err != nil || status != http.StatusOK {
				return fmt.Errorf("%s: GET /api/v1/cluster: %d %v", names[i], status, err)
			}
			var owners []string
			for _, o := range v.CellOwners {
				if o.State != "serving" || !slices.Contains(names, o.Owner) {
					return fmt.Errorf("%s sees a cell %s by %q", names[i], o.State, o.Owner)
				}
				owners = append(owners, o.Owner)
			}
			for _, s := range v.Streams {
				if s.Leader != v.Home {
					return fmt.Errorf("%s: a stream led by %s, not the home %s", names[i], s.Leader, v.Home)
				}
			}
			if len(owners) != clusterE2ECells {
				return fmt.Errorf("%s sees %d cells", names[i], len(owners))
			}
			if first == nil {
				first = owners
			} else if !slices.Equal(first, owners) {
				return fmt.Errorf("%s sees owners %v, %s %v", names[i], owners, names[0], first)
			}
		}
		return nil
	})
}

// clusterTraffic is call cycles (call, accept, hangup) between pairs of
// phones in cells of different nodes, each request through one of the
// fronts in turn, so that most are forwarded and every call is between
// nodes (until a failover moves cells). A cycle that fails (a cell being
// taken over) is counted and its phones hung up; the next tick tries
// again.
type clusterTraffic struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
	cycles atomic.Int64 // completed
	failed atomic.Int64
	errMu  sync.Mutex
	errs   []string // the first failures, to say why
}

// startClusterTraffic attaches the phones (through the fronts): pair p's
// caller in cell 2p, its callee in the next cell an owner other than that
// cell's owns. It starts one goroutine per pair; tr.stop ends them, and
// the test's end does if it fails first.
func startClusterTraffic(t *testing.T, fronts []*bscProc, owners []string) *clusterTraffic {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &clusterTraffic{cancel: cancel}
	phone := func(i int) string { return fmt.Sprintf("469200%04d", i) }
	attach := func(i, cell int) {
		fronts[i%len(fronts)].expect(t, http.StatusCreated, "", http.MethodPost, "/api/v1/phones",
			map[string]any{"msisdn": phone(i), "cell": cell}, nil)
	}
	for p := range clusterE2EPairs {
		from := 2 * p % len(owners)
		to := slices.IndexFunc(owners, func(o string) bool { return o != owners[from] })
		for cell := from + 1; cell < len(owners); cell++ { // the next such cell after from, if any
			if owners[cell] != owners[from] {
				to = cell
				break
			}
		}
		if to < 0 {
			t.Fatalf("every cell owned by %s", owners[from])
		}
		attach(2*p, from)
		attach(2*p+1, to)
	}
	for p := range clusterE2EPairs {
		tr.done.Add(1)
		go func() {
			defer tr.done.Done()
			tr.run(ctx, fronts, phone(2*p), phone(2*p+1), p)
		}()
	}
	t.Cleanup(func() { tr.cancel(); tr.done.Wait() })
	return tr
}

// run is one pair's cycles until ctx ends.
func (tr *clusterTraffic) run(ctx context.Context, fronts []*bscProc, caller, callee string, turn int) {
	tick := time.NewTicker(clusterE2EPace)
	defer tick.Stop()
	act := func(who, action, to string) error {
		turn++
		body := map[string]string{"action": action}
		if to != "" {
			body["to"] = to
		}
		status, code, err := fronts[turn%len(fronts)].request(ctx, http.MethodPost, "/api/v1/phones/"+who+"/actions", body, nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("%d %s", status, code)
		}
		if err != nil {
			return fmt.Errorf("%s %s %s: %w", who, action, to, err)
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := act(caller, "call", callee)
		if err == nil {
			err = act(callee, "accept", "")
		}
		if err == nil {
			err = act(caller, "hangup", "")
		}
		if err == nil {
			tr.cycles.Add(1)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		tr.failed.Add(1)
		tr.errMu.Lock()
		if len(tr.errs) < 5 {
			tr.errs = append(tr.errs, err.Error())
		}
		tr.errMu.Unlock()
		// Whatever state the pair was left in, end it (a refusal is fine).
		_ = act(caller, "hangup", "")
		_ = act(callee, "hangup", "")
	}
}

// stop ends the traffic and returns the cycles completed and failed.
func (tr *clusterTraffic) stop(t *testing.T) (cycles, failed int64) {
	t.Helper()
	tr.cancel()
	tr.done.Wait()
	tr.errMu.Lock()
	defer tr.errMu.Unlock()
	if len(tr.errs) > 0 {
		t.Logf("first failed cycles: %s", strings.Join(tr.errs, "; "))
	}
	return tr.cycles.Load(), tr.failed.Load()
}

// panelsShow is a wait condition: the first query of each panel named in
// want, with vars, returns what its check accepts.
func panelsShow(t *testing.T, prom *promProc, queries []panelQuery, vars grafanaVars, want map[string]func([]sample) error) func() error {
	t.Helper()
	exprs := map[string]string{}
	for _, q := range queries {
		if _, ok := want[q.panel.Title]; !ok || exprs[q.panel.Title] != "" {
			continue
		}
		expr, err := interpolate(q.target.Expr, vars)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		exprs[q.panel.Title] = expr
	}
	for title := range want {
		if exprs[title] == "" {
			t.Fatalf("no panel %q among the queries", title)
		}
	}
	return func() error {
		var wrong []string
		for title, check := range want {
			ss, err := prom.query(exprs[title])
			if err != nil {
				return stop{fmt.Errorf("panel %q: %s: %w", title, exprs[title], err)}
			}
			if err := check(ss); err != nil {
				wrong = append(wrong, fmt.Sprintf("panel %q: %v", title, err))
			}
		}
		if len(wrong) > 0 {
			slices.Sort(wrong)
			return errors.New(strings.Join(wrong, "; "))
		}
		return nil
	}
}

// byLabel accepts one series per value of label given in want, with the
// value want gives it.
func byLabel(label string, want map[string]float64) func([]sample) error {
	return func(ss []sample) error {
		got := map[string]float64{}
		for _, s := range ss {
			got[s.labels[label]] = s.value
		}
		if len(got) != len(want) {
			return fmt.Errorf("%v, want %v", got, want)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				return fmt.Errorf("%v, want %v", got, want)
			}
		}
		return nil
	}
}

// perInstance accepts one series per instance of instances, no other, each
// value accepted by ok.
func perInstance(instances []string, ok func(float64) bool) func([]sample) error {
	return func(ss []sample) error {
		var got []string
		for _, s := range ss {
			if !ok(s.value) {
				return fmt.Errorf("%s: %v", s.labels["instance"], s.value)
			}
			got = append(got, s.labels["instance"])
		}
		if !slices.Equal(sortedNames(got), sortedNames(instances)) {
			return fmt.Errorf("instances %v, want %v", got, instances)
		}
		return nil
	}
}

// total accepts series that add up to n.
func total(n float64) func([]sample) error {
	return func(ss []sample) error {
		var sum float64
		for _, s := range ss {
			sum += s.value
		}
		if len(ss) == 0 || sum != n {
			return fmt.Errorf("%d series adding up to %v, want %v", len(ss), sum, n)
		}
		return nil
	}
}

// someSeries accepts an answer with a series ok accepts.
func someSeries(what string, ok func(sample) bool) func([]sample) error {
	return func(ss []sample) error {
		if !slices.ContainsFunc(ss, func(s sample) bool { return !math.IsNaN(s.value) && ok(s) }) {
			return fmt.Errorf("no series with %s among %d", what, len(ss))
		}
		return nil
	}
}

// allOf accepts what every check accepts.
func allOf(checks ...func([]sample) error) func([]sample) error {
	return func(ss []sample) error {
		for _, c := range checks {
			if err := c(ss); err != nil {
				return err
			}
		}
		return nil
	}
}

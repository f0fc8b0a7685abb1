// Command cluster measures a three-node bsc cluster on loopback for
// BENCHMARKS.md: failover times over repeated kill -9s, and the latency,
// inter-node messages and CPU of call cycles between phones of one node
// and of two.
//
//	go build -o /tmp/bsc ./cmd/bsc
//	go run ./bench/cluster --bin /tmp/bsc --kills 21 --cycles 2000
//
// Each kill takes the next node in turn (n1, n2, n3, n1, ...), so a third
// of them kill the home, the node that leads the engine's streams (their
// writes then wait for an election). The failover time is from the kill
// to every cell served by a live node, as a live node's GET
// /api/v1/cluster shows it, polled every 10 ms; the killed node is then
// started again and the cluster left to settle (leaders home) before the
// next kill.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

func main() {
	bin := flag.String("bin", "bsc", "the bsc binary")
	kills := flag.Int("kills", 21, "kill -9s to time")
	cycles := flag.Int("cycles", 2000, "call cycles per latency series")
	logs := flag.String("logs", "", "a directory to keep the nodes' logs in (debug level); none: not kept")
	flag.Parse()
	dir, err := os.MkdirTemp("", "bsc-bench-cluster-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c := start(*bin, dir, *logs)
	defer c.stop()
	c.waitFormed()
	if *cycles > 0 {
		c.latency(*cycles)
	}
	if *kills > 0 {
		c.failovers(*kills)
	}
}

type node struct {
	name, url string
	args      []string
	cmd       *exec.Cmd
}

type cluster struct {
	bin   string
	logs  string
	nodes []*node
}

func start(bin, dir, logs string) *cluster {
	addrs, err := testutil.ReserveAddrs(6)
	if err != nil {
		log.Fatal(err)
	}
	routes := addrs[3:]
	c := &cluster{bin: bin, logs: logs}
	for i := range 3 {
		name := "n" + strconv.Itoa(i+1)
		n := &node{name: name, url: "http://" + addrs[i], args: []string{"serve",
			"--node", name, "--listen", addrs[i], "--db", filepath.Join(dir, name+".db"),
			"--cluster-listen", routes[i], "--cluster-peers", strings.Join(routes, ","),
			"--frequencies", "1-1000", "--log-level", "warn"}}
		c.nodes = append(c.nodes, n)
		c.run(n)
	}
	return c
}

func (c *cluster) run(n *node) {
	n.cmd = exec.Command(c.bin, n.args...)
	// The nodes die with the bench, however it ends: a log.Fatal skips the
	// deferred stop, and nodes left running skew every later measurement.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	n.cmd.Stderr = io.Discard
	if c.logs != "" {
		f, err := os.OpenFile(filepath.Join(c.logs, n.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		n.cmd.Stderr = f
		n.cmd.Args = append(n.cmd.Args, "--log-level", "debug")
	}
	if err := n.cmd.Start(); err != nil {
		log.Fatal(err)
	}
}

func (c *cluster) stop() {
	for _, n := range c.nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			_ = n.cmd.Wait()
		}
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

// do sends body (nil: none) and decodes the answer into out (nil: not read).
func do(method, url string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode < 300 {
		return res.StatusCode, json.NewDecoder(res.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

type view struct {
	Home       string
	Streams    []struct{ Name, Leader string }
	CellOwners []struct {
		Cell         int
		Owner, State string
	} `json:"cell_owners"`
}

func (n *node) view() (view, bool) {
	var v view
	status, err := do(http.MethodGet, n.url+"/api/v1/cluster", nil, &v)
	return v, err == nil && status == http.StatusOK
}

// served tells whether every cell of v is served by a node of live.
func (v view) served(live []string) bool {
	if len(v.CellOwners) == 0 {
		return false
	}
	for _, o := range v.CellOwners {
		if o.State != "serving" || !slices.Contains(live, o.Owner) {
			return false
		}
	}
	return true
}

func (c *cluster) waitFormed() {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ok := true
		for _, n := range c.nodes {
			v, got := n.view()
			if !got || !v.served([]string{"n1", "n2", "n3"}) {
				ok = false
				break
			}
			ok = ok && len(v.Streams) > 0
			for _, s := range v.Streams {
				ok = ok && s.Leader == v.Home
			}
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatal("the cluster did not form in 2 minutes")
}

func (c *cluster) cellsOf(name string) []int { return c.nodes[0].cellsOf(name) }

// cellsOf is the cells n sees owned by the node name.
func (n *node) cellsOf(name string) []int {
	v, _ := n.view()
	var out []int
	for _, o := range v.CellOwners {
		if o.Owner == name {
			out = append(out, o.Cell)
		}
	}
	return out
}

// attachProbe attaches a phone, through watcher, in one of victim's
// cells, and returns it and its cell. The owners are read again at each
// try, and once more after the attach: a cell just taken back may still
// be starting (503 for a moment), or be handed on meanwhile, and a probe
// that is not in one of the victim's cells when it dies times nothing.
func attachProbe(kill int, victim, watcher *node) (string, int) {
	for tries := 0; tries < 100; tries++ {
		victims := watcher.cellsOf(victim.name)
		if len(victims) == 0 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		probe, cell := fmt.Sprintf("49%07d", kill*100+tries), victims[0]
		status, err := do(http.MethodPost, watcher.url+"/api/v1/phones", map[string]any{"msisdn": probe, "cell": cell}, nil)
		switch {
		case status == http.StatusCreated && slices.Contains(watcher.cellsOf(victim.name), cell):
			return probe, cell
		case status == http.StatusCreated, status == http.StatusServiceUnavailable:
			time.Sleep(100 * time.Millisecond)
		default:
			log.Fatalf("kill %d: attach the probe %s: %d %v", kill+1, probe, status, err)
		}
	}
	v, _ := watcher.view()
	log.Fatalf("kill %d: no probe attached in one of %s's cells: %+v", kill+1, victim.name, v)
	return "", 0
}

// failovers kills each node in turn, kills times. Each is timed twice:
// to the first action answered on a phone of one of the victim's cells
// (cluster.md's failover time: 200, or 409 for a phone restored idle),
// and to every cell served by a live node.
func (c *cluster) failovers(kills int) {
	fmt.Printf("\nfailover: kill -9, to the first action answered on a phone of the victim's, and to every cell served by a live node\n")
	fmt.Printf("%4s %6s %5s %12s %10s  %s\n", "kill", "victim", "home", "first action", "all cells", "killed at (UTC, to read the logs)")
	var all, home, other, served []float64
	for i := range kills {
		victim := c.nodes[i%3]
		watcher := c.nodes[(i+1)%3]
		v, _ := watcher.view()
		wasHome := v.Home == victim.name
		var live []string
		for _, n := range c.nodes {
			if n != victim {
				live = append(live, n.name)
			}
		}
		probe, probeCell := attachProbe(i, victim, watcher)
		began := time.Now()
		_ = victim.cmd.Process.Signal(syscall.SIGKILL)
		_ = victim.cmd.Wait()
		var answered, took float64
		var status int
		for answered == 0 || took == 0 {
			if answered == 0 {
				status, _ = do(http.MethodPost, watcher.url+"/api/v1/phones/"+probe+"/actions", map[string]any{"action": "hangup"}, nil)
				if status == http.StatusOK || status == http.StatusConflict {
					answered = time.Since(began).Seconds()
				}
			}
			if v, ok := watcher.view(); ok && took == 0 && v.served(live) {
				took = time.Since(began).Seconds()
			}
			if time.Since(began) > time.Minute {
				v, _ := watcher.view()
				var ph map[string]any
				phStatus, _ := do(http.MethodGet, watcher.url+"/api/v1/phones/"+probe, nil, &ph)
				log.Fatalf("kill %d: no failover in a minute (first action answered after %.3fs, every cell served after %.3fs; 0: not yet; the probe %s (cell %d)'s last answer %d, GET %d %v): %+v",
					i+1, answered, took, probe, probeCell, status, phStatus, ph, v)
			}
			time.Sleep(10 * time.Millisecond)
		}
		all = append(all, answered)
		served = append(served, took)
		if wasHome {
			home = append(home, answered)
		} else {
			other = append(other, answered)
		}
		fmt.Printf("%4d %6s %5v %11.3fs %9.3fs  %s\n", i+1, victim.name, wasHome, answered, took, began.UTC().Format("15:04:05.000"))
		c.run(victim)
		c.waitFormed()
	}
	for _, s := range []struct {
		name string
		xs   []float64
	}{{"first action, all kills", all}, {"  home killed (election)", home}, {"  other node killed", other}, {"every cell served", served}} {
		if len(s.xs) > 0 {
			slices.Sort(s.xs)
			fmt.Printf("%-26s n=%2d median %.3fs max %.3fs\n", s.name, len(s.xs), s.xs[len(s.xs)/2], s.xs[len(s.xs)-1])
		}
	}
}

// latency runs call -> accept -> hangup cycles between two phones of one
// node's cells, then between phones of two nodes' cells, each request
// sent to the node that owns the phone it names.
func (c *cluster) latency(cycles int) {
	n1, n2 := c.nodes[0], c.nodes[1]
	a1, b1 := c.cellsOf("n1"), c.cellsOf("n2")
	attach := func(n *node, msisdn string, cell int) {
		if status, err := do(http.MethodPost, n.url+"/api/v1/phones", map[string]any{"msisdn": msisdn, "cell": cell}, nil); status != http.StatusCreated {
			log.Fatalf("attach %s: %d %v", msisdn, status, err)
		}
	}
	fmt.Printf("call cycles (call, accept, hangup), %d each, one at a time\n", cycles)
	fmt.Printf("%-12s %-8s %8s %8s %8s\n", "pair", "action", "p50 ms", "p99 ms", "max ms")
	for _, tc := range []struct {
		name     string
		caller   *node
		callee   *node
		cellA    int
		cellB    int
		msisdnAB [2]string
	}{
		{"intra-node", n1, n1, a1[0], a1[1], [2]string{"4500001", "4500002"}},
		{"inter-node", n1, n2, a1[0], b1[0], [2]string{"4500003", "4500004"}},
	} {
		a, b := tc.msisdnAB[0], tc.msisdnAB[1]
		attach(tc.caller, a, tc.cellA)
		attach(tc.callee, b, tc.cellB)
		// The nodes' CPU at rest (leases, presence, polls) over as long
		// as the cycles take, subtracted from theirs.
		began := time.Now()
		before := c.scrape()
		lat := map[string][]float64{}
		act := func(n *node, who, action, to string) {
			body := map[string]any{"action": action}
			if to != "" {
				body["to"] = to
			}
			t0 := time.Now()
			status, err := do(http.MethodPost, n.url+"/api/v1/phones/"+who+"/actions", body, nil)
			if status != http.StatusOK {
				log.Fatalf("%s %s: %d %v", who, action, status, err)
			}
			lat[action] = append(lat[action], float64(time.Since(t0).Microseconds())/1000)
		}
		// An action is answered once the events it caused were handled,
		// on whichever node: the next one finds its peer ready.
		for range cycles {
			act(tc.caller, a, "call", b)
			act(tc.callee, b, "accept", "")
			act(tc.caller, a, "hangup", "")
		}
		after := c.scrape()
		took := time.Since(began)
		rest0 := c.scrape()
		time.Sleep(took)
		rest1 := c.scrape()
		for _, action := range []string{"call", "accept", "hangup"} {
			xs := lat[action]
			slices.Sort(xs)
			fmt.Printf("%-12s %-8s %8.3f %8.3f %8.3f\n", tc.name, action, xs[len(xs)/2], xs[len(xs)*99/100], xs[len(xs)-1])
		}
		msgs := after["bsc_internode_messages_total"] - before["bsc_internode_messages_total"]
		fmt.Printf("%-12s inter-node messages per cycle %.2f (both directions counted once, as sent); CPU per cycle beyond rest:", tc.name, msgs/2/float64(cycles))
		for _, n := range c.nodes {
			k := "process_cpu_seconds_total@" + n.name
			fmt.Printf(" %s %.0f µs", n.name, ((after[k]-before[k])-(rest1[k]-rest0[k]))/float64(cycles)*1e6)
		}
		fmt.Println(" ")
	}
}

// scrape sums bsc_internode_messages_total over every node (direction out
// and in, so each message counts twice) and reads each node's CPU seconds.
func (c *cluster) scrape() map[string]float64 {
	out := map[string]float64{}
	for _, n := range c.nodes {
		res, err := client.Get(n.url + "/metrics")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line := sc.Text()
			name, rest, _ := strings.Cut(line, " ")
			metric, _, _ := strings.Cut(name, "{")
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				continue
			}
			switch metric {
			case "bsc_internode_messages_total":
				out[metric] += v
			case "process_cpu_seconds_total":
				out[metric+"@"+n.name] = v
			}
		}
		res.Body.Close()
	}
	return out
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestClusterPartition: n3 runs in a network namespace of its own, its
// route traffic over one veth pair and its HTTP over another. The route
// link is cut, with no FIN or RST: n3 cannot renew its leases. It stops
// acting for its cells before the others take them (each cell's last
// moment acting on n3, from its log, is before the first on its next
// owner: never two owners at once) and stops serving them, while it still
// answers HTTP; its call with a phone on n1 ends dropped with one record.
// Once the link is back, n3 rejoins and every node agrees again.
func TestClusterPartition(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	bin := buildBSC(t)
	ports := testutil.FreeAddrs(t, 3)
	port := func(i int) string { _, p, _ := strings.Cut(ports[i], ":"); return p }
	// n1 and n2 take routes on every address of the host: each other's on
	// loopback, n3's over the route link.
	c := startClusterAt(t, bin, []nodePlace{
		{route: "0.0.0.0:" + port(0), peers: []string{"127.0.0.1:" + port(1), ns.inside(1) + ":" + port(2)}},
		{route: "0.0.0.0:" + port(1), peers: []string{"127.0.0.1:" + port(0), ns.inside(1) + ":" + port(2)}},
		{route: ns.inside(1) + ":" + port(2), listen: ns.inside(2) + ":0", wrap: ns.exec(),
			peers: []string{ns.outside(1) + ":" + port(0), ns.outside(1) + ":" + port(1)}},
	})
	n1, n3 := c.nodes[0], c.nodes[2]
	v, _ := c.view(0)
	var cut []int // n3's cells
	epochs := map[int]uint64{}
	for _, o := range v.CellOwners {
		if o.Owner == "n3" {
			cut = append(cut, o.Cell)
			epochs[o.Cell] = o.Epoch
		}
	}
	if len(cut) == 0 {
		t.Fatalf("n3 owns no cell: %+v", v.CellOwners)
	}
	// A call from a phone of n3's cell to one of n1's, set up through n3,
	// and an idle phone of n3's.
	caller, callee, idle := "4300001", "4300002", "4300003"
	n3.attach(t, caller, cut[0])
	n1.attach(t, callee, c.cellOf("n1"))
	n3.attach(t, idle, cut[len(cut)-1])
	n3.mustAct(t, caller, "call", callee)
	n1.mustAct(t, callee, "accept", "")
	n3.waitState(t, caller, "connected")

	ns.cut()
	testutil.Eventually(t, clusterWait, "n3's cells served by n1 and n2 under new epochs", func() bool {
		v, ok := c.view(0)
		if !ok {
			return false
		}
		for _, o := range v.CellOwners {
			if epochs[o.Cell] != 0 && (o.State != "serving" || o.Owner == "n3" || o.Owner == "" || o.Epoch <= epochs[o.Cell]) {
				return false
			}
		}
		return true
	})
	testutil.Eventually(t, clusterWait, "n3 refuses its former cells' phones", func() bool {
		status, _ := n3.send(t, http.MethodGet, "/api/v1/phones/"+idle, nil, nil)
		return status == http.StatusServiceUnavailable
	})
	if status, _ := n3.send(t, http.MethodGet, "/healthz", nil, nil); status != http.StatusOK {
		t.Errorf("n3's /healthz: %d: cut off, it is still alive", status)
	}
	if status, _ := n3.act(t, caller, "hangup", ""); status == http.StatusOK {
		t.Error("n3 ended a call of a cell it no longer owns")
	}
	n1.waitState(t, callee, "idle")
	n1.waitState(t, idle, "idle") // restored by its cell's next owner
	// The next owner writes the record once it has read the calls the
	// cell had in progress (from the engine's leader, which may be being
	// elected again: the cut node may have led the engine's metadata).
	var recs []record
	testutil.Eventually(t, clusterWait, "the cut call's record", func() bool {
		recs = n1.records(t, caller)
		return len(recs) > 0
	})
	if len(recs) != 1 || recs[0].Outcome != "dropped" {
		t.Errorf("records of the cut call: %v, want one dropped", outcomes(recs))
	}

	// Never two owners: n3 stopped acting for each cell before the next
	// owner started.
	// (A cell n3 was handing off as the link went, to a node it still saw,
	// ends "handed off" rather than "lost": its last moment is logged too.)
	until := logTimes(t, n3.stderr.String(), "cell lost", "acting_until_unix_ns")
	for cell, at := range logTimes(t, n3.stderr.String(), "cell handed off", "acting_until_unix_ns") {
		until[cell] = max(until[cell], at)
	}
	from := map[int]int64{}
	for _, p := range c.nodes[:2] {
		for cell, at := range logTimes(t, p.stderr.String(), "cell taken", "acting_from_unix_ns") {
			if epochs[cell] != 0 && (from[cell] == 0 || at < from[cell]) {
				from[cell] = at
			}
		}
	}
	for _, cell := range cut {
		switch {
		case until[cell] == 0:
			t.Errorf("cell %d: n3 never logged that it stopped acting for it", cell)
		case from[cell] == 0:
			t.Errorf("cell %d: no node logged that it took it", cell)
		case until[cell] >= from[cell]:
			t.Errorf("cell %d: n3 acted until %d, its next owner from %d: two owners for %d ns", cell, until[cell], from[cell], until[cell]-from[cell])
		default:
			t.Logf("cell %d: %.1f ms without an owner", cell, float64(from[cell]-until[cell])/1e6)
		}
	}

	ns.heal()
	c.waitFormed()
	if status, _ := n3.send(t, http.MethodGet, "/api/v1/phones/"+idle, nil, nil); status != http.StatusOK {
		t.Errorf("n3 back: GET a phone: %d", status)
	}
}

// logTimes reads, from a node's log, the field of each line with message
// msg, by cell: the last one of each cell.
func logTimes(t *testing.T, log, msg, field string) map[int]int64 {
	t.Helper()
	out := map[int]int64{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["message"] != msg {
			continue
		}
		cell, ok1 := line["cell"].(float64)
		at, ok2 := line[field].(float64)
		if ok1 && ok2 {
			out[int(cell)] = int64(at)
		}
	}
	return out
}

// netns is a network namespace with two veth pairs to the host: link 1
// carries routes (the one cut), link 2 HTTP. Addresses are 10.N.L.1
// outside and 10.N.L.2 inside.
type netns struct {
	t      *testing.T
	name   string
	subnet int
	links  [3]string // the host's ends of links 1 and 2
}

// newNetns makes one, removed at the end of the test. Network namespaces
// need root, which CI has.
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("ip not found: install iproute2 (.ci/run does)")
	}
	id := fmt.Sprintf("%04x", rand.IntN(1<<16))
	n := &netns{t: t, name: "bscpart" + id, subnet: 100 + rand.IntN(150)}
	n.ip("netns", "add", n.name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	n.ip("-n", n.name, "link", "set", "lo", "up")
	for l := 1; l <= 2; l++ {
		host, inside := fmt.Sprintf("bp%s%d", id, l), fmt.Sprintf("bq%s%d", id, l)
		n.links[l] = host
		n.ip("link", "add", host, "type", "veth", "peer", "name", inside)
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
		n.ip("link", "set", inside, "netns", n.name)
		n.ip("addr", "add", n.outside(l)+"/24", "dev", host)
		n.ip("link", "set", host, "up")
		n.ip("-n", n.name, "addr", "add", n.inside(l)+"/24", "dev", inside)
		n.ip("-n", n.name, "link", "set", inside, "up")
	}
	return n
}

func (n *netns) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (n *netns) outside(link int) string { return fmt.Sprintf("10.%d.%d.1", n.subnet, link) }
func (n *netns) inside(link int) string  { return fmt.Sprintf("10.%d.%d.2", n.subnet, link) }

// exec is the command that runs a program in the namespace.
func (n *netns) exec() []string { return []string{"ip", "netns", "exec", n.name} }

// cut takes the host's end of the route link down: the host's packets to
// n3 fail at once on the host, and n3's go out into a link with no
// carrier and are lost, so n3 hears nothing more (no FIN, no RST, no
// error): it learns of the cut only by its renewals timing out.
func (n *netns) cut() { n.ip("link", "set", n.links[1], "down") }

// heal brings the route link back.
func (n *netns) heal() { n.ip("link", "set", n.links[1], "up") }

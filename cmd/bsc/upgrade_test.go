package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestClusterRollingUpgrade: a cluster of a build of the previous message
// protocol (1, built here with -ldflags) is upgraded node by node to the
// current build (protocol 2) under calls: each node is drained, stopped, started
// as the new build, and takes its cells back. No call is dropped, no
// record is lost or doubled: every call answered has one; the new nodes
// write protocol 1 while an old node is up, protocol 2 once none is, and
// the old read what the new write.
func TestClusterRollingUpgrade(t *testing.T) {
	t.Parallel()
	next := buildBSC(t)
	old := filepath.Join(t.TempDir(), "bsc-previous")
	if out, err := exec.Command("go", "build", "-o", old, "-ldflags",
		"-X github.com/bsc-sim/bsc/internal/version.Protocol=1 -X github.com/bsc-sim/bsc/internal/version.Version=previous", ".").CombinedOutput(); err != nil {
		t.Fatalf("go build the previous version: %v\n%s", err, out)
	}
	c := startCluster(t, old, "--handoff-timeout", "5s")

	// Pairs of phones in cells of two different nodes, calling each other
	// over and over through any node; a 503 (a cell handed off, or moving;
	// a node stopping or starting) is waited out and tried again through
	// the next node, as a client of a cluster does.
	v := mustView(t, c, 0)
	var cellsOf [3][]int
	for _, o := range v.CellOwners {
		i := int(o.Owner[1] - '1')
		cellsOf[i] = append(cellsOf[i], o.Cell)
	}
	type pair struct{ a, b string }
	var pairs []pair
	for i := range 6 {
		p := pair{fmt.Sprintf("49%05d", 2*i), fmt.Sprintf("49%05d", 2*i+1)}
		c.nodes[0].attach(t, p.a, cellsOf[i%3][i%len(cellsOf[i%3])])
		c.nodes[0].attach(t, p.b, cellsOf[(i+1)%3][i%len(cellsOf[(i+1)%3])])
		pairs = append(pairs, p)
	}
	ctx, stop := context.WithCancel(context.Background())
	var answered, refused atomic.Int64
	perPair := make([]atomic.Int64, len(pairs))
	var wg sync.WaitGroup
	// The traffic stops before the test ends, however it ends: the
	// hangups that end a call are tried until quit, not forever.
	quit, end := context.WithCancel(context.Background())
	t.Cleanup(func() { stop(); end(); wg.Wait() })
	for i, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				via := func(k int) *bscProcess { return c.live((i + n + k) % 3) }
				ok := retry503(ctx, t, &refused, "call", func(try int) (int, string) { return via(try).act(t, p.a, "call", p.b) }) &&
					retry503(ctx, t, &refused, "accept", func(try int) (int, string) { return via(1+try).act(t, p.b, "accept", "") })
				if ok {
					time.Sleep(20 * time.Millisecond) // a short talk
					ok = retry503(quit, t, &refused, "hangup", func(try int) (int, string) { return via(2+try).act(t, p.a, "hangup", "") })
				}
				if ok {
					answered.Add(1)
					perPair[i].Add(1)
					continue
				}
				// Refused otherwise: end what is left (its record says how
				// it ended, which the test checks), and go on.
				for _, m := range []string{p.a, p.b} {
					retry503(quit, t, &refused, "hangup to end", func(try int) (int, string) { return via(try).act(t, m, "hangup", "") })
				}
			}
		}()
	}

	for _, i := range []int{2, 1, 0} { // the home last
		name := c.names[i]
		before := make([]int64, len(pairs))
		for k := range pairs {
			before[k] = perPair[k].Load()
		}
		if status, code := c.live(i+1).send(t, http.MethodPost, "/api/v1/cluster/nodes/"+name+":drain", nil, nil); status != http.StatusAccepted {
			t.Fatalf("drain %s: %d %s", name, status, code)
		}
		testutil.Eventually(t, clusterWait, name+" drained", func() bool {
			v, ok := c.view((i + 1) % 3)
			return ok && !strings.Contains(strings.Join(v.owners(), ","), name)
		})
		if err := c.nodes[i].cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		c.nodes[i].wait(t)
		if i == 0 && !strings.Contains(c.nodes[i].stderr.String(), "stream leader handed over") {
			// Left to the engine's own stop, the writes would wait on an
			// election for seconds, and calls set up then with them.
			t.Errorf("%s, the home, stopped without handing its stream leaders over", name)
		}
		c.restart(i, next)
		c.waitFormed()
		testutil.Eventually(t, clusterWait, name+" serves its cells again, calls going on", func() bool {
			v, ok := c.view((i + 1) % 3)
			if !ok || !slices.Contains(v.owners(), name) {
				return false
			}
			for _, o := range v.CellOwners {
				if o.Owner != o.Preferred || o.State != "serving" {
					return false
				}
			}
			calls := int64(0)
			for k := range pairs {
				calls += perPair[k].Load() - before[k]
			}
			return calls > int64(3*len(pairs))
		})
		t.Logf("%s upgraded: %d calls answered so far, %d requests refused 503 and tried again", name, answered.Load(), refused.Load())
	}
	// Calls go on with every node of the new build, events between nodes
	// timed at protocol 2.
	done := answered.Load()
	testutil.Eventually(t, clusterWait, "calls on the upgraded cluster, at protocol 2", func() bool {
		return answered.Load() > done+20 && c.live(0).metric(t, "bsc_internode_event_seconds_count") > 0
	})
	stop()
	wg.Wait()

	want := answered.Load()
	got, dropped, refusedCalls := 0, 0, 0
	for _, p := range pairs {
		for _, r := range c.nodes[0].records(t, p.a) {
			switch r.Outcome {
			case "answered":
				got++
			case "dropped":
				dropped++
				t.Errorf("call %d, %s to %s, dropped during the upgrade (cell %d on %s, epoch %d, set up %s, ended %s)",
					r.ID, r.Caller, r.Callee, *r.Cell, r.Node, r.Epoch, r.SetupAt.Format(time.StampMilli), r.EndedAt.Format(time.StampMilli))
			default:
				refusedCalls++
			}
		}
	}
	// Calls refused (busy: the callee's cell closing; cancelled: ended by
	// the traffic after a refusal) are not dropped calls.
	if int64(got) < want || got > int(want)+len(pairs) { // a pair's last call may have been answered as the test stopped
		t.Errorf("%d records for %d answered calls", got, want)
	}
	t.Logf("%d calls answered, each recorded; %d dropped; %d ended busy or cancelled while cells moved", want, dropped, refusedCalls)
	if want < 50 {
		t.Errorf("only %d calls answered during the upgrade", want)
	}
	for _, i := range []int{2, 1} {
		log := c.nodes[i].stderr.String()
		if !strings.Contains(log, `"protocol":1,"was":0,"this_build":2`) {
			t.Errorf("%s, upgraded while an old node was up, did not write protocol 1", c.names[i])
		}
	}
	for i := range c.nodes {
		if log := c.nodes[i].stderr.String(); !strings.Contains(log, `"protocol":2`) {
			t.Errorf("%s never wrote protocol 2", c.names[i])
		}
	}
}

// live is node i of the cluster, or the next one if i's process ended;
// safe beside restart.
func (c *testCluster) live(i int) *bscProcess {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range 3 {
		if j := (i + k) % 3; !c.exited(j) {
			return c.nodes[j]
		}
	}
	return c.nodes[i%3]
}

// retry503 runs do (try: how many times before) until it answers
// something other than 503 (or a failed request: a node stopping),
// waiting a little between tries; false if ctx ended first, or do was
// refused otherwise (logged).
func retry503(ctx context.Context, t *testing.T, refused *atomic.Int64, what string, do func(try int) (int, string)) bool {
	for try := 0; ctx.Err() == nil; try++ {
		status, code := do(try)
		switch status {
		case http.StatusOK:
			return true
		case http.StatusServiceUnavailable, 0:
			refused.Add(1)
			time.Sleep(100 * time.Millisecond)
		default:
			t.Logf("%s %s: %d %s", time.Now().Format(time.StampMilli), what, status, code)
			return false
		}
	}
	return false
}

// restart starts node i again, from bin, with its flags; the logs of the
// process it replaces are kept.
func (c *testCluster) restart(i int, bin string) {
	p := startBSCUnder(c.t, nil, bin, c.args[i]...)
	c.mu.Lock()
	if c.earlier == nil {
		c.earlier = map[int][]*bscProcess{}
	}
	c.earlier[i] = append(c.earlier[i], c.nodes[i])
	c.nodes[i] = p
	c.mu.Unlock()
}

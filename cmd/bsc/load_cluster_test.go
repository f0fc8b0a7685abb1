package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/teletraffic"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// forwardedActions is the metric of the phone actions a node got from a
// client for a phone another node runs, and forwarded: it grows only with
// the requests sent to that node itself (those a node serves for
// another, forwarded to it, are counted there).
const forwardedActions = `bsc_forwarded_requests_total{route="/api/v1/phones/{msisdn}/actions"}`

// TestLoadCluster: `bsc load --target n1,n2,n3` runs over three real nodes
// for a few seconds and its books balance: every answered call it saw has
// its record (read once, from any node: they are the cluster's), no
// frequency is left in any cell, no phone attached. Its requests reached
// every node: each node forwarded actions of phones the others run, which
// only requests sent to it make it do. Then the traffic model measures
// one cell of the same cluster (loadTrafficCell).
func TestLoadCluster(t *testing.T) {
	t.Parallel()
	bin := buildBSC(t)
	c := startCluster(t, bin)
	var urls []string
	before := make([]float64, len(c.nodes))
	for i, p := range c.nodes {
		urls = append(urls, p.url)
		before[i] = max(p.metric(t, forwardedActions), 0) // absent before the first
	}
	file := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := runCLI(t, []string{"load", "--target", strings.Join(urls, ","), "--phones", "60",
		"--rate", "20", "--duration", "3s", "--answer-delay", "1ms-100ms", "--talk-time", "1ms-200ms", "--out", file})
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "books          ok") {
		t.Errorf("report lacks balanced books:\n%s", stdout)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Partial  bool     `json:"partial"`
		Targets  []string `json:"targets"`
		Attached int      `json:"attached"`
		Requests struct {
			ByTarget map[string]int64 `json:"by_target"`
		} `json:"requests"`
		Calls struct {
			Outcomes map[string]int64 `json:"outcomes"`
		} `json:"calls"`
		Books struct {
			OK               bool `json:"ok"`
			AnsweredSeen     int  `json:"answered_seen"`
			AnsweredRecorded int  `json:"answered_recorded"`
		} `json:"books"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Partial || !rep.Books.OK || rep.Attached != 60 || rep.Books.AnsweredSeen == 0 || rep.Books.AnsweredRecorded != rep.Books.AnsweredSeen {
		t.Errorf("report %+v:\n%s", rep, stdout)
	}
	for i, p := range c.nodes {
		if rep.Requests.ByTarget[p.url] == 0 {
			t.Errorf("the report counts no request to n%d: %v", i+1, rep.Requests.ByTarget)
		}
		if after := p.metric(t, forwardedActions); after <= before[i] {
			t.Errorf("n%d forwarded %v actions, %v before the run: the driver sent it none", i+1, after, before[i])
		}
	}
	loadTrafficCell(t, c, urls)
}

// loadTrafficCell: the traffic model over a cluster measures the one
// cell --cell names. Without --cell the run is refused before anything is
// attached: the cluster has 12 cells. With it, every phone is attached in
// that cell, N is that cell's pool and the blocking is that pool's: the
// cell is given a pool of 3 frequencies (1-3) while cell 0, on another
// node, and a cell on the same node keep --frequencies' 6 (10-15), so that
// a pool read from another cell, or calls set up in another, show. Erlang B on 3 channels lies in
// the 99.9 % interval of the blocking measured.
func loadTrafficCell(t *testing.T, c *testCluster, urls []string) {
	t.Helper()
	v, ok := c.view(0)
	if !ok {
		t.Fatal("n1 did not answer GET /api/v1/cluster")
	}
	owners := v.owners()
	cell := slices.IndexFunc(owners, func(o string) bool { return o != owners[0] })
	pool := []int{1, 2, 3}
	var got struct{ Pool []int }
	if status, code := c.nodes[0].send(t, http.MethodPut, fmt.Sprintf("/api/v1/frequencies/pool?cell=%d", cell),
		map[string][]int{"frequencies": pool}, &got); status != http.StatusOK || !slices.Equal(got.Pool, pool) {
		t.Fatalf("PUT cell %d's pool: %d %s, pool %v", cell, status, code, got.Pool)
	}
	if status, _ := c.nodes[0].send(t, http.MethodGet, "/api/v1/frequencies?cell=0", nil, &got); status != http.StatusOK || len(got.Pool) != 6 {
		t.Fatalf("cell 0 (%s's, cell %d is %s's): %d, pool %v; want the 6 of --frequencies", owners[0], cell, owners[cell], status, got.Pool)
	}
	sibling := slices.IndexFunc(owners, func(o string) bool { return o == owners[cell] })
	if sibling == cell {
		sibling = cell + 1 + slices.IndexFunc(owners[cell+1:], func(o string) bool { return o == owners[cell] })
	}
	if status, _ := c.nodes[0].send(t, http.MethodGet, fmt.Sprintf("/api/v1/frequencies?cell=%d", sibling), nil, &got); status != http.StatusOK || len(got.Pool) != 6 {
		t.Fatalf("cell %d, %s's like cell %d: %d, pool %v; want the 6 of --frequencies", sibling, owners[cell], cell, status, got.Pool)
	}

	targets := strings.Join(urls, ",")
	code, stdout, stderr := runCLI(t, []string{"load", "--target", targets, "--erlangs", "2", "--duration", "1s"})
	if want := "traffic model: the target has 12 cells (cluster mode)"; code != 1 || !strings.Contains(stderr, want) ||
		!strings.Contains(stderr, "pass --cell N (0 to 11)") || !strings.Contains(stdout, "(0 attached)") {
		t.Errorf("without --cell: exit %d, stderr %q, want 1 and %q, nothing attached\n%s", code, stderr, want, stdout)
	}

	file := filepath.Join(t.TempDir(), "traffic.json")
	code, stdout, stderr = runCLI(t, []string{"load", "--target", targets, "--phones", "60", "--erlangs", "2",
		"--holding-time", "250ms", "--duration", "10s", "--cell", strconv.Itoa(cell), "--out", file})
	if code != 0 {
		t.Fatalf("--cell %d: exit %d\nstdout:\n%s\nstderr:\n%s", cell, code, stdout, stderr)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Started  time.Time `json:"started_at"`
		Attached int       `json:"attached"`
		Calls    struct {
			Outcomes map[string]int64 `json:"outcomes"`
		} `json:"calls"`
		Books struct {
			OK bool `json:"ok"`
		} `json:"books"`
		Traffic struct {
			Cell            *int    `json:"cell"`
			Channels        int     `json:"channels"`
			Reached         int64   `json:"reached"`
			NoFrequency     int64   `json:"no_frequency"`
			CalleeBusy      int64   `json:"callee_busy"`
			Blocking        float64 `json:"blocking"`
			OfferedMeasured float64 `json:"offered_measured_erlangs"`
			ErlangBMeasured float64 `json:"erlang_b_measured"`
		} `json:"traffic"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	tr := rep.Traffic
	if tr.Cell == nil || *tr.Cell != cell || tr.Channels != len(pool) || rep.Attached != 60 || !rep.Books.OK ||
		tr.CalleeBusy != 0 || tr.NoFrequency == 0 {
		t.Fatalf("report: cell %v, %d channels, %d attached, books ok %v, callee busy %d, no_frequency %d; want cell %d's "+
			"3 channels, blocking\n%s", tr.Cell, tr.Channels, rep.Attached, rep.Books.OK, tr.CalleeBusy, tr.NoFrequency, cell, stdout)
	}
	lo, hi := teletraffic.BlockingInterval(tr.NoFrequency, tr.Reached, tr.OfferedMeasured, tr.Channels, 0.999)
	t.Logf("cell %d: blocking %.4f (%d of %d), 99.9%% [%.4f, %.4f]; Erlang B %.4f at the %.3f E measured",
		cell, tr.Blocking, tr.NoFrequency, tr.Reached, lo, hi, tr.ErlangBMeasured, tr.OfferedMeasured)
	if !(lo <= tr.ErlangBMeasured && tr.ErlangBMeasured <= hi) {
		t.Errorf("Erlang B %.4f on %d channels is outside the 99.9 %% interval [%.4f, %.4f] of the blocking measured, %.4f",
			tr.ErlangBMeasured, tr.Channels, lo, hi, tr.Blocking)
	}

	// The calls were set up in the cell, on its pool: every record of the
	// run is the cell's, an answered call had one of its frequencies, and
	// each no_frequency the driver counted is a record of the cell.
	since := "since=" + url.QueryEscape(rep.Started.Format(time.RFC3339Nano))
	answered, blocked := rep.Calls.Outcomes["answered"], tr.NoFrequency
	var recs []record
	testutil.Eventually(t, clusterWait, "the run's answered and no_frequency records", func() bool {
		recs = c.nodes[1].recordsOf(t, since)
		n := map[string]int64{}
		for _, r := range recs {
			n[r.Outcome]++
		}
		return n["answered"] >= answered && n["no_frequency"] >= blocked
	})
	for _, r := range recs {
		if r.Cell == nil || *r.Cell != cell || r.Outcome == "answered" && (r.Frequency == nil || !slices.Contains(pool, *r.Frequency)) {
			t.Errorf("record %d (%s): cell %v, frequency %v; want cell %d and one of %v", r.ID, r.Outcome, ptr(r.Cell), ptr(r.Frequency), cell, pool)
		}
	}
}

// ptr is *p, or nil.
func ptr(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

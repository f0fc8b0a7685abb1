package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
// only requests sent to it make it do.
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
}

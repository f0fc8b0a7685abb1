package load

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A run over the three nodes of a (fake) cluster: phone i's actions all go
// to node i mod 3, the other requests to every node in turn, the event
// stream of the phones' group on the first node carries the replies, each
// from the node that owns the phone (never the one its requests go to,
// nor always the stream's), which it names; the
// books read the cluster's shape of the per-cell routes, and the records
// once. A bulk request shed once is retried after its Retry-After.
func TestRunOverClusterFake(t *testing.T) {
	f := newFakeCluster(t, 6, 3)
	f.shed = map[string]int{"POST /api/v1/subscribers:bulk": 1}
	cfg := testConfig(f.urls()...)
	cfg.MaxErrorRate = 0
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	checkConsistent(t, rep)
	if rep.Calls.Outcomes["answered"] == 0 || !rep.Books.OK || rep.Books.AnsweredSeen != int(rep.Calls.Outcomes["answered"]) {
		t.Errorf("answered %d, books %+v", rep.Calls.Outcomes["answered"], rep.Books)
	}
	if rep.Calls.Resyncs != 0 {
		t.Errorf("%d resyncs: replies were lost in the merge", rep.Calls.Resyncs)
	}
	q := rep.Requests
	if q.Retries != 1 || q.RetriesByStatus["503"] != 1 || q.GaveUp != 0 {
		t.Errorf("retries %d %v, gave up %d; want the shed bulk request retried once", q.Retries, q.RetriesByStatus, q.GaveUp)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	listed := 0
	for node, seen := range f.seen {
		for _, route := range []string{"GET /api/v1/cluster", "POST /api/v1/phones/{msisdn}/actions"} {
			if seen[route] == 0 {
				t.Errorf("n%d got no %s", node+1, route)
			}
		}
		if n := rep.Requests.ByTarget[f.fronts[node].URL]; n == 0 {
			t.Errorf("the report counts no request to n%d: %v", node+1, rep.Requests.ByTarget)
		}
		if seen["GET /api/v1/calls"] > 0 {
			listed++
		}
		for m := range f.acted[node] {
			i, _ := strconv.ParseUint(m, 10, 64)
			if int(i-cfg.MSISDNBase)%3 != node {
				t.Errorf("n%d got actions of %s, phone %d of the population", node+1, m, i-cfg.MSISDNBase)
			}
		}
	}
	if f.seen[0]["GET /api/v1/events"] == 0 {
		t.Error("n1 got no GET /api/v1/events: the stream of the one group of phones is on the first target")
	}
	if listed != 1 {
		t.Errorf("the records were listed through %d nodes, want one: they are the cluster's on every node", listed)
	}
	for _, want := range []string{"by target      http://", f.fronts[0].URL, f.fronts[1].URL, f.fronts[2].URL, "retries        1 (503 1), gave up 0"} {
		if !strings.Contains(text(t, rep), want) {
			t.Errorf("report lacks %q:\n%s", want, text(t, rep))
		}
	}
}

// The targets must be one server, or every live node of one cluster, each
// once: the driver loads the whole cluster, evenly.
func TestRunChecksTargets(t *testing.T) {
	cluster := newFakeCluster(t, 6, 3)
	single, other := newFakeBSC(t, 6), newFakeBSC(t, 6)
	u := cluster.urls()
	for _, tc := range []struct {
		name    string
		targets []string
		want    string
	}{
		{"a node left out", u[:2], "--target leaves out the cluster's nodes n3: the driver loads every node of the cluster"},
		{"one node of three", u[2:], "leaves out the cluster's nodes n1, n2"},
		{"a node twice", []string{u[0], u[1], u[2], strings.Replace(u[0], "127.0.0.1", "localhost", 1)}, "are the same node, n1: give each node once"},
		{"two single nodes", []string{single.srv.URL, other.srv.URL}, "is a single node, not a node of a cluster: give it as the only --target"},
		{"a cluster and a stranger", []string{u[0], u[1], u[2], single.srv.URL}, "is a single node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := runBounded(t, context.Background(), testConfig(tc.targets...), 30*time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !rep.Partial {
				t.Fatalf("err %v, want %q and a partial report", err, tc.want)
			}
			if n := rep.Requests.Total; n != 0 {
				t.Errorf("%d requests made: nothing is sent before the targets are checked", n)
			}
		})
	}
}

package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// eventsLimit bounds every wait of these tests, generous for the race
// detector.
const eventsLimit = 10 * time.Second

func TestClusterEventIDs(t *testing.T) {
	c := clusterCursor{"n2": {"0000beef", 7}, "n1": {"9f3c01aa", 0}, "node_3-b": {"ab", 18446744073709551615}}
	id := c.id()
	if want := "n1:9f3c01aa-0.n2:0000beef-7.node_3-b:ab-18446744073709551615"; id != want {
		t.Fatalf("id %q, want %q (nodes in order)", id, want)
	}
	if back, err := parseClusterID(id); err != nil || !maps.Equal(back, c) {
		t.Fatalf("parsed back %v, %v; want %v", back, err, c)
	}
	var many []byte
	for i := range maxIDNodes + 1 {
		if i > 0 {
			many = append(many, '.')
		}
		many = fmt.Appendf(many, "n%d:ab-1", i)
	}
	for _, bad := range []string{
		"9f3c01aa-1",             // a single node's id
		"n1:9f3c01aa-1.",         // an empty part
		"n1:9f3c01aa-1.n1:ab-2",  // a node twice
		"n1:xyz-1",               // not a run
		"n1:ab-",                 // no position
		"n1:ab--1",               // a negative one
		"n.1:ab-1",               // not a node name
		":ab-1",                  // no node
		"n1:0123456789abcdef0-1", // a run too long
		string(many),             // too many nodes
	} {
		if c, err := parseClusterID(bad); err == nil {
			t.Errorf("%q parsed as %v, want invalid_request", bad, c)
		}
	}
}

// pageOf asks api for the page form of its replies, as another node does.
func pageOf(t *testing.T, api *API, query string) (int, GlobalPage) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/events?"+query, nil)
	req.Header.Set(forwardedHeader, "n0")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, req)
	var p GlobalPage
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatalf("page %s: %v", w.Body, err)
		}
	}
	return w.Code, p
}

// seenItems is a page's items as "MSISDN:SEQ@POS", or "lost MSISDN@POS".
func seenItems(p GlobalPage) []string {
	out := []string{}
	for _, it := range p.Items {
		if it.Reply == nil {
			out = append(out, fmt.Sprintf("lost %s@%d", it.Lost, it.Pos))
		} else {
			out = append(out, fmt.Sprintf("%s:%d@%d", it.Reply.MSISDN, it.Reply.Seq, it.Pos))
		}
	}
	return out
}

// TestGlobalPage: the page form of GET /api/v1/events, which nodes ask of
// each other, answers the replies after a position of the node's hub, in
// position order, bounded, waiting for one if asked; only to a node.
func TestGlobalPage(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{RingSize: 2})
	api := New(Deps{Hub: hub, Cluster: &testCluster{node: "n1", owners: []string{"n1"}}})
	for _, m := range []string{"121", "122", "121", "121", "122"} { // positions 1 to 5
		hub.Device(m).Deliver(hw.Busy, "")
	}
	run := hub.Run()
	tests := []struct {
		name, query string
		want        []string
		next        uint64
		reset       bool
	}{
		{"from now", "", []string{}, 5, false},
		{"all the rings hold", "after=0", []string{"lost 121@1", "122:1@2", "121:2@3", "121:3@4", "122:2@5"}, 5, false},
		{"after a position", "after=" + run + "-3", []string{"121:3@4", "122:2@5"}, 5, false},
		{"filtered", "after=" + run + "-1&msisdn=122", []string{"122:1@2", "122:2@5"}, 5, false},
		{"filtered, none matching: on to now", "after=" + run + "-1&msisdn=129&wait=0", []string{}, 5, false},
		{"nothing new", "after=" + run + "-5&wait=0", []string{}, 5, false},
		{"another run", "after=0000abcd-4", []string{"lost 121@1", "122:1@2", "121:2@3", "121:3@4", "122:2@5"}, 5, true},
		{"ahead", "after=" + run + "-6", []string{"lost 121@1", "122:1@2", "121:2@3", "121:3@4", "122:2@5"}, 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, p := pageOf(t, api, tt.query)
			if status != http.StatusOK || p.Run != run || p.Next != tt.next || p.Reset != tt.reset ||
				!slices.Equal(seenItems(p), tt.want) {
				t.Errorf("%d %+v %v\nwant run %s, next %d, reset %v, %v", status, p, seenItems(p), run, tt.next, tt.reset, tt.want)
			}
		})
	}

	t.Run("waits for a reply", func(t *testing.T) {
		got := make(chan GlobalPage, 1)
		go func() {
			_, p := pageOf(t, api, "after="+run+"-5&wait=10")
			got <- p
		}()
		hub.Device("123").Deliver(hw.Hangup, "") // before or during the poll: it is past 5 all the same
		select {
		case p := <-got:
			if items := seenItems(p); !slices.Equal(items, []string{"123:1@6"}) || p.Next != 6 {
				t.Errorf("%v next %d, want [123:1@6] next 6", items, p.Next)
			}
		case <-time.After(eventsLimit):
			t.Fatal("no page")
		}
	})

	t.Run("bounded", func(t *testing.T) {
		big := hw.NewHub(hw.HubConfig{RingSize: 64})
		api := New(Deps{Hub: big, Cluster: &testCluster{node: "n1", owners: []string{"n1"}}})
		for i := range maxPageItems + 100 {
			big.Device(strconv.Itoa(1000+i%10)).Deliver(hw.Busy, "")
		}
		_, p := pageOf(t, api, "after=0")
		if len(p.Items) != maxPageItems || p.Next != maxPageItems {
			t.Fatalf("%d items, next %d; want %d, %d", len(p.Items), p.Next, maxPageItems, maxPageItems)
		}
		_, p = pageOf(t, api, "after="+big.Run()+"-"+strconv.FormatUint(p.Next, 10))
		if len(p.Items) != 100 || p.Items[0].Pos != maxPageItems+1 || p.Next != maxPageItems+100 {
			t.Fatalf("the rest: %d items from %d, next %d", len(p.Items), p.Items[0].Pos, p.Next)
		}
	})

	for _, tc := range []struct {
		name   string
		api    *API
		header map[string]string
		query  string
		status int
	}{
		{"a client's request", api, nil, "wait=1", http.StatusNotAcceptable},
		{"a single node", New(Deps{Hub: hub}), map[string]string{forwardedHeader: "n0"}, "wait=1", http.StatusNotAcceptable},
		{"a bad position", api, map[string]string{forwardedHeader: "n0"}, "after=12", http.StatusBadRequest},
		{"a bad wait", api, map[string]string{forwardedHeader: "n0"}, "after=0&wait=31", http.StatusBadRequest},
		{"a bad filter", api, map[string]string{forwardedHeader: "n0"}, "after=0&msisdn=x", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/events?"+tc.query, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			tc.api.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Errorf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
		})
	}
}

// inProcessCluster is three nodes in this process, each an API with a hub
// of its own, forwarding to each other's APIs; down names a node live but
// unreachable.
type inProcessCluster struct {
	hubs     map[string]*hw.Hub
	srvs     map[string]*httptest.Server
	clusters map[string]*testCluster
	apis     map[string]*API
}

func newInProcessCluster(t *testing.T, down ...string) *inProcessCluster {
	names := []string{"n1", "n2", "n3"}
	clusters := map[string]*testCluster{}
	apis := map[string]*API{}
	c := &inProcessCluster{hubs: map[string]*hw.Hub{}, srvs: map[string]*httptest.Server{}, clusters: clusters, apis: apis}
	for _, n := range names {
		c.hubs[n] = hw.NewHub(hw.HubConfig{RingSize: 16, Node: n})
		clusters[n] = &testCluster{node: n, owners: []string{"n1"}, peers: map[string]*API{}, down: down}
		apis[n] = New(Deps{Hub: c.hubs[n], Cluster: clusters[n]})
	}
	for _, n := range names {
		for _, p := range names {
			if p != n {
				clusters[n].peers[p] = apis[p]
			}
		}
		c.srvs[n] = httptest.NewServer(apis[n])
		t.Cleanup(c.srvs[n].Close)
	}
	return c
}

// stream is a client's EventSource of the global stream on node.
func (c *inProcessCluster) stream(t *testing.T, node, query, lastID string) *testutil.EventSource {
	ctx, cancel := context.WithTimeout(context.Background(), eventsLimit)
	t.Cleanup(cancel)
	srv := c.srvs[node]
	es := testutil.NewEventSource(t, ctx, srv.Client(), srv.URL+"/api/v1/events"+query, nil)
	es.LastEventID = lastID
	es.Connect()
	return es
}

// deliver makes each phone, named NODE/MSISDN, reply busy on its node.
func (c *inProcessCluster) deliver(phones ...string) {
	for _, p := range phones {
		node, m, _ := strings.Cut(p, "/")
		c.hubs[node].Device(m).Deliver(hw.Busy, "")
	}
}

// sees sets whether node sees peer as a member of the cluster, and waits
// until node's streams have looked at the members twice since: each has
// then started or stopped its relay of peer.
func (c *inProcessCluster) sees(t *testing.T, node, peer string, member bool) {
	t.Helper()
	var api *API
	if member {
		api = c.apis[peer]
	}
	tc := c.clusters[node]
	tc.setPeer(peer, api)
	looked := tc.looks.Load()
	testutil.Eventually(t, eventsLimit, node+" to look at its members", func() bool { return tc.looks.Load() >= looked+2 })
}

// read reads n events: each "MSISDN:SEQ" or "lost REASON", sorted (nodes
// relay in no order between each other), checking that every id names the
// three nodes and every reply the node of its phone (nK runs K..).
func read(t *testing.T, es *testutil.EventSource, n int) []string {
	t.Helper()
	return readOf(t, es, n, 3)
}

// readOf is read for ids that name nodes nodes.
func readOf(t *testing.T, es *testutil.EventSource, n, nodes int) []string {
	t.Helper()
	var got []string
	for range n {
		ev := es.Next()
		if c, err := parseClusterID(ev.ID); err != nil || len(c) != nodes {
			t.Fatalf("event id %q: %v, want a place on each of %d nodes", ev.ID, err, nodes)
		}
		if ev.Type == "lost" {
			var lost LostEvent
			_ = json.Unmarshal([]byte(ev.Data), &lost)
			got = append(got, "lost "+lost.Reason)
			continue
		}
		var rep hw.Reply
		if err := json.Unmarshal([]byte(ev.Data), &rep); err != nil || rep.Node != "n"+rep.MSISDN[:1] {
			t.Fatalf("event %+v: %v, want the node of its phone", ev, err)
		}
		got = append(got, fmt.Sprintf("%s:%d", rep.MSISDN, rep.Seq))
	}
	slices.Sort(got)
	return got
}

// TestClusterStreamMerges: a client streaming every phone's replies from
// one node gets those of the phones every node runs, filtered as asked,
// and, reconnecting to another node with the last id, carries on with
// what it missed on each, without a repeat.
func TestClusterStreamMerges(t *testing.T) {
	c := newInProcessCluster(t)
	es := c.stream(t, "n1", "?msisdn=101,201,301", "")
	c.deliver("n2/201", "n2/202", "n3/301", "n1/101")
	if got, want := read(t, es, 3), []string{"101:1", "201:1", "301:1"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	es.Drop()
	c.deliver("n2/201", "n2/201", "n3/301", "n1/101", "n3/302")
	again := c.stream(t, "n2", "?msisdn=101,201,301", es.LastEventID)
	if got, want := read(t, again, 4), []string{"101:2", "201:2", "201:3", "301:2"}; !slices.Equal(got, want) {
		t.Fatalf("resumed on n2: got %v, want %v", got, want)
	}
	c.deliver("n3/302", "n1/101") // not asked for, then live
	if got, want := read(t, again, 1), []string{"101:3"}; !slices.Equal(got, want) {
		t.Fatalf("live: got %v, want %v", got, want)
	}
}

// TestClusterStreamResumesRestartedNode: an id whose place on a node is
// of another run (the node restarted) gives a "lost" event, then what
// that node's rings hold, whether that node is another or the one the
// client reconnects to.
func TestClusterStreamResumesRestartedNode(t *testing.T) {
	for _, restarted := range []string{"n2", "n3"} {
		t.Run(restarted, func(t *testing.T) {
			c := newInProcessCluster(t)
			m := strings.TrimPrefix(restarted, "n") + "01"
			c.deliver(restarted+"/"+m, restarted+"/"+m)
			cur := clusterCursor{}
			for _, n := range []string{"n1", "n2", "n3"} {
				cur[n] = runPos{c.hubs[n].Run(), 0}
			}
			cur[restarted] = runPos{"0000abcd", 9} // the run before the restart
			es := c.stream(t, "n3", "", cur.id())
			if got, want := read(t, es, 3), []string{m + ":1", m + ":2", "lost unknown_run"}; !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// TestClusterStreamFollowsMembers: a stream relays a node that joins
// after it began from the first reply that node's rings hold (all it has
// is new to the client); a node that leaves is no longer polled, and,
// back, is relayed from where the stream had got to, with no repeat.
func TestClusterStreamFollowsMembers(t *testing.T) {
	c := newInProcessCluster(t)
	c.clusters["n1"].setPeer("n3", nil) // no stream to wait for yet
	es := c.stream(t, "n1", "", "")
	c.deliver("n2/201", "n3/301")
	if got, want := readOf(t, es, 1, 2), []string{"201:1"}; !slices.Equal(got, want) {
		t.Fatalf("before n3 joined: got %v, want %v", got, want)
	}
	c.sees(t, "n1", "n3", true)
	if got, want := read(t, es, 1), []string{"301:1"}; !slices.Equal(got, want) {
		t.Fatalf("n3 joined: got %v, want its reply from before", got)
	}

	c.sees(t, "n1", "n2", false)
	c.deliver("n2/201")
	c.sees(t, "n1", "n2", true)
	c.deliver("n1/101")
	if got, want := read(t, es, 2), []string{"101:1", "201:2"}; !slices.Equal(got, want) {
		t.Fatalf("n2 back: got %v, want its reply while away, once, and n1's", got)
	}
}

// TestClusterStreamOutlivesANodeDown: a node that cannot be polled does
// not stop the stream: the others' replies flow.
func TestClusterStreamOutlivesANodeDown(t *testing.T) {
	c := newInProcessCluster(t, "n4")
	es := c.stream(t, "n1", "", "")
	c.deliver("n3/301", "n2/201")
	if got, want := read(t, es, 2), []string{"201:1", "301:1"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestClusterStreamHead: a HEAD of the merged stream answers its headers
// and asks no other node (a GET polls each for its now).
func TestClusterStreamHead(t *testing.T) {
	peer := New(Deps{Hub: hw.NewHub(hw.HubConfig{Node: "n2"}), Cluster: &testCluster{node: "n2", owners: []string{"n1"}}})
	c := &testCluster{node: "n1", owners: []string{"n1"}, peers: map[string]*API{"n2": peer}}
	api := New(Deps{Hub: hw.NewHub(hw.HubConfig{Node: "n1"}), Cluster: c})
	req := httptest.NewRequest(http.MethodHead, "/api/v1/events", nil)
	req.Header.Set("Accept", eventStream)
	w := httptest.NewRecorder()
	api.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != eventStream || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q with %d bytes", w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
	if n := c.forwards.Load(); n != 0 {
		t.Errorf("HEAD asked other nodes %d times, want none", n)
	}
}

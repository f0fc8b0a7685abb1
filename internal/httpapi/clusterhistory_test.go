package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/store/storetest"
)

// historyT0 is the time the alarm history tests count seconds from.
var historyT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// startManagers runs an overload manager for each of cells (nil: a single
// node's), all on node's database st, each raising and clearing
// no_frequency in turn at the given seconds after historyT0.
func startManagers(t *testing.T, st *store.Store, node string, cells map[*int][]int) func(int) (OverloadManager, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	managers := map[int]*overload.Manager{}
	for cell, secs := range cells {
		m := overload.New(overload.Config{History: st, Cell: cell, Node: node, LogTarget: filepath.Join(t.TempDir(), "events.log")})
		exited := make(chan struct{})
		if _, err := m.Start(ctx, func(error) { close(exited) }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Stop(); <-exited }) // before the database closes
		for i, s := range secs {
			kind := []overload.Kind{overload.SetAlarm, overload.ClearAlarm}[i%2]
			e := overload.Event{Kind: kind, ID: overload.AlarmNoFrequency, Source: "test", At: historyT0.Add(time.Duration(s) * time.Second)}
			if err := m.SyncNotify(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		c := 0
		if cell != nil {
			c = *cell
		}
		managers[c] = m
	}
	return func(cell int) (OverloadManager, error) { return managers[cell], nil }
}

// historyPage is a page of GET /api/v1/alarms/history, each record shown
// as node/cell:action@seconds, with the node/seq pairs seen.
type historyPage struct {
	items   []map[string]any
	records []string
	ids     []string
	next    string
}

// getHistory GETs a page of the history and fails the test unless it is
// answered status.
func getHistory(t *testing.T, srv *httptest.Server, query url.Values, status int) historyPage {
	t.Helper()
	res, err := srv.Client().Get(srv.URL + "/api/v1/alarms/history?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != status {
		t.Fatalf("GET history?%s: %d, want %d", query.Encode(), res.StatusCode, status)
	}
	var body struct {
		Items []map[string]any `json:"items"`
		Next  string           `json:"next"`
	}
	if status != http.StatusOK {
		return historyPage{}
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET history?%s: %v", query.Encode(), err)
	}
	p := historyPage{items: body.Items, next: body.Next}
	for _, it := range body.Items {
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(it["at"]))
		if err != nil {
			t.Fatalf("item %v: %v", it, err)
		}
		p.records = append(p.records, fmt.Sprintf("%v/%v:%v@%d", it["node"], it["cell"], it["action"], at.Sub(historyT0)/time.Second))
		p.ids = append(p.ids, fmt.Sprintf("%v/%v", it["node"], it["seq"]))
	}
	return p
}

func cellP(c int) *int { return &c }

// TestClusterAlarmHistory: a node running two cells keeps their alarm
// histories in its one database. Listed without ?cell=, the cluster's
// history shows each record once, with its own cell and node, in time
// order (then cell, then seq), and pages through every cell with limit
// and after; with ?cell=N it is that cell's history, in seq order, paged
// by seq as a single node's.
func TestClusterAlarmHistory(t *testing.T) {
	// Cells 0 and 1 on n1, cell 2 on n2. Each raises and clears in turn,
	// at these seconds: a cell's times need not grow with its seqs, and
	// several cells have records at 3 s.
	owners := []string{"n1", "n1", "n2"}
	n2 := New(Deps{Cluster: &testCluster{node: "n2", owners: owners},
		Overload: startManagers(t, storetest.Open(t, filepath.Join(t.TempDir(), "n2.db")), "n2",
			map[*int][]int{cellP(2): {3, 0, 4}})})
	n1 := New(Deps{Cluster: &testCluster{node: "n1", owners: owners, peers: map[string]*API{"n2": n2}},
		Overload: startManagers(t, storetest.Open(t, filepath.Join(t.TempDir(), "n1.db")), "n1",
			map[*int][]int{cellP(0): {5, 1, 3, 3}, cellP(1): {3, 2}})})
	srv := httptest.NewServer(n1)
	t.Cleanup(srv.Close)

	want := []string{
		"n2/2:clear@0", "n1/0:clear@1", "n1/1:clear@2",
		"n1/0:set@3", "n1/0:clear@3", "n1/1:set@3", "n2/2:set@3",
		"n2/2:set@4", "n1/0:set@5",
	}
	whole := getHistory(t, srv, url.Values{}, http.StatusOK)
	if !slices.Equal(whole.records, want) || whole.next != "" {
		t.Errorf("the cluster's history:\n%v, next %q\nwant\n%v, no next", whole.records, whole.next, want)
	}
	seen := map[string]bool{}
	for _, id := range whole.ids {
		if seen[id] {
			t.Errorf("record %s listed twice", id)
		}
		seen[id] = true
	}

	for _, limit := range []int{1, 2, 4} {
		var got []string
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			p := getHistory(t, srv, q, http.StatusOK)
			if len(p.records) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(p.records))
			}
			got = append(got, p.records...)
			if p.next == "" {
				break
			}
			q.Set("after", p.next)
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d, page by page:\n%v\nwant\n%v", limit, got, want)
		}
	}

	cell0 := getHistory(t, srv, url.Values{"cell": {"0"}, "limit": {"3"}}, http.StatusOK)
	if want := []string{"n1/0:set@5", "n1/0:clear@1", "n1/0:set@3"}; !slices.Equal(cell0.records, want) || cell0.next == "" {
		t.Errorf("cell 0's first page: %v, next %q; want %v and a next", cell0.records, cell0.next, want)
	}
	cell0 = getHistory(t, srv, url.Values{"cell": {"0"}, "limit": {"3"}, "after": {cell0.next}}, http.StatusOK)
	if want := []string{"n1/0:clear@3"}; !slices.Equal(cell0.records, want) || cell0.next != "" {
		t.Errorf("cell 0's second page: %v, next %q; want %v, the last", cell0.records, cell0.next, want)
	}
	if cell2 := getHistory(t, srv, url.Values{"cell": {"2"}}, http.StatusOK); !slices.Equal(cell2.records, []string{"n2/2:set@3", "n2/2:clear@0", "n2/2:set@4"}) {
		t.Errorf("cell 2's history, from n2: %v", cell2.records)
	}
}

// TestSingleNodeAlarmHistory: a single node's history shows neither cell
// nor node, and its cursor is a seq: the cluster's cursor is not one.
func TestSingleNodeAlarmHistory(t *testing.T) {
	single := New(Deps{Overload: startManagers(t, storetest.Open(t, filepath.Join(t.TempDir(), "bsc.db")), "",
		map[*int][]int{nil: {2, 1, 3}})})
	srv := httptest.NewServer(single)
	t.Cleanup(srv.Close)
	page := getHistory(t, srv, url.Values{"limit": {"2"}}, http.StatusOK)
	for _, it := range page.items {
		if _, ok := it["cell"]; ok {
			t.Errorf("item %v shows a cell", it)
		}
		if _, ok := it["node"]; ok {
			t.Errorf("item %v shows a node", it)
		}
	}
	if len(page.items) != 2 || page.next != cursor("2") {
		t.Errorf("%d items, next %q; want 2 and the cursor of seq 2", len(page.items), page.next)
	}
	// A cluster's cursor is not a single node's.
	getHistory(t, srv, url.Values{"after": {cursor(historyStart.String())}}, http.StatusBadRequest)
}

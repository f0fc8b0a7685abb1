package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// The frequency allocator and its alarms over HTTP, black box.

const allocationsAPI = "/api/v1/frequencies/allocations"

// waitLimit bounds every wait for a lease or a restart: generous, since the
// race detector on a loaded machine is slow.
const waitLimit = 10 * time.Second

func allocate(t *testing.T, srv *httptest.Server, owner string) frequency.Allocation {
	t.Helper()
	var al frequency.Allocation
	callJSON(t, srv, http.MethodPost, allocationsAPI, map[string]string{"owner": owner}, http.StatusCreated, &al)
	if al.Owner != owner || al.Since.IsZero() {
		t.Fatalf("allocation %+v, want owner %s and a time", al, owner)
	}
	return al
}

func release(t *testing.T, srv *httptest.Server, owner string, f int) {
	t.Helper()
	callJSON(t, srv, http.MethodDelete, fmt.Sprintf("%s/%d?owner=%s", allocationsAPI, f, owner), nil, http.StatusNoContent, nil)
}

func frequencies(t *testing.T, srv *httptest.Server) frequency.View {
	t.Helper()
	var v frequency.View
	callJSON(t, srv, http.MethodGet, "/api/v1/frequencies", nil, http.StatusOK, &v)
	return v
}

// counters reads the overload manager's counters. The manager handles
// calls after the events sent before them, so it also waits for those.
func counters(t *testing.T, srv *httptest.Server) map[string]uint64 {
	t.Helper()
	var c struct{ Counters map[string]uint64 }
	callJSON(t, srv, http.MethodGet, "/api/v1/overload/counters", nil, http.StatusOK, &c)
	return c.Counters
}

type alarmJSON struct {
	ID, Severity, Source, Description string
	RaisedAt                          time.Time `json:"raised_at"`
}

func activeAlarms(t *testing.T, srv *httptest.Server) map[string]alarmJSON {
	t.Helper()
	var l struct{ Items []alarmJSON }
	callJSON(t, srv, http.MethodGet, "/api/v1/alarms", nil, http.StatusOK, &l)
	out := map[string]alarmJSON{}
	for _, al := range l.Items {
		out[al.ID] = al
	}
	return out
}

type historyJSON struct {
	Items []struct {
		Seq              int64
		ID, Action       string
		Severity, Source string
		At               time.Time
	}
	Next string
}

// alarmHistory is one alarm's raises and clears, "set" or "clear", reading
// every page of the history, limit records at a time.
func alarmHistory(t *testing.T, srv *httptest.Server, alarm string, limit int) []string {
	t.Helper()
	var actions []string
	after := ""
	for {
		var page historyJSON
		callJSON(t, srv, http.MethodGet, fmt.Sprintf("/api/v1/alarms/history?limit=%d&after=%s", limit, after), nil, http.StatusOK, &page)
		for _, rec := range page.Items {
			if rec.ID == alarm {
				actions = append(actions, rec.Action)
			}
		}
		if page.Next == "" {
			return actions
		}
		after = page.Next
	}
}

// TestFrequencyBookSessionHTTP is the book's allocator session, with its
// overload events, over HTTP.
func TestFrequencyBookSessionHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	for want := 10; want <= 15; want++ {
		if got := allocate(t, srv, "client-7").Frequency; got != want {
			t.Fatalf("allocation %d, want %d", got, want)
		}
	}
	al, on := activeAlarms(t, srv)["no_frequency"]
	if !on || al.Severity != "major" || al.Source != "frequency" || al.RaisedAt.IsZero() || al.Description == "" {
		t.Fatalf("after the last frequency: no_frequency %+v (active %v), want a major alarm from frequency", al, on)
	}
	for range 2 {
		wantProblem(t, srv, http.MethodPost, allocationsAPI, map[string]string{"owner": "client-8"}, http.StatusConflict, "no_frequency")
	}
	if n := counters(t, srv)["event:frequency_denied"]; n != 2 {
		t.Fatalf("event:frequency_denied %d, want 2", n)
	}

	release(t, srv, "client-7", 15)
	if _, on := activeAlarms(t, srv)["no_frequency"]; on {
		t.Fatal("no_frequency still active after a release")
	}
	c := counters(t, srv)
	for key, want := range map[string]uint64{"set_alarm:no_frequency": 1, "clear_alarm:no_frequency": 1, "event:frequency_denied": 2} {
		if c[key] != want {
			t.Errorf("counter %s = %d, want %d (all: %v)", key, c[key], want, c)
		}
	}
	if got := alarmHistory(t, srv, "no_frequency", 1); !slices.Equal(got, []string{"set", "clear"}) {
		t.Errorf("no_frequency history %q, want set then clear", got)
	}
	if got := allocate(t, srv, "client-9").Frequency; got != 15 {
		t.Errorf("allocation after releasing 15: %d, want 15 (last in, first out)", got)
	}

	for series, want := range map[string]string{
		`bsc_frequency_allocations_total{cell="0",result="no_frequency"}`:  "2",
		`bsc_alarm_active{alarm="no_frequency",cell="0",severity="major"}`: "1", // raised again by the last allocation
	} {
		// The alarm reaches the gauge through the overload manager's
		// mailbox, after the allocation has answered.
		testutil.Eventually(t, 5*time.Second, series+" = "+want, func() bool { return scrapeMetric(t, srv, series) == want })
	}
}

// TestFrequencyErrorsHTTP checks each refusal of the frequency routes and
// that none of them changed anything.
func TestFrequencyErrorsHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	allocate(t, srv, "alice") // 10
	before := frequencies(t, srv)
	owner := func(o string) map[string]any { return map[string]any{"owner": o} }
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"empty owner", "POST", allocationsAPI, owner(""), 400, "invalid_request"},
		{"long owner", "POST", allocationsAPI, owner(strings.Repeat("o", 129)), 400, "invalid_request"},
		{"phone owner", "POST", allocationsAPI, owner("msisdn:123"), 400, "invalid_request"},
		{"zero ttl", "POST", allocationsAPI, map[string]any{"owner": "bob", "ttl_seconds": 0}, 400, "invalid_request"},
		{"fractional ttl", "POST", allocationsAPI, map[string]any{"owner": "bob", "ttl_seconds": 1.5}, 400, "invalid_request"},
		{"unknown field", "POST", allocationsAPI, map[string]any{"owner": "bob", "frequency": 12}, 400, "invalid_request"},
		{"no body", "POST", allocationsAPI, nil, 400, "invalid_request"},
		{"other owner", "DELETE", allocationsAPI + "/10?owner=bob", nil, 403, "not_owner"},
		{"phone's allocation", "DELETE", allocationsAPI + "/10?owner=msisdn:123", nil, 403, "not_owner"},
		{"free frequency", "DELETE", allocationsAPI + "/11?owner=alice", nil, 404, "not_allocated"},
		{"not in the pool", "DELETE", allocationsAPI + "/99?owner=alice", nil, 404, "not_allocated"},
		{"no owner", "DELETE", allocationsAPI + "/10", nil, 400, "invalid_request"},
		{"not a frequency", "DELETE", allocationsAPI + "/ten?owner=alice", nil, 400, "invalid_request"},
		{"duplicate", "PUT", "/api/v1/frequencies/pool", map[string]any{"frequencies": []int{10, 11, 10}}, 400, "invalid_request"},
		{"zero", "PUT", "/api/v1/frequencies/pool", map[string]any{"frequencies": []int{0, 11}}, 400, "invalid_request"},
		{"negative", "PUT", "/api/v1/frequencies/pool", map[string]any{"frequencies": []int{-1}}, 400, "invalid_request"},
		{"empty pool", "PUT", "/api/v1/frequencies/pool", map[string]any{"frequencies": []int{}}, 400, "invalid_request"},
		{"range string", "PUT", "/api/v1/frequencies/pool", map[string]any{"frequencies": "10-15"}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, srv, tt.method, tt.path, tt.body, tt.status, tt.code)
		})
	}
	if after := frequencies(t, srv); !viewsEqual(before, after) {
		t.Errorf("refused requests changed the allocator:\nbefore %+v\nafter  %+v", before, after)
	}
}

func viewsEqual(a, b frequency.View) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestFrequencyLeaseHTTP: an expired lease is released as if deallocated.
func TestFrequencyLeaseHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	var al frequency.Allocation
	callJSON(t, srv, http.MethodPost, allocationsAPI, map[string]any{"owner": "lessee", "ttl_seconds": 1}, http.StatusCreated, &al)
	if al.ExpiresAt == nil || al.ExpiresAt.Sub(al.Since) != time.Second {
		t.Fatalf("lease %+v, want expires_at one second after since", al)
	}
	if v := frequencies(t, srv); len(v.Allocated) != 1 || v.Allocated[0].ExpiresAt == nil {
		t.Fatalf("view %+v, want the lease with its expiry", v)
	}
	testutil.Eventually(t, waitLimit, "the lease to expire", func() bool {
		v := frequencies(t, srv)
		return len(v.Allocated) == 0 && v.Free[0] == al.Frequency
	})
	wantProblem(t, srv, http.MethodDelete, fmt.Sprintf("%s/%d?owner=lessee", allocationsAPI, al.Frequency), nil,
		http.StatusNotFound, "not_allocated")
}

// TestFrequencyHotReconfigurationHTTP: a removed allocated frequency stays
// with its owner, blocked, is never handed out and goes on release; the new
// pool outlives an allocator restart.
func TestFrequencyHotReconfigurationHTTP(t *testing.T) {
	a, srv := startTestApp(t, func(c *config.Config) { c.FaultInjection = true })
	allocate(t, srv, "a") // 10
	allocate(t, srv, "a") // 11
	pool := []int{11, 12, 13, 20}
	var v frequency.View
	callJSON(t, srv, http.MethodPut, "/api/v1/frequencies/pool", map[string]any{"frequencies": pool}, http.StatusOK, &v)
	if !slices.Equal(v.Pool, pool) || !slices.Equal(v.Blocked, []int{10}) || !slices.Equal(v.Free, []int{12, 13, 20}) {
		t.Fatalf("view after the reload %+v, want pool %v, blocked [10], free [12 13 20]", v, pool)
	}
	if owners := ownersOf(v); owners[10] != "a" || owners[11] != "a" {
		t.Fatalf("allocations after the reload %v, want 10 and 11 still with a", owners)
	}
	for _, want := range []int{12, 13, 20} {
		if got := allocate(t, srv, "b").Frequency; got != want {
			t.Fatalf("allocation %d, want %d", got, want)
		}
	}
	wantProblem(t, srv, http.MethodPost, allocationsAPI, map[string]string{"owner": "b"}, http.StatusConflict, "no_frequency")

	release(t, srv, "a", 10)
	v = frequencies(t, srv)
	if _, held := ownersOf(v)[10]; held || len(v.Blocked) != 0 || slices.Contains(v.Free, 10) {
		t.Fatalf("view after releasing blocked 10: %+v, want 10 gone", v)
	}
	wantProblem(t, srv, http.MethodPost, allocationsAPI, map[string]string{"owner": "b"}, http.StatusConflict, "no_frequency")

	started := processInfo(t, srv, "frequency").StartedAt
	callJSON(t, srv, http.MethodPost, "/api/v1/processes/frequency:crash", nil, http.StatusAccepted, nil)
	testutil.Eventually(t, waitLimit, "the allocator to restart", func() bool {
		return processInfo(t, srv, "frequency").StartedAt.After(started)
	})
	if v := frequencies(t, srv); !slices.Equal(v.Pool, pool) || !slices.Equal(v.Free, pool) {
		t.Errorf("restarted allocator %+v, want the reloaded pool %v all free", v, pool)
	}

	// A reload of --frequencies replaces the pool set through the API, for
	// the restarts too.
	reloaded := []int{30, 31}
	if err := a.SetPool(reloaded); err != nil {
		t.Fatal(err)
	}
	started = processInfo(t, srv, "frequency").StartedAt
	callJSON(t, srv, http.MethodPost, "/api/v1/processes/frequency:crash", nil, http.StatusAccepted, nil)
	testutil.Eventually(t, waitLimit, "the allocator to restart", func() bool {
		return processInfo(t, srv, "frequency").StartedAt.After(started)
	})
	if v := frequencies(t, srv); !slices.Equal(v.Pool, reloaded) {
		t.Errorf("restarted allocator after a reload %+v, want the reloaded pool %v", v, reloaded)
	}
}

func ownersOf(v frequency.View) map[int]string {
	out := map[int]string{}
	for _, al := range v.Allocated {
		out[al.Frequency] = al.Owner
	}
	return out
}

// TestRestartingHTTP: with no incarnation of a process (before the tree
// started, or between a crash and the restart), its routes are 503.
func TestRestartingHTTP(t *testing.T) {
	srv := serveTestApp(t, newTestApp(t, nil))
	for _, path := range []string{"/api/v1/frequencies", "/api/v1/alarms", "/api/v1/overload/counters",
		"/api/v1/processes/overload", "/api/v1/processes/frequency", "/api/v1/processes/phones"} {
		wantProblem(t, srv, http.MethodGet, path, nil, http.StatusServiceUnavailable, "unavailable")
	}
}

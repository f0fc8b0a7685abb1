package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// The call detail records over HTTP, black box.

const callsAPI = "/api/v1/calls"

type callRecord struct {
	ID         int64      `json:"id"`
	Caller     string     `json:"caller"`
	Callee     string     `json:"callee"`
	Frequency  *int       `json:"frequency"`
	Outcome    string     `json:"outcome"`
	EndedBy    string     `json:"ended_by"`
	SetupAt    time.Time  `json:"setup_at"`
	AnsweredAt *time.Time `json:"answered_at"`
	EndedAt    time.Time  `json:"ended_at"`
}

// listCalls reads every page of GET /api/v1/calls?query, limit at a time.
func listCalls(t *testing.T, srv *httptest.Server, query string, limit int) []callRecord {
	t.Helper()
	return listAll[callRecord](t, srv, callsAPI, query, limit)
}

// waitCalls waits until GET /api/v1/calls?query lists n records (the
// writer batches them behind the phones' backs) and returns them.
func waitCalls(t *testing.T, srv *httptest.Server, query string, n int) []callRecord {
	t.Helper()
	var recs []callRecord
	testutil.Eventually(t, waitLimit, fmt.Sprintf("%d call records", n), func() bool {
		recs = listCalls(t, srv, query, 100)
		return len(recs) >= n
	})
	if len(recs) != n {
		t.Fatalf("%d call records %+v, want %d", len(recs), recs, n)
	}
	return recs
}

// byOutcome groups records by outcome, in id order.
func byOutcome(recs []callRecord) map[string][]callRecord {
	out := map[string][]callRecord{}
	for _, r := range recs {
		out[r.Outcome] = append(out[r.Outcome], r)
	}
	return out
}

func ids(recs []callRecord) []int64 {
	out := []int64{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestCallsHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	d123, d124 := connect(t, srv, "123", "124")
	act(t, srv, "124", hangup) // answered, ended by the callee
	d123.expect(t, "hangup")
	attach(t, srv, "125")
	d125 := newHandset(srv, "125")
	act(t, srv, "125", dial("123")) // rejected
	d123.expect(t, "inbound:125")
	act(t, srv, "123", reject)
	d125.expect(t, "rejected")
	waitState(t, srv, "124", "idle", "")
	act(t, srv, "124", dial("125")) // cancelled: the caller gives up
	act(t, srv, "124", hangup)
	d124.quiet(t)

	// The calls ended one after another: their records are in that order.
	all := waitCalls(t, srv, "", 3)
	answered, rejected, cancelled := all[0], all[1], all[2]
	for _, c := range []struct {
		rec                            callRecord
		caller, callee, outcome, ended string
	}{
		{answered, "123", "124", "answered", "callee"},
		{rejected, "125", "123", "rejected", "callee"},
		{cancelled, "124", "125", "cancelled", "caller"},
	} {
		r := c.rec
		if r.Caller != c.caller || r.Callee != c.callee || r.Outcome != c.outcome || r.EndedBy != c.ended ||
			r.SetupAt.IsZero() || r.EndedAt.Before(r.SetupAt) || (r.AnsweredAt != nil) != (c.outcome == "answered") ||
			(r.Frequency != nil) != (c.outcome == "answered") {
			t.Errorf("record %+v, want %s→%s %s, ended by the %s", r, c.caller, c.callee, c.outcome, c.ended)
		}
	}
	if !slices.IsSorted(ids(all)) {
		t.Errorf("records out of id order: %v", ids(all))
	}

	since := url.QueryEscape(rejected.SetupAt.Format(time.RFC3339Nano))
	for query, want := range map[string][]callRecord{
		"msisdn=125":                  {rejected, cancelled},
		"msisdn=123":                  {answered, rejected},
		"outcome=answered":            {answered},
		"outcome=cancelled":           {cancelled},
		"outcome=dropped":             {},
		"msisdn=124&outcome=answered": {answered},
		"since=" + since:              {rejected, cancelled},
		"since=2262-01-01T00:00:00Z":  {},
		"since=2999-01-01T00:00:00Z":  {}, // beyond Unix nanoseconds: must not wrap around
	} {
		for _, limit := range []int{1, 2, 1000} {
			if got := listCalls(t, srv, query, limit); !slices.Equal(ids(got), ids(want)) {
				t.Errorf("calls?%s by %d: %v, want %v", query, limit, ids(got), ids(want))
			}
		}
	}

	var one callRecord
	callJSON(t, srv, http.MethodGet, fmt.Sprintf("%s/%d", callsAPI, answered.ID), nil, http.StatusOK, &one)
	if one.ID != answered.ID || one.Outcome != "answered" || !one.SetupAt.Equal(answered.SetupAt) {
		t.Errorf("GET record %d: %+v, want %+v", answered.ID, one, answered)
	}
	for _, tt := range []struct {
		path   string
		status int
		code   string
	}{
		{callsAPI + "/999999", 404, "not_found"},
		{callsAPI + "/abc", 404, "not_found"},
		{callsAPI + "/0", 404, "not_found"},
		{callsAPI + "?outcome=lost", 400, "invalid_request"},
		{callsAPI + "?since=yesterday", 400, "invalid_request"},
		{callsAPI + "?msisdn=12a", 400, "invalid_msisdn"},
		{callsAPI + "?after=eHl6", 400, "invalid_request"}, // "xyz"
		{callsAPI + "?limit=1001", 400, "invalid_request"},
	} {
		wantProblem(t, srv, http.MethodGet, tt.path, nil, tt.status, tt.code)
	}
}

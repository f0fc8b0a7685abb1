package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// The HLR's subscribers over HTTP, black box.

const (
	subscribersAPI = "/api/v1/subscribers"
	bulkAPI        = "/api/v1/subscribers:bulk"
)

type subscriberJSON struct {
	MSISDN       string     `json:"msisdn"`
	IMSI         *string    `json:"imsi"`
	Attached     bool       `json:"attached"`
	CreatedAt    time.Time  `json:"created_at"`
	LastAttachAt *time.Time `json:"last_attach_at"`
}

func subscriberOf(t *testing.T, srv *httptest.Server, m string) subscriberJSON {
	t.Helper()
	var s subscriberJSON
	callJSON(t, srv, http.MethodGet, subscribersAPI+"/"+m, nil, http.StatusOK, &s)
	return s
}

// listSubscribers reads every page, limit at a time.
func listSubscribers(t *testing.T, srv *httptest.Server, limit int) []string {
	t.Helper()
	out := []string{}
	for _, s := range listAll[subscriberJSON](t, srv, subscribersAPI, "", limit) {
		out = append(out, s.MSISDN)
	}
	return out
}

func TestSubscribersHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	const imsi = "001010000000123"
	var created subscriberJSON
	callJSON(t, srv, http.MethodPost, subscribersAPI, map[string]string{"msisdn": "123", "imsi": imsi}, http.StatusCreated, &created)
	if created.MSISDN != "123" || created.IMSI == nil || *created.IMSI != imsi || created.Attached ||
		created.CreatedAt.IsZero() || created.LastAttachAt != nil {
		t.Fatalf("created %+v, want 123 with its IMSI, never attached", created)
	}
	if got := subscriberOf(t, srv, "123"); got.MSISDN != "123" || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("read back %+v, want %+v", got, created)
	}
	for _, m := range []string{"125", "124"} {
		callJSON(t, srv, http.MethodPost, subscribersAPI, map[string]string{"msisdn": m}, http.StatusCreated, nil)
	}
	if s := subscriberOf(t, srv, "124"); s.IMSI != nil {
		t.Errorf("subscriber without an IMSI: %+v, want imsi null", s)
	}

	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"exists", "POST", subscribersAPI, map[string]string{"msisdn": "123"}, 409, "already_exists"},
		{"IMSI taken", "POST", subscribersAPI, map[string]string{"msisdn": "126", "imsi": imsi}, 409, "already_exists"},
		{"malformed msisdn", "POST", subscribersAPI, map[string]string{"msisdn": "12a"}, 400, "invalid_msisdn"},
		{"no msisdn", "POST", subscribersAPI, map[string]string{"imsi": "001010000000126"}, 400, "invalid_msisdn"},
		{"numeric msisdn", "POST", subscribersAPI, map[string]int{"msisdn": 126}, 400, "invalid_request"},
		{"short IMSI", "POST", subscribersAPI, map[string]string{"msisdn": "126", "imsi": "12"}, 400, "invalid_request"},
		{"empty IMSI", "POST", subscribersAPI, map[string]string{"msisdn": "126", "imsi": ""}, 400, "invalid_request"},
		{"unknown field", "POST", subscribersAPI, map[string]string{"msisdn": "126", "name": "Joe"}, 400, "invalid_request"},
		{"unknown", "GET", subscribersAPI + "/999", nil, 404, "unknown_subscriber"},
		{"malformed in path", "GET", subscribersAPI + "/12a", nil, 400, "invalid_msisdn"},
		{"delete unknown", "DELETE", subscribersAPI + "/999", nil, 404, "unknown_subscriber"},
		{"delete malformed", "DELETE", subscribersAPI + "/0x7b", nil, 400, "invalid_msisdn"},
		{"foreign cursor", "GET", subscribersAPI + "?after=eA", nil, 400, "invalid_request"}, // "x"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, srv, tt.method, tt.path, tt.body, tt.status, tt.code)
		})
	}
	for _, limit := range []int{1, 2, 1000} {
		if got := listSubscribers(t, srv, limit); !slices.Equal(got, []string{"123", "124", "125"}) {
			t.Errorf("subscribers by %d: %v, want 123 124 125", limit, got)
		}
	}

	// An attached subscriber stays until its phone detaches.
	attach(t, srv, "124")
	if s := subscriberOf(t, srv, "124"); !s.Attached || s.LastAttachAt == nil {
		t.Errorf("attached subscriber %+v, want attached with a last attach time", s)
	}
	wantProblem(t, srv, http.MethodDelete, subscribersAPI+"/124", nil, http.StatusConflict, "attached")
	callJSON(t, srv, http.MethodDelete, phonesAPI+"/124", nil, http.StatusNoContent, nil)
	if s := subscriberOf(t, srv, "124"); s.Attached {
		t.Errorf("detached subscriber %+v, want attached false", s)
	}
	callJSON(t, srv, http.MethodDelete, subscribersAPI+"/124", nil, http.StatusNoContent, nil)
	wantProblem(t, srv, http.MethodGet, subscribersAPI+"/124", nil, http.StatusNotFound, "unknown_subscriber")
	wantProblem(t, srv, http.MethodDelete, subscribersAPI+"/124", nil, http.StatusNotFound, "unknown_subscriber")
}

type bulkItem struct {
	MSISDN string `json:"msisdn"`
	IMSI   string `json:"imsi,omitempty"`
}

func bulk(items ...bulkItem) map[string][]bulkItem {
	return map[string][]bulkItem{"items": append([]bulkItem{}, items...)}
}

// bulkCounts posts a bulk request that must succeed.
func bulkCounts(t *testing.T, srv *httptest.Server, body any) (created, existing int) {
	t.Helper()
	var res struct{ Created, Existing int }
	callJSON(t, srv, http.MethodPost, bulkAPI, body, http.StatusOK, &res)
	return res.Created, res.Existing
}

func TestSubscribersBulkHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	if c, e := bulkCounts(t, srv, bulk(bulkItem{"200", ""}, bulkItem{"201", "001010000000201"})); c != 2 || e != 0 {
		t.Fatalf("first bulk: created %d, existing %d; want 2, 0", c, e)
	}
	if c, e := bulkCounts(t, srv, bulk(bulkItem{"201", ""}, bulkItem{"202", ""})); c != 1 || e != 1 {
		t.Fatalf("second bulk: created %d, existing %d; want 1, 1", c, e)
	}
	if c, e := bulkCounts(t, srv, bulk()); c != 0 || e != 0 {
		t.Fatalf("empty bulk: created %d, existing %d", c, e)
	}

	// All or nothing: a bad item refuses the request, with its index.
	tests := []struct {
		name  string
		body  any
		code  string
		index int // -1: the request as a whole
	}{
		{"malformed msisdn", bulk(bulkItem{"300", ""}, bulkItem{"301", ""}, bulkItem{"3x2", ""}), "invalid_msisdn", 2},
		{"empty msisdn", bulk(bulkItem{"300", ""}, bulkItem{"", ""}), "invalid_msisdn", 1},
		{"repeated msisdn", bulk(bulkItem{"300", ""}, bulkItem{"300", ""}), "invalid_request", 1},
		{"bad IMSI", bulk(bulkItem{"300", "1"}, bulkItem{"301", ""}), "invalid_request", 0},
		{"IMSI of another", bulk(bulkItem{"300", ""}, bulkItem{"301", "001010000000201"}), "invalid_request", 1},
		{"no items", map[string]any{}, "invalid_request", -1},
		{"unknown item field", map[string]any{"items": []map[string]string{{"msisdn": "300"}, {"msisdn": "301", "name": "x"}}}, "invalid_request", 1},
		{"item field of the wrong type", map[string]any{"items": []map[string]any{{"msisdn": "300"}, {"msisdn": 301}}}, "invalid_request", 1},
		{"item not an object", map[string]any{"items": []any{map[string]string{"msisdn": "300"}, "301"}}, "invalid_request", 1},
		{"empty IMSI", map[string]any{"items": []map[string]string{{"msisdn": "300", "imsi": ""}}}, "invalid_request", 0},
		{"items not a list", map[string]any{"items": "300"}, "invalid_request", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p struct {
				Code   string
				Detail string
				Index  *int
			}
			callJSON(t, srv, http.MethodPost, bulkAPI, tt.body, http.StatusBadRequest, &p)
			switch {
			case p.Code != tt.code:
				t.Errorf("code %s, want %s", p.Code, tt.code)
			case tt.index < 0 && p.Index != nil:
				t.Errorf("index %d on a problem with the whole request", *p.Index)
			case tt.index >= 0 && (p.Index == nil || *p.Index != tt.index || !strings.Contains(p.Detail, fmt.Sprintf("item %d", tt.index))):
				t.Errorf("problem %+v, want index %d, also in the detail", p, tt.index)
			}
		})
	}
	if got := listSubscribers(t, srv, 1000); !slices.Equal(got, []string{"200", "201", "202"}) {
		t.Fatalf("subscribers after the refused bulks: %v, want 200 201 202 only", got)
	}

	// Up to 100 000 items, well over the default body limit; one more is refused.
	items := make([]bulkItem, 100_001)
	for i := range items {
		items[i] = bulkItem{MSISDN: fmt.Sprint(1_000_000 + i)}
	}
	wantProblem(t, srv, http.MethodPost, bulkAPI, bulk(items...), http.StatusBadRequest, "invalid_request")
	if c, e := bulkCounts(t, srv, bulk(items[:100_000]...)); c != 100_000 || e != 0 {
		t.Fatalf("bulk of 100 000: created %d, existing %d", c, e)
	}
	wantProblem(t, srv, http.MethodPost, bulkAPI, map[string]any{"items": []bulkItem{}, "pad": strings.Repeat("x", 16<<20)},
		http.StatusRequestEntityTooLarge, "too_large")
}

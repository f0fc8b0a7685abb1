package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/httpapi"
)

// msisdn is s, digits.
func msisdn(s string) hlr.MSISDN {
	m, err := hlr.ParseMSISDN(s)
	if err != nil {
		panic(err)
	}
	return m
}

// callStore holds records by id and, like the database, reads at most scan
// ids per List with a number to look for.
type callStore struct {
	recs []calls.Record
	scan int64
}

func (s *callStore) List(_ context.Context, f calls.Filter, after int64, limit int) ([]calls.Record, error) {
	limit = min(limit, httpapi.MaxLimit)
	out := []calls.Record{}
	for _, r := range s.recs {
		switch {
		case r.ID <= after:
			continue
		case f.MSISDN != "" && r.ID > after+s.scan:
			return out, &calls.ScanLimitError{After: after + s.scan}
		case f.MSISDN == "" || r.Caller.String() == f.MSISDN || r.Callee.String() == f.MSISDN:
			if out = append(out, r); len(out) == limit {
				return out, nil
			}
		}
	}
	return out, nil
}

func (s *callStore) Get(_ context.Context, id int64) (calls.Record, error) {
	for _, r := range s.recs {
		if r.ID == id {
			return r, nil
		}
	}
	return calls.Record{}, fmt.Errorf("%w: %d", calls.ErrNotFound, id)
}

// newCallStore has records 1 to n, those in mine between 123 and 124,
// the others between 1000 and 2000.
func newCallStore(n int, scan int64, mine ...int64) *callStore {
	s := &callStore{scan: scan}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for id := int64(1); id <= int64(n); id++ {
		r := calls.Record{ID: id, Caller: msisdn("1000"), Callee: msisdn("2000"), Outcome: calls.Rejected, EndedBy: "callee",
			SetupAt: at, EndedAt: at}
		if slices.Contains(mine, id) {
			r.Caller, r.Callee = msisdn("123"), msisdn("124")
		}
		s.recs = append(s.recs, r)
	}
	return s
}

// TestListCallsCutShort walks GET /api/v1/calls?msisdn= through a store
// that stops reading after a few records: short, even empty, pages come
// with a next, and the pages put together are every call of the number.
func TestListCallsCutShort(t *testing.T) {
	full := make([]int64, httpapi.MaxLimit) // a page of MaxLimit, then a cut
	for i := range full {
		full[i] = int64(i + 1)
	}
	tests := []struct {
		name  string
		store *callStore
		limit int
		want  []int64
		short int // pages short of limit with a next, at least
	}{
		{"sparse", newCallStore(120, 20, 3, 50, 51, 110, 111, 112, 113), 2, []int64{3, 50, 51, 110, 111, 112, 113}, 4},
		{"sparse, big pages", newCallStore(120, 20, 3, 50, 51, 110), 100, []int64{3, 50, 51, 110}, 4},
		{"none", newCallStore(50, 20), 10, nil, 2},
		// The read of one more record after the page is cut: the full page
		// has a next all the same.
		{"cut after a full page", newCallStore(2500, 1005, append(full, 2400)...), httpapi.MaxLimit, append(full, 2400), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := httpapi.New(httpapi.Deps{Calls: tt.store})
			var got []int64
			short := 0
			for query := "msisdn=123"; ; {
				var page httpapi.List[httpapi.Call]
				decodeJSON(t, do(t, h, request{path: fmt.Sprintf("/api/v1/calls?limit=%d&%s", tt.limit, query)}), 200, &page)
				if len(page.Items) > tt.limit {
					t.Fatalf("a page of %d, limit %d", len(page.Items), tt.limit)
				}
				for _, c := range page.Items {
					got = append(got, c.ID)
				}
				if page.Next == "" {
					break
				}
				if len(page.Items) < tt.limit {
					short++
				}
				if short > len(tt.store.recs) {
					t.Fatal("the list does not end")
				}
				query = "msisdn=123&after=" + page.Next
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
			if short < tt.short {
				t.Errorf("%d short pages with a next, want %d or more", short, tt.short)
			}
		})
	}
}

// TestGetCall: a call id is a positive integer, and anything else names no
// record: 404 not_found like an unknown id (api.md lists no other error).
func TestGetCall(t *testing.T) {
	h := httpapi.New(httpapi.Deps{Calls: newCallStore(5, 20)})
	var c httpapi.Call
	decodeJSON(t, do(t, h, request{path: "/api/v1/calls/5"}), 200, &c)
	if c.ID != 5 || c.Caller.String() != "1000" || c.Outcome != calls.Rejected {
		t.Errorf("call %+v", c)
	}
	for _, id := range []string{"6", "abc", "0", "-1", "1.5", "99999999999999999999"} {
		problemOf(t, do(t, h, request{path: "/api/v1/calls/" + id}), http.StatusNotFound, "not_found")
	}
}

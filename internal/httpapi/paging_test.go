package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/httpapi"
)

func TestParsePage(t *testing.T) {
	tests := []struct {
		query string
		want  httpapi.Page
		bad   bool
	}{
		{"", httpapi.Page{Limit: 100}, false},
		{"limit=1", httpapi.Page{Limit: 1}, false},
		{"limit=1000", httpapi.Page{Limit: 1000}, false},
		{"limit=1001", httpapi.Page{}, true},
		{"limit=0", httpapi.Page{}, true},
		{"limit=-5", httpapi.Page{}, true},
		{"limit=ten", httpapi.Page{}, true},
		{"after=MTIz", httpapi.Page{Limit: 100, After: "123"}, false},
		{"after=MTIz&limit=5", httpapi.Page{Limit: 5, After: "123"}, false},
		{"after=not*base64", httpapi.Page{}, true},
		{"after=MTIz%3D", httpapi.Page{}, true}, // padded: not ours
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := httpapi.ParsePage(httptest.NewRequest("GET", "/x?"+tt.query, nil))
			if tt.bad {
				if errcode.Of(err) != errcode.InvalidRequest {
					t.Errorf("err %v, want invalid_request", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParsePage = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestPagingWalk pages through a sorted list as a store would: asking for
// limit+1 items after the cursor each time.
func TestPagingWalk(t *testing.T) {
	all := []string{"1", "12", "123", "2", "3", "4", "5"}
	after := func(key string, n int) []string {
		var out []string
		for _, k := range all {
			if k > key && len(out) < n {
				out = append(out, k)
			}
		}
		return out
	}
	var seen []string
	query := "limit=3"
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatal("paging does not end")
		}
		p, err := httpapi.ParsePage(httptest.NewRequest("GET", "/x?"+query, nil))
		if err != nil {
			t.Fatal(err)
		}
		list := httpapi.NewList(after(p.After, p.Limit+1), p, func(s string) string { return s })
		b, _ := json.Marshal(list)
		if list.Next == "" && strings.Contains(string(b), "next") {
			t.Errorf("last page %s: want next omitted", b)
		}
		seen = append(seen, list.Items...)
		if list.Next == "" {
			break
		}
		query = "limit=3&after=" + list.Next
	}
	if strings.Join(seen, ",") != strings.Join(all, ",") {
		t.Errorf("walked %v, want %v", seen, all)
	}
}

func TestEmptyListIsArray(t *testing.T) {
	b, _ := json.Marshal(httpapi.NewList[int](nil, httpapi.Page{Limit: 10}, nil))
	if string(b) != `{"items":[]}` {
		t.Errorf("empty list %s", b)
	}
}

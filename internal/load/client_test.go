package load

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// refusingServer answers the first refusals requests with status and
// Retry-After retryAfter (none if ""), then 200; it counts the requests.
func refusingServer(t *testing.T, refusals int, status int, retryAfter string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got.Add(1) <= int64(refusals) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			problem(w, status, "overloaded")
			return
		}
		writeJSON(w, 200, map[string]string{"msisdn": "1"})
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func testClient(target string, retries int) *client {
	cfg := testConfig(target)
	cfg.Retries = retries
	return newClient(cfg, newStats(), &wire{}, func(error) {})
}

// A request refused for now (503, 429) is sent again after a back-off that
// honours Retry-After, at most --retries times; the retries and the
// requests given up on are counted, and the latency runs from the first
// sending to the last answer.
func TestClientRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		refusals   int
		status     int
		retryAfter string
		retries    int
		wantStatus int
		sent       int64
		retried    map[int]int64
		gaveUp     int64
		floor      time.Duration // waited at least, in all
	}{
		{"not refused", 0, 503, "1", 3, 200, 1, map[int]int64{}, 0, 0},
		{"503 twice, Retry-After 1 s", 2, 503, "1", 3, 200, 3, map[int]int64{503: 2}, 0, 2 * time.Second},
		{"429 twice, no Retry-After", 2, 429, "", 3, 200, 3, map[int]int64{429: 2}, 0, 0},
		{"Retry-After as an HTTP date in the past", 1, 503, "Mon, 02 Jan 2006 15:04:05 GMT", 3, 200, 2, map[int]int64{503: 1}, 0, 0},
		{"refused beyond the retries: given up", 5, 503, "0", 3, 503, 4, map[int]int64{503: 3}, 1, 0},
		{"no retries", 5, 503, "0", 0, 503, 1, map[int]int64{}, 1, 0},
		{"asked to wait beyond the cap: given up at once", 5, 503, fmt.Sprint(int(retryCap/time.Second) + 1), 3, 503, 1, map[int]int64{}, 1, 0},
		{"other errors are not retried", 5, 500, "1", 3, 500, 1, map[int]int64{}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, got := refusingServer(t, tc.refusals, tc.status, tc.retryAfter)
			c := testClient(srv.URL, tc.retries)
			a := c.act(context.Background(), c.targets[0], opCall, time.Now(), http.MethodPost, "/x", actionBody{Action: "call"})
			if a.status != tc.wantStatus || got.Load() != tc.sent || c.targets[0].sent.Load() != tc.sent {
				t.Fatalf("answer %d after %d requests (client counted %d), want %d after %d",
					a.status, got.Load(), c.targets[0].sent.Load(), tc.wantStatus, tc.sent)
			}
			st := c.stats
			st.mu.Lock()
			defer st.mu.Unlock()
			if !maps.Equal(st.retries, tc.retried) || st.gaveUp != tc.gaveUp {
				t.Errorf("retries %v, gave up %d; want %v and %d", st.retries, st.gaveUp, tc.retried, tc.gaveUp)
			}
			if st.count[opCall] != 1 || st.statuses[tc.wantStatus] != 1 {
				t.Errorf("%d calls recorded, statuses %v: want the operation once, with its last answer", st.count[opCall], st.statuses)
			}
			if a.took < tc.floor {
				t.Errorf("took %v, less than the %v the refusals asked to wait", a.took, tc.floor)
			}
		})
	}
}

// A back-off ends with the request's context: the request is abandoned,
// not sent again, and not recorded.
func TestClientRetryCancelled(t *testing.T) {
	srv, got := refusingServer(t, 100, 503, "1")
	c := testClient(srv.URL, 3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan answer, 1)
	go func() { done <- c.act(ctx, c.targets[0], opCall, time.Now(), http.MethodPost, "/x", nil) }()
	testutil.Eventually(t, 10*time.Second, "the first request refused", func() bool { return got.Load() > 0 })
	cancel() // during the request or its back-off of a second at least
	select {
	case a := <-done:
		if a.code != codeAbandoned || got.Load() != 1 {
			t.Errorf("answer %+v after %d requests, want abandoned after 1", a, got.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the back-off did not end with its context")
	}
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	if c.stats.count[opCall] != 0 || c.stats.gaveUp != 0 {
		t.Errorf("recorded %d calls, %d given up: an abandoned request counts as neither", c.stats.count[opCall], c.stats.gaveUp)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"120", 2 * time.Minute},
		{"Fri, 02 Jan 2026 15:04:07 GMT", 2 * time.Second},
		{"Fri, 02 Jan 2026 15:04:00 GMT", 0}, // past
		{"-1", 0},
		{"soon", 0},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// The global stream resumed the way a browser's EventSource resumes it:
// the client reconnects with the id of the last event it got in
// Last-Event-ID.

// eventSource is an EventSource on path of srv, ended with the test.
func eventSource(t *testing.T, srv *httptest.Server, path string) *testutil.EventSource {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamLimit)
	t.Cleanup(cancel)
	return testutil.NewEventSource(t, ctx, srv.Client(), srv.URL+path, nil)
}

// seen is what a client makes of an event: "MSISDN:SEQ" for a reply,
// "lost REASON PHONES" for a loss.
func seen(t *testing.T, ev testutil.Event) string {
	t.Helper()
	if ev.Type == "lost" {
		var lost httpapi.LostEvent
		if err := json.Unmarshal([]byte(ev.Data), &lost); err != nil || lost.Phones == nil {
			t.Fatalf("lost event %+v: %v (phones must be a list)", ev, err)
		}
		return "lost " + lost.Reason + " " + strings.Join(lost.Phones, ",")
	}
	var rep hw.Reply
	if err := json.Unmarshal([]byte(ev.Data), &rep); err != nil || rep.Type.String() != ev.Type {
		t.Fatalf("event %+v: %v", ev, err)
	}
	return rep.MSISDN + ":" + strconv.FormatUint(rep.Seq, 10)
}

// position is the position an event id of the hub's run gives.
func position(t *testing.T, hub *hw.Hub, id string) uint64 {
	t.Helper()
	run, pos, ok := strings.Cut(id, "-")
	n, err := strconv.ParseUint(pos, 10, 64)
	if !ok || run != hub.Run() || err != nil {
		t.Fatalf("event id %q, want %s-POSITION", id, hub.Run())
	}
	return n
}

// TestGlobalStreamResumesWithinTheRings: a client that drops and
// reconnects with Last-Event-ID gets every reply it missed, once, in order,
// while the rings hold them.
func TestGlobalStreamResumesWithinTheRings(t *testing.T) {
	tests := []struct {
		name, query string
		phones      []string // that reply, in turn
		followed    []string // the stream's
	}{
		{"every phone", "", []string{"121", "122", "123"}, []string{"121", "122", "123"}},
		{"filtered", "?msisdn=121,123", []string{"121", "122", "123"}, []string{"121", "123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := hw.NewHub(hw.HubConfig{RingSize: 16})
			srv := httptest.NewServer(httpapi.New(httpapi.Deps{Hub: hub}))
			t.Cleanup(srv.Close) // after the event source's cleanup, which ends it
			es := eventSource(t, srv, "/api/v1/events"+tt.query)
			es.Connect()

			var want []string
			seqs := map[string]int{}
			deliver := func(n int) {
				for i := range n {
					m := tt.phones[i%len(tt.phones)]
					hub.Device(m).Deliver(hw.Busy, "")
					seqs[m]++
					if slices.Contains(tt.followed, m) {
						want = append(want, m+":"+strconv.Itoa(seqs[m]))
					}
				}
			}
			var got []string
			var last uint64
			read := func(n int) {
				for range n {
					ev := es.Next()
					got = append(got, seen(t, ev))
					if pos := position(t, hub, ev.ID); pos <= last {
						t.Fatalf("event id %s after position %d: ids must grow", ev.ID, last)
					} else {
						last = pos
					}
				}
			}
			deliver(12)
			read(3)
			es.Drop()                  // the connection breaks...
			deliver(12)                // ...the phones go on replying...
			read(len(want) - len(got)) // ...and the client comes back
			if !slices.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
			if es.Reconnects != 1 {
				t.Errorf("%d reconnections, want 1", es.Reconnects)
			}
			deliver(len(tt.phones)) // and then follows live
			read(len(tt.followed))
			if !slices.Equal(got, want) {
				t.Errorf("live: got %v, want %v", got[len(got)-len(tt.followed):], want[len(want)-len(tt.followed):])
			}
		})
	}
}

// TestGlobalStreamTellsLosses: past what a ring holds, the stream says
// which phones lost replies, with an event of its own whose id moves the
// client past the loss, and goes on with what is left.
func TestGlobalStreamTellsLosses(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{RingSize: 4})
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Hub: hub}))
	t.Cleanup(srv.Close)
	a, b := hub.Device("121"), hub.Device("122")
	es := eventSource(t, srv, "/api/v1/events")
	es.Connect()
	a.Deliver(hw.Busy, "") // position 1
	a.Deliver(hw.Busy, "") // 2
	for _, want := range []string{"121:1", "121:2"} {
		if got := seen(t, es.Next()); got != want {
			t.Fatalf("event %s, want %s", got, want)
		}
	}
	es.Drop()
	for range 6 {
		a.Deliver(hw.Busy, "") // 3 to 8: 121's ring keeps 5 to 8 (seq and position)
	}
	b.Deliver(hw.Busy, "") // 9

	lost := es.Next()
	if got := seen(t, lost); got != "lost dropped 121" || position(t, hub, lost.ID) != 4 {
		t.Fatalf("after the reconnection %s with id %s, want 121's loss at position 4 (121:4's)", got, lost.ID)
	}
	es.Drop() // a client that got the loss does not hear of it again
	var got []string
	for range 5 {
		got = append(got, seen(t, es.Next()))
	}
	if want := []string{"121:5", "121:6", "121:7", "121:8", "122:1"}; !slices.Equal(got, want) {
		t.Errorf("after the loss %v, want %v", got, want)
	}
	if es.Reconnects != 2 {
		t.Errorf("%d reconnections, want 2", es.Reconnects)
	}
}

func TestGlobalStreamResumeFrom(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{RingSize: 4})
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Hub: hub}))
	t.Cleanup(srv.Close)
	hub.Device("121").Deliver(hw.Busy, "") // 1
	hub.Device("122").Deliver(hw.Busy, "") // 2
	hub.Device("121").Deliver(hw.Busy, "") // 3
	run, other := hub.Run(), "ffffffff"
	if run == other {
		other = "00000000"
	}
	t.Run("resumed", func(t *testing.T) {
		tests := []struct {
			name, path, lastEventID string
			want                    []string
		}{
			{"from the start of this run", "/api/v1/events", run + "-0", []string{"121:1", "122:1", "121:2"}},
			{"from a position", "/api/v1/events", run + "-1", []string{"122:1", "121:2"}},
			{"by query", "/api/v1/events?after=" + run + "-2", "", []string{"121:2"}},
			{"filtered", "/api/v1/events?msisdn=122", run + "-0", []string{"122:1"}},
			// What came after the id in that other run is not known here:
			// the client is told, and gets all this run holds.
			{"from another run", "/api/v1/events", other + "-2", []string{"lost unknown_run ", "121:1", "122:1", "121:2"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				es := eventSource(t, srv, tt.path)
				es.LastEventID = tt.lastEventID
				var got []string
				for range tt.want {
					got = append(got, seen(t, es.Next()))
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, id := range []string{"x", "121:1", run + "-", "-1", run + "-x", "ABCDEF12-1", "0123456789abcdef0-1", run + "-4", run + "--1"} {
			t.Run(id, func(t *testing.T) {
				res := do(t, srv.Config.Handler, request{path: "/api/v1/events",
					header: map[string]string{"Accept": "text/event-stream", "Last-Event-ID": id}})
				p := problemOf(t, res, http.StatusBadRequest, "invalid_request")
				if !strings.Contains(p.Detail, "Last-Event-ID") && !strings.Contains(p.Detail, "position") {
					t.Errorf("detail %q does not say what is wrong", p.Detail)
				}
			})
		}
	})
}

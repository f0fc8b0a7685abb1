package cluster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestLeaderRequestSentAgain: a request to a stream's leader that nobody
// answers, or that is answered that there is none (the leader being
// elected), is sent again, so the answer of a leader elected meanwhile
// arrives before the caller's bound, rather than the first request
// waiting it out or failing at once.
//
// A leader slower than one attempt is still heard: the attempts share one
// reply inbox, so its answer to the first is not dropped when the second
// is sent.
func TestLeaderRequestSentAgain(t *testing.T) {
	electing := []byte(`{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}`)
	for _, tc := range []struct {
		name     string
		answer   func(n int32, m *nats.Msg) // to the nth request
		want     string
		minAsked int32
	}{
		{"elected meanwhile", func(n int32, m *nats.Msg) {
			switch n {
			case 1: // lost in the election
			case 2: // a member of the group, electing
				_ = m.Respond(electing)
			default:
				_ = m.Respond([]byte("elected"))
			}
		}, "elected", 3},
		{"slow leader", func(n int32, m *nats.Msg) {
			if n == 1 { // the first request only, answered late
				time.AfterFunc(3*leaderAttempt/2, func() { _ = m.Respond([]byte("slow")) })
			}
		}, "slow", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loneEngine(t)
			var asked atomic.Int32
			sub, err := e.NC.Subscribe("test.leader", func(m *nats.Msg) { tc.answer(asked.Add(1), m) })
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			ctx, cancel := context.WithTimeout(context.Background(), 6*leaderAttempt)
			defer cancel()
			res, err := e.leaderRequest(ctx, "test.leader", nil)
			if err != nil {
				t.Fatalf("asked %d times: %v", asked.Load(), err)
			}
			if string(res.Data) != tc.want || asked.Load() < tc.minAsked {
				t.Fatalf("answer %q after %d requests, want %q after %d or more", res.Data, asked.Load(), tc.want, tc.minAsked)
			}
		})
	}
}

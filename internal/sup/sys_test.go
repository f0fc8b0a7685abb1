package sup

import (
	"fmt"
	"testing"

	"github.com/rs/zerolog"
)

func TestStatsKeepsLastEvents(t *testing.T) {
	cases := []struct{ handled, wantLog int }{{0, 0}, {3, 3}, {10, 10}, {25, 10}}
	for _, c := range cases {
		s := NewStats("p", zerolog.Nop())
		for i := 0; i < c.handled; i++ {
			s.Handled("ev", fmt.Sprint(i))
		}
		s.Sent("reply", "")
		info := s.Info("idle")
		if len(info.Log) != c.wantLog {
			t.Fatalf("handled %d: log has %d, want %d", c.handled, len(info.Log), c.wantLog)
		}
		if info.MessagesIn != uint64(c.handled) || info.MessagesOut != 1 {
			t.Fatalf("counters in=%d out=%d", info.MessagesIn, info.MessagesOut)
		}
		if c.wantLog > 0 {
			last := info.Log[len(info.Log)-1].Detail
			if last != fmt.Sprint(c.handled-1) {
				t.Fatalf("newest event %q, want %d (oldest first order)", last, c.handled-1)
			}
		}
		if info.State != "idle" || info.Status != "running" {
			t.Fatalf("state %q status %q", info.State, info.Status)
		}
	}
}

func TestStatsTraceSwitch(t *testing.T) {
	s := NewStats("p", zerolog.Nop())
	if s.Info("").Trace {
		t.Fatal("trace on by default")
	}
	s.SetTrace(true)
	if !s.Info("").Trace {
		t.Fatal("trace not switched on")
	}
}

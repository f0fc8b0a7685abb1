package load

import (
	"strings"
	"testing"
	"time"
)

func TestLineProgress(t *testing.T) {
	var b strings.Builder
	p := NewProgress(&b, false, DefaultConfig())
	s := Snapshot{Phase: "traffic", Elapsed: 2500 * time.Millisecond, TrafficElapsed: 1500 * time.Millisecond, Attempts: 42, Goal: 126,
		Rate: 12.4, ActiveCalls: 3, Requests: 90, Errors: 1}
	p.Update(s)
	p.Update(s) // within the second: not written
	p.Done()
	want := "load:    2.5s traffic   elapsed 2.5s, ETA 3s, attempts 42 (12/s), active calls 3, requests 90, errors 1\n"
	if b.String() != want {
		t.Errorf("progress %q, want %q", b.String(), want)
	}
}

func TestBarProgress(t *testing.T) {
	for _, cfg := range []Config{{Calls: 100}, {Duration: 2 * time.Second}} {
		var b strings.Builder
		p := NewProgress(&b, true, cfg)
		p.Update(Snapshot{Phase: "traffic", Elapsed: 3 * time.Second, TrafficElapsed: time.Second, Attempts: 50, Goal: int64(cfg.Calls),
			Duration: cfg.Duration, ActiveCalls: 7})
		p.Done()
		out := b.String()
		for _, want := range []string{"50%", "active calls 7", "elapsed 3s", "ETA 1s"} {
			if !strings.Contains(out, want) {
				t.Errorf("bar for %+v lacks %q: %q", cfg, want, out)
			}
		}
		if !strings.HasSuffix(out, "\n") {
			t.Errorf("bar for %+v does not end its line: %q", cfg, out)
		}
	}
}

func TestETA(t *testing.T) {
	tests := []struct {
		name string
		s    Snapshot
		want time.Duration // -1: cannot be told
	}{
		{"timed run", Snapshot{Phase: phaseTraffic, Duration: 20 * time.Second, TrafficElapsed: 5 * time.Second}, 15 * time.Second},
		{"timed run over", Snapshot{Phase: phaseTraffic, Duration: 20 * time.Second, TrafficElapsed: 21 * time.Second}, 0},
		{"counted run at its mean rate", Snapshot{Phase: phaseTraffic, Goal: 500, Attempts: 100, TrafficElapsed: 2 * time.Second}, 8 * time.Second},
		{"counted run done", Snapshot{Phase: phaseTraffic, Goal: 500, Attempts: 500, TrafficElapsed: 2 * time.Second}, 0},
		{"no attempt yet", Snapshot{Phase: phaseTraffic, Goal: 500}, -1},
		{"before the traffic", Snapshot{Phase: "attach", Duration: 20 * time.Second, Elapsed: time.Second}, -1},
		{"after the traffic", Snapshot{Phase: "drain", Goal: 500, Attempts: 500, TrafficElapsed: 2 * time.Second}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.s.ETA()
			if !ok {
				got = -1
			}
			if got != tt.want {
				t.Errorf("ETA %v (known %v), want %v", got, ok, tt.want)
			}
			if d := tt.s.describe(); tt.want < 0 && !strings.Contains(d, "ETA -,") {
				t.Errorf("describe %q, want an unknown ETA", d)
			}
		})
	}
}

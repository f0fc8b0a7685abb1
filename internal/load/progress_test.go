package load

import (
	"strings"
	"testing"
	"time"
)

func TestLineProgress(t *testing.T) {
	var b strings.Builder
	p := NewProgress(&b, false, DefaultConfig())
	s := Snapshot{Phase: "traffic", Elapsed: 1500 * time.Millisecond, Attempts: 42, Rate: 12.4, ActiveCalls: 3, Requests: 90, Errors: 1}
	p.Update(s)
	p.Update(s) // within the second: not written
	p.Done()
	want := "load:    1.5s traffic   attempts 42 (12/s), active calls 3, requests 90, errors 1\n"
	if b.String() != want {
		t.Errorf("progress %q, want %q", b.String(), want)
	}
}

func TestBarProgress(t *testing.T) {
	for _, cfg := range []Config{{Calls: 100}, {Duration: 2 * time.Second}} {
		var b strings.Builder
		p := NewProgress(&b, true, cfg)
		p.Update(Snapshot{Phase: "traffic", Elapsed: time.Second, Attempts: 50, ActiveCalls: 7})
		p.Done()
		if out := b.String(); !strings.Contains(out, "50%") || !strings.Contains(out, "active calls 7") || !strings.HasSuffix(out, "\n") {
			t.Errorf("bar for %+v: %q", cfg, out)
		}
	}
}

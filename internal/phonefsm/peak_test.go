package phonefsm

import "testing"

func TestPeakIsAWindowNotAResetOnRead(t *testing.T) {
	now := int64(1000)
	p := newPeak()
	p.now = func() int64 { return now }
	p.note(3)
	p.note(7)
	p.note(5)
	if p.max() != 7 || p.max() != 7 {
		t.Fatalf("max %d, want 7 on every read", p.max())
	}
	now += peakWindow - 1
	p.note(2)
	if p.max() != 7 {
		t.Fatalf("max %d, want 7 still within the window", p.max())
	}
	now++
	if p.max() != 2 {
		t.Fatalf("max %d, want 2 once the 7 left the window", p.max())
	}
	now += 2 * peakWindow
	if p.max() != 0 {
		t.Fatalf("max %d after a quiet window, want 0", p.max())
	}
}

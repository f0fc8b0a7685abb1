package hw

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// replayAll reads a resumed subscription's replay to its end, n items at a
// time, and returns it as "MSISDN:SEQ@POS" for a reply and "lost MSISDN@POS"
// for a loss.
func replayAll(t *testing.T, s *Subscription, n int) []string {
	t.Helper()
	buf := make([]Replayed, 0, n)
	var out []string
	for range 10_000 {
		items, done := s.Replay(buf)
		if len(items) > n {
			t.Fatalf("Replay returned %d items, more than the %d asked", len(items), n)
		}
		for _, it := range items {
			out = append(out, replayedString(it))
		}
		if done {
			return out
		}
		if len(items) == 0 {
			t.Fatal("Replay returned nothing and is not done")
		}
	}
	t.Fatal("the replay does not end")
	return nil
}

func replayedString(it Replayed) string {
	if it.Lost {
		return fmt.Sprintf("lost %s@%d", it.MSISDN, it.Pos)
	}
	return fmt.Sprintf("%s:%d@%d", it.MSISDN, it.Seq, it.Pos)
}

// TestResumeAll: a resumed global stream replays what its phones' rings
// hold past the position, in position order, tells the phones whose rings
// dropped replies past it, then follows live without a gap or a repeat.
func TestResumeAll(t *testing.T) {
	// Positions 1 to 9 in a hub whose rings hold 3 replies:
	// 1 a:1  2 b:1  3 a:2  4 a:3  5 c:1  6 a:4  7 b:2  8 a:5  9 c:2
	// a's ring holds a:3..5 (positions 4, 6, 8): it dropped 1 and 3.
	deliveries := []string{"a", "b", "a", "a", "c", "a", "b", "a", "c"}
	cases := []struct {
		name   string
		filter []string
		after  uint64
		want   []string
	}{
		{"from the start", nil, 0,
			[]string{"b:1@2", "lost a@3", "a:3@4", "c:1@5", "a:4@6", "b:2@7", "a:5@8", "c:2@9"}},
		{"past a's drops", nil, 3,
			[]string{"a:3@4", "c:1@5", "a:4@6", "b:2@7", "a:5@8", "c:2@9"}},
		{"a's last drop is past the position", nil, 2,
			[]string{"lost a@3", "a:3@4", "c:1@5", "a:4@6", "b:2@7", "a:5@8", "c:2@9"}},
		{"near the end", nil, 7, []string{"a:5@8", "c:2@9"}},
		{"at the end", nil, 9, nil},
		{"filtered", []string{"c", "b"}, 1, []string{"b:1@2", "c:1@5", "b:2@7", "c:2@9"}},
		{"filtered on a", []string{"a"}, 0, []string{"lost a@3", "a:3@4", "a:4@6", "a:5@8"}},
		{"filter of phones without replies", []string{"x", "y"}, 0, nil},
	}
	for _, c := range cases {
		for _, batch := range []int{1, 2, 64} {
			t.Run(fmt.Sprintf("%s/batch %d", c.name, batch), func(t *testing.T) {
				h := NewHub(HubConfig{RingSize: 3})
				for _, m := range deliveries {
					h.Device(m).Deliver(Busy, "")
				}
				h.Device("x") // attached, silent
				s, err := h.ResumeAll(c.filter, c.after)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if got := replayAll(t, s, batch); !slices.Equal(got, c.want) {
					t.Errorf("replay %v\nwant        %v", got, c.want)
				}
				// Then live, from position 10.
				m := "a"
				if c.filter != nil {
					m = c.filter[0]
				}
				h.Device(m).Deliver(Hangup, "")
				if live := recv(t, s); live.Pos != 10 || live.MSISDN != m || live.Type != Hangup {
					t.Errorf("live reply %+v, want %s's hangup at position 10", live, m)
				}
			})
		}
	}

	h := NewHub(HubConfig{})
	h.Device("a").Deliver(Busy, "")
	if _, err := h.ResumeAll(nil, 2); !errors.Is(err, ErrPositionAhead) {
		t.Errorf("resume past the last position: %v, want ErrPositionAhead", err)
	}
	if h.globalIndex() != nil {
		t.Error("a refused resume left a subscription behind")
	}
}

// TestReplayMeetsDropsAndDetaches: what happens to the rings while the
// replay reads them. A reply dropped before the replay reached it is told
// as a loss, in position order; a phone detached meanwhile is left out.
func TestReplayMeetsDropsAndDetaches(t *testing.T) {
	h := NewHub(HubConfig{RingSize: 2, StreamBuffer: 64})
	a, b, c := h.Device("a"), h.Device("b"), h.Device("c")
	a.Deliver(Busy, "") // 1
	b.Deliver(Busy, "") // 2
	c.Deliver(Busy, "") // 3
	a.Deliver(Busy, "") // 4
	b.Deliver(Busy, "") // 5
	s, err := h.ResumeAll(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := make([]Replayed, 0, 1)
	next := func() string {
		t.Helper()
		items, _ := s.Replay(buf)
		if len(items) != 1 {
			t.Fatalf("Replay gave %d items, want 1", len(items))
		}
		return replayedString(items[0])
	}
	if got := next(); got != "a:1@1" {
		t.Fatalf("first item %s, want a:1@1", got)
	}
	b.Deliver(Busy, "") // 6: b's ring drops b:1 (position 2) before the replay got to it
	b.Deliver(Busy, "") // 7: and b:2 (position 5)
	h.Remove("c")
	// b:1 and b:2 are gone: one loss, told at b:2's position, after a:2;
	// c's reply went with c; b's next replies come live.
	want := []string{"a:2@4", "lost b@5"}
	if got := replayAll(t, s, 1); !slices.Equal(got, want) {
		t.Errorf("rest of the replay %v, want %v", got, want)
	}
	for _, pos := range []uint64{6, 7} {
		if r := recv(t, s); r.Pos != pos || r.MSISDN != "b" {
			t.Errorf("live %+v, want b at %d", r, pos)
		}
	}
}

// TestResumeUnderLoadMissesNothing: replies delivered from many goroutines
// while a global stream is read, closed and resumed from its last position,
// again and again: the streams together have every position once, in order.
func TestResumeUnderLoadMissesNothing(t *testing.T) {
	const phones, each, rounds = 8, 300, 6
	h := NewHub(HubConfig{RingSize: each, StreamBuffer: phones * each})
	s := h.SubscribeAll(nil)
	var wg sync.WaitGroup
	for p := range phones {
		wg.Go(func() {
			d := h.Device(strconv.Itoa(p))
			for range each {
				d.Deliver(Busy, "")
			}
		})
	}
	var got []uint64
	for round := 1; round < rounds; round++ {
		got = append(got, replayedPositions(t, s)...)
		for len(got) < round*phones*each/rounds {
			got = append(got, recv(t, s).Pos)
		}
		s.Close() // the client goes, and comes back
		var err error
		if s, err = h.ResumeAll(nil, got[len(got)-1]); err != nil {
			t.Fatal(err)
		}
	}
	defer s.Close()
	got = append(got, replayedPositions(t, s)...)
	wg.Wait() // every reply delivered: the rest is in the stream's buffer
	for len(s.C()) > 0 {
		got = append(got, (<-s.C()).Pos)
	}
	if len(got) != phones*each || s.Err() != nil {
		t.Errorf("%d replies of %d (Err %v)", len(got), phones*each, s.Err())
	}
	for i, pos := range got {
		if pos != uint64(i+1) {
			t.Fatalf("reply %d has position %d: the streams skipped or repeated one (%v...)", i, pos, got[max(0, i-3):i+1])
		}
	}
}

// replayedPositions reads a replay that must hold replies only, and
// returns their positions.
func replayedPositions(t *testing.T, s *Subscription) []uint64 {
	t.Helper()
	var out []uint64
	for {
		items, done := s.Replay(make([]Replayed, 0, 16))
		for _, it := range items {
			if it.Lost {
				t.Fatalf("replay told a loss: %s", replayedString(it))
			}
			out = append(out, it.Pos)
		}
		if done {
			return out
		}
	}
}

// TestPosition: a hub's position is that of its last reply, so a global
// stream resumed from it replays nothing and gets every reply after.
func TestPosition(t *testing.T) {
	h := NewHub(HubConfig{})
	if p := h.Position(); p != 0 {
		t.Fatalf("a new hub at %d, want 0", p)
	}
	for _, m := range []string{"a", "b", "a"} {
		h.Device(m).Deliver(Busy, "")
	}
	if p := h.Position(); p != 3 {
		t.Fatalf("after 3 replies at %d, want 3", p)
	}
	s, err := h.ResumeAll(nil, h.Position())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if items, done := s.Replay(make([]Replayed, 0, 8)); len(items) != 0 || !done {
		t.Fatalf("replay from the position: %v, done %v; want nothing", items, done)
	}
	h.Device("b").Deliver(Hangup, "")
	if r := <-s.C(); r.Pos != 4 || r.MSISDN != "b" {
		t.Fatalf("live %+v, want b at 4", r)
	}
}

// BenchmarkResumeAllFewActive is a merged stream's page poll on a busy
// node: every phone has replied once, a few since the page's position.
// The replay must find those few among all the phones.
func BenchmarkResumeAllFewActive(b *testing.B) {
	for _, phones := range []int{1_000, 10_000} {
		b.Run(strconv.Itoa(phones)+" phones", func(b *testing.B) {
			h := NewHub(HubConfig{})
			devs := make([]*PhoneDevice, phones)
			for i := range devs {
				devs[i] = h.Device(strconv.Itoa(i))
				devs[i].Deliver(Hangup, "")
			}
			after := h.Position()
			for _, d := range devs[:10] {
				d.Deliver(Hangup, "")
			}
			buf := make([]Replayed, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				s, err := h.ResumeAll(nil, after)
				if err != nil {
					b.Fatal(err)
				}
				if items, _ := s.Replay(buf); len(items) != 10 {
					b.Fatalf("%d items, want 10", len(items))
				}
				s.Close()
			}
		})
	}
}

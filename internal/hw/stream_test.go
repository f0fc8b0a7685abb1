package hw

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// globalIndex reads the hub's global subscriptions.
func (h *Hub) globalIndex() *globalIndex {
	h.posMu.Lock()
	defer h.posMu.Unlock()
	return h.global
}

func recv(t *testing.T, s *Subscription) Reply {
	t.Helper()
	select {
	case r, ok := <-s.C():
		if !ok {
			t.Fatalf("subscription ended: %v", s.Err())
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a reply")
	}
	return Reply{}
}

func recvSeqs(t *testing.T, s *Subscription, n int) []uint64 {
	t.Helper()
	out := []uint64{}
	for range n {
		out = append(out, recv(t, s).Seq)
	}
	return out
}

// drain reads s to its end and returns what it held.
func drain(t *testing.T, s *Subscription) []Reply {
	t.Helper()
	var out []Reply
	for {
		select {
		case r, ok := <-s.C():
			if !ok {
				return out
			}
			out = append(out, r)
		case <-time.After(5 * time.Second):
			t.Fatal("subscription did not end")
		}
	}
}

type pollResult struct {
	items []Reply
	next  uint64
	err   error
}

// poll starts a long poll of msisdn and waits until it is parked on the
// device, so what the test does next happens while it waits.
func poll(t *testing.T, ctx context.Context, h *Hub, msisdn string, after uint64) <-chan pollResult {
	t.Helper()
	out := make(chan pollResult, 1)
	go func() {
		items, next, err := h.Events(ctx, msisdn, after, 30*time.Second)
		out <- pollResult{items, next, err}
	}()
	st := h.Device(msisdn).state()
	waitFor(t, "the poll to wait", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.wake != nil
	})
	return out
}

func result(t *testing.T, c <-chan pollResult) pollResult {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not return")
	}
	return pollResult{}
}

func TestEventsLongPoll(t *testing.T) {
	h := NewHub(HubConfig{})
	d := h.Device("124")
	d.Deliver(Inbound, "123")
	d.Deliver(Hangup, "")
	cases := []struct {
		name  string
		after uint64
		wait  time.Duration
		want  []uint64
		next  uint64
	}{
		{"at once", 0, 30 * time.Second, []uint64{1, 2}, 2},
		{"after the cursor", 1, 30 * time.Second, []uint64{2}, 2},
		{"nothing new, no wait", 2, 0, []uint64{}, 2},
		{"nothing new until the timeout", 2, 50 * time.Millisecond, []uint64{}, 2},
		{"cursor of an earlier attachment", 99, 0, []uint64{1, 2}, 2},
	}
	for _, c := range cases {
		items, next, err := h.Events(t.Context(), "124", c.after, c.wait)
		if err != nil || !slices.Equal(seqs(items), c.want) || next != c.next {
			t.Errorf("%s: got %v next %d, %v; want %v next %d", c.name, seqs(items), next, err, c.want, c.next)
		}
	}
}

func TestEventsWakesOnDelivery(t *testing.T) {
	h := NewHub(HubConfig{})
	d := h.Device("124")
	waiting := poll(t, t.Context(), h, "124", 0)
	d.Deliver(Inbound, "123")
	r := result(t, waiting)
	if r.err != nil || len(r.items) != 1 || r.items[0].From != "123" || r.next != 1 {
		t.Fatalf("poll = %+v", r)
	}
}

func TestEventsEnds(t *testing.T) {
	cases := []struct {
		name string
		end  func(h *Hub, cancel context.CancelFunc)
		want error
	}{
		{"context cancelled", func(_ *Hub, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"phone detached", func(h *Hub, _ context.CancelFunc) { h.Remove("124") }, ErrNotAttached},
	}
	for _, c := range cases {
		h := NewHub(HubConfig{})
		h.Device("124")
		ctx, cancel := context.WithCancel(t.Context())
		waiting := poll(t, ctx, h, "124", 0)
		c.end(h, cancel)
		if r := result(t, waiting); !errors.Is(r.err, c.want) || len(r.items) != 0 {
			t.Errorf("%s: poll = %+v, want %v", c.name, r, c.want)
		}
		cancel()
	}
	if _, _, err := NewHub(HubConfig{}).Events(t.Context(), "999", 0, time.Hour); err != ErrNotAttached {
		t.Errorf("unknown phone: %v, want ErrNotAttached", err)
	}
}

func TestSubscribePhoneReplaysThenLive(t *testing.T) {
	cases := []struct {
		lastEventID uint64
		replay      []uint64
	}{
		{0, []uint64{3, 4, 5, 6}}, // the ring dropped 1 and 2
		{1, []uint64{3, 4, 5, 6}},
		{4, []uint64{5, 6}},
		{6, []uint64{}},
		{99, []uint64{3, 4, 5, 6}}, // an ID from an earlier attachment
	}
	for _, c := range cases {
		h := NewHub(HubConfig{RingSize: 4})
		d := h.Device("124")
		for range 6 {
			d.Deliver(Busy, "")
		}
		s, err := h.SubscribePhone("124", c.lastEventID)
		if err != nil {
			t.Fatal(err)
		}
		d.Deliver(Hangup, "")
		d.Deliver(Busy, "")
		want := append(slices.Clone(c.replay), 7, 8)
		if got := recvSeqs(t, s, len(want)); !slices.Equal(got, want) {
			t.Errorf("Last-Event-ID %d: got %v, want %v", c.lastEventID, got, want)
		}
		s.Close()
	}
	if _, err := NewHub(HubConfig{}).SubscribePhone("999", 0); err != ErrNotAttached {
		t.Errorf("unknown phone: %v, want ErrNotAttached", err)
	}
}

func TestSubscribeAllFilters(t *testing.T) {
	h := NewHub(HubConfig{})
	all := h.SubscribeAll(nil)
	only123 := h.SubscribeAll([]string{"123"})
	both := h.SubscribeAll([]string{"125", "123", "125"})

	h.Device("123").Deliver(Accepted, "")
	h.Device("124").Deliver(Inbound, "123")
	h.Device("125").Deliver(Busy, "")
	h.Device("123").Deliver(Hangup, "")

	cases := []struct {
		name string
		s    *Subscription
		want []string
	}{
		{"all phones", all, []string{"123:accepted", "124:inbound", "125:busy", "123:hangup"}},
		{"123", only123, []string{"123:accepted", "123:hangup"}},
		{"123 and 125, 125 twice", both, []string{"123:accepted", "125:busy", "123:hangup"}},
	}
	for _, c := range cases {
		c.s.Close()
		var got []string
		for _, r := range drain(t, c.s) {
			got = append(got, r.MSISDN+":"+r.Type.String())
		}
		if !slices.Equal(got, c.want) || c.s.Err() != nil {
			t.Errorf("%s: got %v, Err %v; want %v", c.name, got, c.s.Err(), c.want)
		}
	}
	if h.globalIndex() != nil {
		t.Error("closed subscriptions must leave the global index empty")
	}
}

func TestSlowSubscriberNeverBlocksDeliver(t *testing.T) {
	var hooked int
	h := NewHub(HubConfig{RingSize: 2, StreamBuffer: 2, OnSlowSubscriber: func() { hooked++ }})
	d := h.Device("124")
	phone, err := h.SubscribePhone("124", 0)
	if err != nil {
		t.Fatal(err)
	}
	global := h.SubscribeAll(nil)

	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		for range 100 {
			d.Deliver(Busy, "")
		}
	}()
	select {
	case <-delivered:
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver blocked on subscribers that do not read")
	}

	for name, s := range map[string]*Subscription{"phone": phone, "global": global} {
		got := drain(t, s)
		if !slices.Equal(seqs(got), []uint64{1, 2}) || s.Err() != ErrSlowSubscriber {
			t.Errorf("%s: got %v then Err %v; want [1 2] then ErrSlowSubscriber", name, seqs(got), s.Err())
		}
		s.Close() // after the cut-off, Close changes nothing
		if s.Err() != ErrSlowSubscriber {
			t.Errorf("%s: Close after the cut-off changed Err to %v", name, s.Err())
		}
	}
	if st := h.Stats(); st.SlowSubscribers != 2 || hooked != 2 {
		t.Errorf("slow subscribers: Stats %d, hook %d; want 2", st.SlowSubscribers, hooked)
	}
	if len(d.state().subs) != 0 || h.globalIndex() != nil {
		t.Error("cut-off subscribers must leave the lists")
	}
	if d.LastSeq() != 100 {
		t.Errorf("LastSeq = %d, want 100", d.LastSeq())
	}
}

func TestStreamBufferHoldsAReplay(t *testing.T) {
	h := NewHub(HubConfig{RingSize: 8, StreamBuffer: 2})
	d := h.Device("124")
	for range 8 {
		d.Deliver(Busy, "")
	}
	s, err := h.SubscribePhone("124", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := drain(t, s); len(got) != 8 || s.Err() != nil {
		t.Errorf("replay of a full ring: %d replies, Err %v; want 8, nil", len(got), s.Err())
	}
}

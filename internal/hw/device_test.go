package hw

import (
	"encoding/json"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func seqs(rs []Reply) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func seqRange(from, to uint64) []uint64 {
	out := []uint64{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestReplyTypeNames(t *testing.T) {
	cases := []struct {
		t    ReplyType
		name string
	}{
		{Inbound, "inbound"}, {Accepted, "accepted"}, {Rejected, "rejected"}, {Busy, "busy"},
		{Invalid, "invalid"}, {Hangup, "hangup"}, {NoFrequency, "no_frequency"},
	}
	for _, c := range cases {
		if got := c.t.String(); got != c.name {
			t.Errorf("%d: String = %q, want %q", c.t, got, c.name)
		}
		var back ReplyType
		if err := back.UnmarshalText([]byte(c.name)); err != nil || back != c.t {
			t.Errorf("%q: UnmarshalText = %v, %v", c.name, back, err)
		}
	}
	if _, err := ReplyType(0).MarshalText(); err == nil {
		t.Error("the zero ReplyType must not marshal")
	}
	if err := new(ReplyType).UnmarshalText([]byte("ringing")); err == nil {
		t.Error("an unknown name must not unmarshal")
	}
}

func TestReplyJSON(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		r    Reply
		want string
	}{
		{Reply{Seq: 1, MSISDN: "124", Type: Inbound, From: "123", At: at},
			`{"seq":1,"msisdn":"124","type":"inbound","from":"123","at":"2024-05-01T12:00:00Z"}`},
		{Reply{Seq: 2, MSISDN: "124", Type: NoFrequency, At: at},
			`{"seq":2,"msisdn":"124","type":"no_frequency","at":"2024-05-01T12:00:00Z"}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.r)
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal = %s, %v; want %s", b, err, c.want)
		}
		var back Reply
		if err := json.Unmarshal(b, &back); err != nil || back != c.r {
			t.Errorf("Unmarshal(%s) = %+v, %v", b, back, err)
		}
	}
}

func TestDeliverNumbersAndRingDrops(t *testing.T) {
	const ring = 4
	cases := []struct {
		delivered uint64
		kept      []uint64
		dropped   uint64
	}{
		{0, []uint64{}, 0},
		{1, seqRange(1, 1), 0},
		{4, seqRange(1, 4), 0},
		{5, seqRange(2, 5), 1},
		{11, seqRange(8, 11), 7},
	}
	var hubDrops int
	h := NewHub(HubConfig{RingSize: ring, OnReplyDropped: func() { hubDrops++ }})
	var total uint64
	for _, c := range cases {
		msisdn := "7" + strconv.FormatUint(c.delivered, 10)
		d := h.Device(msisdn)
		for range c.delivered {
			d.Deliver(Busy, "ignored")
		}
		total += c.dropped
		got, next, err := h.Events(t.Context(), msisdn, 0, 0)
		if err != nil || !slices.Equal(seqs(got), c.kept) {
			t.Errorf("%d delivered: kept %v, %v; want %v", c.delivered, seqs(got), err, c.kept)
		}
		if want := c.delivered; next != want {
			t.Errorf("%d delivered: next = %d, want %d", c.delivered, next, want)
		}
		if d.Dropped() != c.dropped || d.LastSeq() != c.delivered {
			t.Errorf("%d delivered: Dropped = %d, LastSeq = %d; want %d, %d", c.delivered, d.Dropped(), d.LastSeq(), c.dropped, c.delivered)
		}
		for _, r := range got {
			if r.MSISDN != msisdn || r.Type != Busy || r.From != "" || r.At.IsZero() {
				t.Errorf("%d delivered: reply %+v", c.delivered, r)
			}
		}
	}
	if s := h.Stats(); s.DroppedReplies != total || uint64(hubDrops) != total || s.Devices != len(cases) {
		t.Errorf("Stats = %+v, hook %d; want %d dropped over %d devices", s, hubDrops, total, len(cases))
	}
}

func TestDeliverKeepsFromForInboundOnly(t *testing.T) {
	h := NewHub(HubConfig{})
	d := h.Device("124")
	d.Deliver(Inbound, "123")
	d.Deliver(Hangup, "123")
	got, _, _ := h.Events(t.Context(), "124", 0, 0)
	if len(got) != 2 || got[0].From != "123" || got[1].From != "" {
		t.Fatalf("replies = %+v", got)
	}
}

func TestDeviceOutlivesLookupsAndRemoveDetaches(t *testing.T) {
	h := NewHub(HubConfig{})
	d := h.Device("123")
	d.Deliver(Accepted, "")
	if again := h.Device("123"); again != d {
		t.Fatal("Device must return the existing device")
	}
	sub, err := h.SubscribePhone("123", 1)
	if err != nil {
		t.Fatal(err)
	}

	h.Remove("123")
	h.Remove("123")       // unknown now: nothing happens
	d.Deliver(Hangup, "") // a late reply to a detached device is discarded
	if _, _, err := h.Events(t.Context(), "123", 0, 0); err != ErrNotAttached {
		t.Errorf("Events after Remove: %v, want ErrNotAttached", err)
	}
	if _, err := h.SubscribePhone("123", 0); err != ErrNotAttached {
		t.Errorf("SubscribePhone after Remove: %v, want ErrNotAttached", err)
	}
	if _, ok := <-sub.C(); ok || sub.Err() != ErrNotAttached {
		t.Errorf("subscription after Remove: open %v, Err %v", ok, sub.Err())
	}

	fresh := h.Device("123")
	fresh.Deliver(Busy, "")
	if fresh == d || fresh.LastSeq() != 1 {
		t.Errorf("re-attached device: same %v, LastSeq %d; want a new device from seq 1", fresh == d, fresh.LastSeq())
	}
}

// TestIdleDeviceMemory reports what a device costs, counting the hub's map
// entry but not the MSISDN string, which belongs to the caller. A full ring
// is 64 entries of 32 bytes plus Go's 8-byte header for pointerful objects
// over 512 bytes, which lands in the 2304-byte size class.
func TestIdleDeviceMemory(t *testing.T) {
	cases := []struct {
		name    string
		devices int
		replies int
		max     float64 // bytes per device
	}{
		{"idle", 100_000, 0, 80},
		{"one reply", 10_000, 1, 320},
		{"full ring of 64", 10_000, 64, 2600},
	}
	for _, c := range cases {
		names := make([]string, c.devices)
		for i := range names {
			names[i] = strconv.Itoa(10_000_000 + i)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := NewHub(HubConfig{})
		for _, m := range names {
			d := h.Device(m)
			for range c.replies {
				d.Deliver(Hangup, "")
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(c.devices)
		runtime.KeepAlive(h)
		runtime.KeepAlive(names)
		t.Logf("%s: %.1f bytes per device over %d devices", c.name, per, c.devices)
		if per > c.max {
			t.Errorf("%s: %.1f bytes per device, budget %.0f", c.name, per, c.max)
		}
	}
}

func BenchmarkDeliverNoSubscribers(b *testing.B) {
	d := NewHub(HubConfig{}).Device("123")
	b.ReportAllocs()
	for b.Loop() {
		d.Deliver(Hangup, "")
	}
}

// BenchmarkDeliverParallel delivers to many phones from every P at once,
// as the phone controllers do: with nobody listening, and with a global
// stream open on another phone (the delivery looks it up but sends
// nothing, so no reader has to keep up with the benchmark).
func BenchmarkDeliverParallel(b *testing.B) {
	for _, listen := range []bool{false, true} {
		name := "no subscriber"
		if listen {
			name = "global subscriber elsewhere"
		}
		b.Run(name, func(b *testing.B) {
			h := NewHub(HubConfig{})
			if listen {
				s := h.SubscribeAll([]string{"0"})
				defer s.Close()
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				d := h.Device(strconv.FormatInt(next.Add(1), 10))
				for pb.Next() {
					d.Deliver(Hangup, "")
				}
			})
		})
	}
}

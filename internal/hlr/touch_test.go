package hlr

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/testutil"
)

func TestTouchQueueCoalesces(t *testing.T) {
	var q touchQueue
	q.init(8)
	m := MSISDN(0x11)
	for _, t := range []touch{{attach: 10}, {attach: 30}, {attach: 20}, {detach: 25}, {detach: 5}} {
		q.put(m, t)
	}
	if pending, dropped := q.stats(); pending != 1 || dropped != 0 {
		t.Fatalf("pending %d dropped %d, want 1 and 0: one entry per MSISDN", pending, dropped)
	}
	batch := q.take(map[MSISDN]touch{})
	if len(batch) != 1 || batch[m] != (touch{attach: 30, detach: 25}) {
		t.Fatalf("batch %v, want the latest of each kind", batch)
	}
	// Taken but not written: still counted and still seen by readers.
	subs := []Subscriber{{MSISDN: m, LastAttachAt: fromNanos(40)}}
	q.overlay(subs)
	if subs[0].LastAttachAt != fromNanos(40) || subs[0].LastDetachAt != fromNanos(25) {
		t.Fatalf("overlay %+v: the stored later attach must win, the pending detach fill in", subs[0])
	}
	q.written(0)
	if pending, _ := q.stats(); pending != 0 {
		t.Fatalf("pending %d after the batch was written", pending)
	}
}

func TestTouchQueueDropsOldest(t *testing.T) {
	var q touchQueue
	q.init(3)
	a, b, c, d, e := MSISDN(0x11), MSISDN(0x21), MSISDN(0x31), MSISDN(0x41), MSISDN(0x51)
	steps := []struct {
		m       MSISDN
		dropped uint64
		pending []MSISDN
	}{
		{a, 0, []MSISDN{a}},
		{b, 0, []MSISDN{a, b}},
		{c, 0, []MSISDN{a, b, c}},
		{a, 0, []MSISDN{a, b, c}}, // coalesced: nothing new to hold
		{d, 1, []MSISDN{b, c, d}}, // a is the oldest
		{e, 2, []MSISDN{c, d, e}},
		{c, 2, []MSISDN{c, d, e}},
	}
	for i, s := range steps {
		q.put(s.m, touch{attach: int64(i + 1)})
		if _, dropped := q.stats(); dropped != s.dropped || !sameKeys(q.pending, s.pending) {
			t.Fatalf("step %d: dropped %d, pending %v; want %d, %v", i, dropped, q.pending, s.dropped, s.pending)
		}
	}
	// After a take the ring starts again: fill it past the end once more.
	q.take(map[MSISDN]touch{})
	q.written(0)
	for _, m := range []MSISDN{e, d, c, b} {
		q.put(m, touch{detach: 1})
	}
	if _, dropped := q.stats(); dropped != 3 || !sameKeys(q.pending, []MSISDN{d, c, b}) {
		t.Fatalf("after a take: dropped %d, pending %v", dropped, q.pending)
	}
	q.close()
	q.put(a, touch{attach: 9})
	if _, dropped := q.stats(); dropped != 4 {
		t.Fatalf("a put after close is not counted as dropped (%d)", dropped)
	}
}

func sameKeys(m map[MSISDN]touch, want []MSISDN) bool {
	var keys []MSISDN
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want = slices.Sorted(slices.Values(want))
	return slices.Equal(keys, want)
}

// storedTimes reads the times with SQL, bypassing the pending overlay.
func storedTimes(t *testing.T, db *store.Store, m MSISDN) (attach, detach sql.NullInt64) {
	t.Helper()
	err := db.DB().QueryRow(`SELECT last_attach_at, last_detach_at FROM subscribers WHERE msisdn = ?`, m.String()).Scan(&attach, &detach)
	if err != nil {
		t.Fatal(err)
	}
	return attach, detach
}

func TestTouchWrittenInBackground(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	m := msisdn(t, "123")
	if _, err := s.Create(ctx, Subscriber{MSISDN: m}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	s.Touch(m, true, at)
	// A reader sees it at once, written or not.
	if got, err := s.Get(ctx, m); err != nil || !got.LastAttachAt.Equal(at) || !got.LastDetachAt.IsZero() {
		t.Fatalf("Get right after Touch: %+v, %v", got, err)
	}
	testutil.Eventually(t, 5*time.Second, "the attach time written", func() bool {
		attach, _ := storedTimes(t, db, m)
		return attach.Valid && attach.Int64 == at.UnixNano()
	})
	// An earlier time written later does not move it back.
	s.Touch(m, true, at.Add(-time.Hour))
	s.Touch(m, false, at.Add(time.Minute))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	attach, detach := storedTimes(t, db, m)
	if attach.Int64 != at.UnixNano() || detach.Int64 != at.Add(time.Minute).UnixNano() {
		t.Fatalf("stored attach %v detach %v", attach, detach)
	}
	if st := s.Stats(); st.TouchDropped != 0 || st.TouchPending != 0 {
		t.Fatalf("stats %+v after a clean close", st)
	}
}

// TestTouchFlushedOnClose touches many subscribers, several times each,
// and checks Close writes the latest of each.
func TestTouchFlushedOnClose(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	const n = touchTxRows + 100 // more than one transaction's worth
	items := make([]Subscriber, n)
	for i := range items {
		items[i] = Subscriber{MSISDN: MSISDN(uint64(i)<<lenBits | 15)} // 000000000000000, 000000000000001, ...
	}
	if _, _, err := s.CreateBulk(ctx, items); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for round := 1; round <= 3; round++ {
		for i, it := range items {
			s.Touch(it.MSISDN, true, base.Add(time.Duration(round*n+i)))
			s.Touch(it.MSISDN, false, base.Add(time.Duration(round*n+i+1)))
		}
	}
	s.Touch(msisdn(t, "42"), true, base) // not a subscriber: no row appears
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		attach, detach := storedTimes(t, db, it.MSISDN)
		if attach.Int64 != base.Add(time.Duration(3*n+i)).UnixNano() || detach.Int64 != base.Add(time.Duration(3*n+i+1)).UnixNano() {
			t.Fatalf("%s: attach %v detach %v, want the last round's", it.MSISDN, attach, detach)
		}
	}
	if rowCount(t, db) != n {
		t.Fatal("Touch of a non-subscriber created a row")
	}
	if st := s.Stats(); st.TouchDropped != 0 {
		t.Fatalf("%d updates dropped below the queue limit", st.TouchDropped)
	}
}

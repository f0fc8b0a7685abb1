package calls

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/store"
)

// TestRoundTrip writes records with every field, and without the optional
// ones, and reads them back whole by List and Get.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{})
	var want []Record
	for i := range 6 {
		want = append(want, sample(i))
	}
	want[0].ID = 999 // ignored: the database numbers records
	appendAll(t, w, want...)
	if got := w.Committed(); got != uint64(len(want)) {
		t.Fatalf("Committed() = %d, want %d", got, len(want))
	}

	got := listAll(t, db, Filter{})
	if len(got) != len(want) {
		t.Fatalf("listed %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if i > 0 && r.ID <= got[i-1].ID {
			t.Fatalf("ids not increasing: %d after %d", r.ID, got[i-1].ID)
		}
		want[i].ID = r.ID
		if r != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, r, want[i])
		}
		one, err := Get(ctx, db, r.ID)
		if err != nil || one != want[i] {
			t.Errorf("Get(%d) = %+v, %v", r.ID, one, err)
		}
	}
	if want[2].Frequency != 0 || !want[2].AnsweredAt.IsZero() {
		t.Fatal("sample 2 should have neither frequency nor answer time")
	}

	_, err := Get(ctx, db, got[len(got)-1].ID+1)
	if !errors.Is(err, ErrNotFound) || errcode.Of(err) != errcode.NotFound {
		t.Fatalf("Get of a missing id: %v, want ErrNotFound", err)
	}
}

func TestListFilters(t *testing.T) {
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{})
	var recs []Record
	for i := range 60 {
		recs = append(recs, sample(i))
	}
	recs = append(recs, Record{Caller: msisdn("1003"), Callee: msisdn("1003"), Outcome: Busy, EndedBy: "callee",
		SetupAt: base.Add(time.Minute), EndedAt: base.Add(time.Minute)}) // calling yourself
	appendAll(t, w, recs...)
	all := listAll(t, db, Filter{})

	// want is the brute-force answer over the records as read back.
	want := func(keep func(Record) bool) []int64 {
		var ids []int64
		for _, r := range all {
			if keep(r) {
				ids = append(ids, r.ID)
			}
		}
		return ids
	}
	since := base.Add(30 * time.Second)
	cases := []struct {
		name string
		f    Filter
		keep func(Record) bool
	}{
		{"none", Filter{}, func(Record) bool { return true }},
		{"msisdn as caller", Filter{MSISDN: "1002"}, func(r Record) bool { return r.Caller.String() == "1002" }},
		{"msisdn as callee", Filter{MSISDN: "2004"}, func(r Record) bool { return r.Callee.String() == "2004" }},
		{"msisdn on both sides once", Filter{MSISDN: "1003"}, func(r Record) bool { return r.Caller.String() == "1003" || r.Callee.String() == "1003" }},
		{"unknown msisdn", Filter{MSISDN: "999"}, func(Record) bool { return false }},
		{"outcome", Filter{Outcome: NoFrequency}, func(r Record) bool { return r.Outcome == NoFrequency }},
		{"since, inclusive", Filter{Since: since}, func(r Record) bool { return !r.SetupAt.Before(since) }},
		{"since in another zone", Filter{Since: since.In(time.FixedZone("X", 3600))}, func(r Record) bool { return !r.SetupAt.Before(since) }},
		{"since long ago", Filter{Since: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, func(Record) bool { return true }},
		{"since far ahead", Filter{Since: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, func(Record) bool { return false }},
		{"all three", Filter{MSISDN: "1003", Outcome: Busy, Since: since}, func(r Record) bool {
			return (r.Caller.String() == "1003" || r.Callee.String() == "1003") && r.Outcome == Busy && !r.SetupAt.Before(since)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []int64
			for _, r := range listAll(t, db, c.f) {
				got = append(got, r.ID)
			}
			if w := want(c.keep); !slices.Equal(got, w) {
				t.Fatalf("ids %v, want %v", got, w)
			}
		})
	}
	if n := len(want(func(r Record) bool { return r.Outcome == Busy && r.Caller.String() == "1003" })); n < 2 {
		t.Fatalf("the data should hold several busy calls of 1003, has %d", n)
	}

	if _, err := List(context.Background(), db, Filter{Outcome: 9}, 0, 10); !errors.Is(err, ErrInvalid) {
		t.Fatalf("List with outcome 9: %v, want ErrInvalid", err)
	}
}

func TestListPaging(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{})
	const n = store.MaxPageLimit + 50
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = sample(i)
	}
	appendAll(t, w, recs...)

	var seen []int64
	after := int64(0)
	for {
		page, err := List(ctx, db, Filter{Outcome: Answered}, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 7 {
			t.Fatalf("page of %d, limit 7", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			seen = append(seen, r.ID)
		}
		after = page[len(page)-1].ID
	}
	var want []int64
	for _, r := range listAll(t, db, Filter{}) {
		if r.Outcome == Answered {
			want = append(want, r.ID)
		}
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("paged %d ids, want %d, in order without repeats", len(seen), len(want))
	}

	for _, c := range []struct{ limit, want int }{{0, store.DefaultPageLimit}, {-3, store.DefaultPageLimit}, {n, store.MaxPageLimit}} {
		page, err := List(ctx, db, Filter{}, 0, c.limit)
		if err != nil || len(page) != c.want {
			t.Errorf("limit %d: %d records, %v; want %d", c.limit, len(page), err, c.want)
		}
	}
}

// TestListSince covers the three ways a Since filter starts its walk (see
// sinceFloor): with more calls ended since then than the probe, with
// fewer, and with none; a long call, early in id order but ended late,
// must not be skipped.
func TestListSince(t *testing.T) {
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{})
	long := sample(0)
	long.SetupAt, long.EndedAt = base.Add(9000*time.Second), base.Add(20000*time.Second)
	recs := []Record{long}
	for i := range 10100 {
		r := sample(i)
		r.SetupAt = base.Add(time.Duration(i) * time.Second)
		r.AnsweredAt, r.EndedAt = time.Time{}, r.SetupAt.Add(time.Second)
		recs = append(recs, r)
	}
	appendAll(t, w, recs...)
	all := listAll(t, db, Filter{})
	for _, since := range []time.Duration{-time.Second, 8000 * time.Second, 9500 * time.Second, 30000 * time.Second} {
		f := Filter{Since: base.Add(since)}
		var want, got []int64
		for _, r := range all {
			if !r.SetupAt.Before(f.Since) {
				want = append(want, r.ID)
			}
		}
		for _, r := range listAll(t, db, f) {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("since %v from base: %d records, want %d", since, len(got), len(want))
		}
		if since == 8000*time.Second && (len(got) == 0 || got[0] != all[0].ID) {
			t.Errorf("since %v from base: the long call is missing", since)
		}
	}
}

// TestListScanLimit lists the calls of a number whose calls are few and
// far apart in a table of more than twice ScanLimit records: each List
// walks at most ScanLimit ids and, when the walk ends before the page is
// full, answers a short page and where to go on; the pages put together
// are the brute-force answer. A walk through the outcome index alone fills
// its pages and is never cut.
func TestListScanLimit(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{})
	const n = 2*ScanLimit + 5000
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = sample(i)
	}
	// 777 calls early on, once in the middle and 30 times at the end.
	recs[3].Caller = msisdn("777")
	recs[ScanLimit+100].Callee = msisdn("777")
	for i := n - 30; i < n; i += 2 {
		recs[i].Caller, recs[i+1].Callee = msisdn("777"), msisdn("777")
	}
	// A long call early on: a listing since late in the table walks from it.
	since := recs[n-40].SetupAt
	recs[5].EndedAt = since.Add(time.Hour)
	appendAll(t, w, recs...)
	all := listAll(t, db, Filter{})
	if len(all) != n {
		t.Fatalf("%d records, want %d", len(all), n)
	}
	walked := func(after, upTo int64) int {
		var k int
		if err := db.DB().QueryRow(`SELECT count(*) FROM calls WHERE id > ? AND id <= ?`, after, upTo).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	party := func(r Record) bool { return r.Caller.String() == "777" || r.Callee.String() == "777" }
	cases := []struct {
		name string
		f    Filter
		keep func(Record) bool
		cut  bool // some pages are cut short
	}{
		{"msisdn", Filter{MSISDN: "777"}, party, true},
		{"msisdn and outcome", Filter{MSISDN: "777", Outcome: NoFrequency},
			func(r Record) bool { return party(r) && r.Outcome == NoFrequency }, true},
		{"since, after a long call", Filter{Since: since}, func(r Record) bool { return !r.SetupAt.Before(since) }, true},
		{"outcome alone", Filter{Outcome: Dropped}, func(r Record) bool { return r.Outcome == Dropped }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const limit = 10
			var got, want []int64
			for _, r := range all {
				if c.keep(r) {
					want = append(want, r.ID)
				}
			}
			cuts, after := 0, int64(0)
			for calls := 0; ; calls++ {
				if calls > n/ScanLimit+len(want)/limit+2 {
					t.Fatalf("still listing after %d calls", calls)
				}
				page, err := List(ctx, db, c.f, after, limit)
				var cut *ScanLimitError
				if err != nil && !errors.As(err, &cut) {
					t.Fatal(err)
				}
				if len(page) > limit || cut != nil && (len(page) == limit || cut.After <= after) {
					t.Fatalf("after %d: %d records, %v", after, len(page), err)
				}
				for _, r := range page {
					got = append(got, r.ID)
				}
				upTo := all[n-1].ID // the walk's last id
				switch {
				case cut != nil:
					upTo = cut.After
				case len(page) == limit:
					upTo = page[limit-1].ID
				}
				// A Since walk starts at its floor, not at the cursor.
				if k := walked(after, upTo); c.f.Since.IsZero() && k > ScanLimit {
					t.Errorf("after %d: walked %d records, more than %d", after, k, ScanLimit)
				}
				if cut != nil {
					cuts++
					after = cut.After
					continue
				}
				if len(page) < limit {
					break
				}
				after = page[limit-1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("listed %v, want %v", got, want)
			}
			if c.cut && cuts < 2 || !c.cut && cuts > 0 {
				t.Errorf("%d pages cut short", cuts)
			}
		})
	}
}

package hlr

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/store"
)

const imsiA, imsiB = "001010000000001", "001010000000002"

func TestCreateGetDelete(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	m123, m0123 := msisdn(t, "123"), msisdn(t, "0123")

	before := time.Now()
	got, err := s.Create(ctx, Subscriber{MSISDN: m123, IMSI: imsiA, Attached: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.MSISDN != m123 || got.IMSI != imsiA || got.Attached || got.CreatedAt.Before(before.Add(-time.Second)) {
		t.Fatalf("Create returned %+v", got)
	}
	if read, err := s.Get(ctx, m123); err != nil || read != got {
		t.Fatalf("Get = %+v, %v; want %+v", read, err, got)
	}
	if !s.Provisioned(m123) || s.Provisioned(m0123) {
		t.Fatal("Provisioned does not match what was created")
	}

	cases := []struct {
		name string
		sub  Subscriber
		code string // "" = created
		why  string
	}{
		{"leading zero is another number", Subscriber{MSISDN: m0123}, "", ""},
		{"same msisdn", Subscriber{MSISDN: m123}, "already_exists", "123"},
		{"imsi of another", Subscriber{MSISDN: msisdn(t, "124"), IMSI: imsiA}, "already_exists", "imsi"},
		{"short imsi", Subscriber{MSISDN: msisdn(t, "125"), IMSI: "12345"}, "invalid_request", "imsi"},
		{"long imsi", Subscriber{MSISDN: msisdn(t, "125"), IMSI: "0010100000000011"}, "invalid_request", "imsi"},
		{"imsi not digits", Subscriber{MSISDN: msisdn(t, "125"), IMSI: "00101000000000x"}, "invalid_request", "imsi"},
		{"no msisdn", Subscriber{IMSI: imsiB}, "invalid_msisdn", "required"},
		{"malformed msisdn", Subscriber{MSISDN: 1<<lenBits | 3}, "invalid_msisdn", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows := rowCount(t, db)
			_, err := s.Create(ctx, c.sub)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if errcode.Of(err).String() != c.code || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("Create = %v, want %s mentioning %q", err, c.code, c.why)
			}
			if rowCount(t, db) != rows {
				t.Fatal("a refused Create wrote a row")
			}
		})
	}
	if s.Provisioned(msisdn(t, "124")) || s.Provisioned(msisdn(t, "125")) {
		t.Fatal("a refused Create is in the provisioned set")
	}

	if _, err := s.Get(ctx, msisdn(t, "999")); errcode.Of(err) != errcode.UnknownSubscriber {
		t.Fatalf("Get unknown = %v", err)
	}
	if err := s.Delete(ctx, m123); err != nil {
		t.Fatal(err)
	}
	if s.Provisioned(m123) {
		t.Fatal("deleted subscriber still provisioned")
	}
	if _, err := s.Get(ctx, m123); errcode.Of(err) != errcode.UnknownSubscriber {
		t.Fatalf("Get deleted = %v", err)
	}
	if err := s.Delete(ctx, m123); errcode.Of(err) != errcode.UnknownSubscriber {
		t.Fatalf("Delete twice = %v", err)
	}
	if _, err := s.Create(ctx, Subscriber{MSISDN: msisdn(t, "124"), IMSI: imsiA}); err != nil {
		t.Fatalf("the IMSI of a deleted subscriber is not free again: %v", err)
	}
}

func TestListPages(t *testing.T) {
	ctx := context.Background()
	s := newSubs(t, tempDB(t))
	strs := []string{"123", "0123", "124", "1", "10", "0", "00", "999999999999999", "2", "12", "125"}
	items := make([]Subscriber, len(strs))
	for i, str := range strs {
		items[i] = Subscriber{MSISDN: msisdn(t, str)}
	}
	if _, _, err := s.CreateBulk(ctx, items); err != nil {
		t.Fatal(err)
	}
	slices.Sort(strs)
	for _, limit := range []int{1, 4, 0, 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var got []string
			var after MSISDN
			for pages := 0; ; pages++ {
				if pages > len(strs) {
					t.Fatal("paging does not end")
				}
				page, err := s.List(ctx, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				if limit > 0 && len(page) > limit {
					t.Fatalf("page of %d, limit %d", len(page), limit)
				}
				for _, sub := range page {
					got = append(got, sub.MSISDN.String())
				}
				after = page[len(page)-1].MSISDN
			}
			if !slices.Equal(got, strs) {
				t.Fatalf("paged %v, want %v", got, strs)
			}
		})
	}
}

func TestSubscriberJSON(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		sub  Subscriber
		want string
	}{
		{Subscriber{MSISDN: msisdn(t, "0123"), CreatedAt: at},
			`{"msisdn":"0123","attached":false,"created_at":"2024-05-01T12:00:00Z"}`},
		{Subscriber{MSISDN: msisdn(t, "123"), IMSI: imsiA, Attached: true, CreatedAt: at, LastAttachAt: at, LastDetachAt: at},
			`{"msisdn":"123","imsi":"001010000000001","attached":true,"created_at":"2024-05-01T12:00:00Z",` +
				`"last_attach_at":"2024-05-01T12:00:00Z","last_detach_at":"2024-05-01T12:00:00Z"}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.sub)
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal = %s, %v; want %s", b, err, c.want)
		}
	}
}

func TestEnsureProvisioned(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	known := msisdn(t, "123")
	if _, err := s.Create(ctx, Subscriber{MSISDN: known}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		m       MSISDN
		auto    bool
		code    string // "" = nil
		created bool   // the row exists afterwards
	}{
		{"provisioned, auto off", known, false, "", true},
		{"provisioned, auto on", known, true, "", true},
		{"unknown, auto off", msisdn(t, "124"), false, "unknown_subscriber", false},
		{"unknown, auto on", msisdn(t, "125"), true, "", true},
		{"leading zero, auto on", msisdn(t, "0125"), true, "", true},
		{"no msisdn, auto on", 0, true, "invalid_msisdn", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.EnsureProvisioned(ctx, c.m, c.auto)
			if errcode.Of(err).String() != c.code || (c.code == "" && err != nil) {
				t.Fatalf("EnsureProvisioned = %v, want code %q", err, c.code)
			}
			// Read with SQL: the row must be committed when it returns.
			var n int
			if err := db.DB().QueryRow(`SELECT count(*) FROM subscribers WHERE msisdn = ?`, c.m.String()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if (n == 1) != c.created || s.Provisioned(c.m) != c.created {
				t.Fatalf("row exists %v, provisioned %v; want %v", n == 1, s.Provisioned(c.m), c.created)
			}
		})
	}
}

// TestEnsureProvisionedNeedsNoDatabase proves the attach-time check of a
// provisioned subscriber does no SQL: it works with the database closed.
func TestEnsureProvisionedNeedsNoDatabase(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	m := msisdn(t, "123")
	if _, err := s.Create(ctx, Subscriber{MSISDN: m}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := s.EnsureProvisioned(ctx, m, false); err != nil {
		t.Fatalf("provisioned, database closed: %v", err)
	}
	if err := s.EnsureProvisioned(ctx, msisdn(t, "124"), true); err == nil {
		t.Fatal("auto-provision succeeded with the database closed")
	}
}

func TestEnsureProvisionedConcurrent(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	// Every caller provisions every number, from a different starting point,
	// so the same number is asked for concurrently and in different batches.
	const numbers, callers = 200, 16
	ms := make([]MSISDN, numbers)
	for i := range ms {
		ms[i] = msisdn(t, fmt.Sprintf("%05d", i))
	}
	start := make(chan struct{})
	errs := make(chan error, numbers*callers)
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Go(func() {
			<-start
			for i := range ms {
				errs <- s.EnsureProvisioned(ctx, ms[(i+c*numbers/callers)%numbers], true)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rowCount(t, db); n != numbers {
		t.Fatalf("%d rows, want %d: each number exactly once", n, numbers)
	}
}

func TestEnsureProvisionedAfterClose(t *testing.T) {
	s := newSubs(t, tempDB(t))
	s.Close()
	err := s.EnsureProvisioned(context.Background(), msisdn(t, "123"), true)
	if errcode.Of(err) != errcode.Unavailable {
		t.Fatalf("after Close: %v, want unavailable", err)
	}
}

// TestSurvivesReopen is a restart: new Subscribers on the same file find
// every subscriber, however it was created, and the times written.
func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bsc.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSubscribers(ctx, st, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.Create(ctx, Subscriber{MSISDN: msisdn(t, "0123"), IMSI: imsiA})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateBulk(ctx, []Subscriber{{MSISDN: msisdn(t, "124")}, {MSISDN: msisdn(t, "125")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureProvisioned(ctx, msisdn(t, "126"), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, msisdn(t, "125")); err != nil {
		t.Fatal(err)
	}
	attachedAt := time.Date(2024, 5, 1, 12, 0, 0, 42, time.UTC)
	s.Touch(created.MSISDN, true, attachedAt)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := newSubs(t, openDB(t, path))
	for _, str := range []string{"0123", "124", "126"} {
		if !s2.Provisioned(msisdn(t, str)) {
			t.Errorf("%s not provisioned after reopening", str)
		}
	}
	for _, str := range []string{"123", "125"} {
		if s2.Provisioned(msisdn(t, str)) {
			t.Errorf("%s provisioned after reopening", str)
		}
	}
	if n := s2.Stats().Provisioned; n != 3 {
		t.Errorf("%d provisioned, want 3", n)
	}
	got, err := s2.Get(ctx, created.MSISDN)
	created.LastAttachAt = attachedAt
	if err != nil || got != created {
		t.Fatalf("after reopening: %+v, %v; want %+v", got, err, created)
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func insertSubs(t *testing.T, s *Store, rows ...SubscriberRow) int {
	t.Helper()
	n, err := s.InsertSubscribers(context.Background(), len(rows), func(i int) SubscriberRow { return rows[i] })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func subscriberMSISDNs(t *testing.T, s *Store) []string {
	t.Helper()
	var got []string
	err := s.EachSubscriberMSISDN(context.Background(), func(m []byte) error {
		got = append(got, string(m))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

func TestInsertSubscribers(t *testing.T) {
	ctx := context.Background()
	const imsi = "001010000000001"
	cases := []struct {
		name      string
		rows      []SubscriberRow
		created   int
		errIndex  int  // -1: no error
		imsiTaken bool // the error is ErrIMSITaken
		after     []string
	}{
		{"new", []SubscriberRow{{MSISDN: "2"}, {MSISDN: "3", IMSI: "001010000000003"}}, 2, -1, false, []string{"1", "2", "3"}},
		{"existing and repeated left out", []SubscriberRow{{MSISDN: "1", IMSI: "001010000000009"}, {MSISDN: "2"}, {MSISDN: "2"}}, 1, -1, false, []string{"1", "2"}},
		{"imsi of another", []SubscriberRow{{MSISDN: "2"}, {MSISDN: "3", IMSI: imsi}}, 0, 1, true, []string{"1"}},
		{"imsi repeated", []SubscriberRow{{MSISDN: "2", IMSI: "001010000000002"}, {MSISDN: "3", IMSI: "001010000000002"}}, 0, 1, true, []string{"1"}},
		{"refused by a CHECK", []SubscriberRow{{MSISDN: "2"}, {MSISDN: "x"}}, 0, 1, false, []string{"1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openT(t, Memory)
			insertSubs(t, s, SubscriberRow{MSISDN: "1", IMSI: imsi, CreatedAt: 7})
			created, err := s.InsertSubscribers(ctx, len(c.rows), func(i int) SubscriberRow { return c.rows[i] })
			var row *RowError
			switch {
			case c.errIndex < 0 && (err != nil || created != c.created):
				t.Fatalf("created %d, %v; want %d", created, err, c.created)
			case c.errIndex >= 0 && (!errors.As(err, &row) || row.Index != c.errIndex):
				t.Fatalf("err %v, want a RowError at %d", err, c.errIndex)
			}
			if errors.Is(err, ErrIMSITaken) != c.imsiTaken {
				t.Fatalf("err %v, want ErrIMSITaken: %v", err, c.imsiTaken)
			}
			if got := subscriberMSISDNs(t, s); !slices.Equal(got, c.after) {
				t.Fatalf("subscribers %v, want %v", got, c.after)
			}
			// An existing subscriber is left as it was.
			if got, ok, err := s.Subscriber(ctx, "1"); err != nil || !ok || got != (SubscriberRow{MSISDN: "1", IMSI: imsi, CreatedAt: 7}) {
				t.Fatalf("subscriber 1: %+v, %v, %v", got, ok, err)
			}
		})
	}
}

func TestSubscriberReadAndDelete(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Memory)
	insertSubs(t, s, SubscriberRow{MSISDN: "10", CreatedAt: 1}, SubscriberRow{MSISDN: "9", IMSI: "001010000000009", CreatedAt: 2},
		SubscriberRow{MSISDN: "011", CreatedAt: 3})
	if n, err := s.CountSubscribers(ctx); err != nil || n != 3 {
		t.Fatalf("CountSubscribers = %d, %v", n, err)
	}
	// Byte order, page by page.
	var got []SubscriberRow
	after := ""
	for {
		page, err := s.ListSubscribers(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].MSISDN
	}
	want := []SubscriberRow{{MSISDN: "011", CreatedAt: 3}, {MSISDN: "10", CreatedAt: 1}, {MSISDN: "9", IMSI: "001010000000009", CreatedAt: 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %+v, want %+v", got, want)
	}
	if _, ok, err := s.Subscriber(ctx, "11"); ok || err != nil {
		t.Fatalf("Subscriber(11): ok %v, %v; want not ok and no error", ok, err)
	}
	if ok, err := s.DeleteSubscriber(ctx, "10"); !ok || err != nil {
		t.Fatalf("DeleteSubscriber(10) = %v, %v", ok, err)
	}
	if ok, err := s.DeleteSubscriber(ctx, "10"); ok || err != nil {
		t.Fatalf("DeleteSubscriber(10) again = %v, %v; want not ok and no error", ok, err)
	}
	if got := subscriberMSISDNs(t, s); !slices.Equal(got, []string{"011", "9"}) {
		t.Fatalf("after the delete: %v", got)
	}
}

func TestEachSubscriberMSISDNStopsAtError(t *testing.T) {
	s := openT(t, Memory)
	insertSubs(t, s, SubscriberRow{MSISDN: "1"}, SubscriberRow{MSISDN: "2"}, SubscriberRow{MSISDN: "3"})
	stop := errors.New("stop")
	calls := 0
	err := s.EachSubscriberMSISDN(context.Background(), func([]byte) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Fatalf("err %v after %d calls, want fn's error after one", err, calls)
	}
}

// TestTouchSubscribers: each time is the later of the stored and the
// given, 0 never wins, an unknown MSISDN adds no row, and a write of more
// rows than a statement carries reaches them all.
func TestTouchSubscribers(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Memory)
	const n = 2*touchChunk + 5
	var rows []SubscriberRow
	var touches []SubscriberTouch
	for i := range n {
		m := fmt.Sprintf("%03d", i)
		rows = append(rows, SubscriberRow{MSISDN: m})
		touches = append(touches, SubscriberTouch{MSISDN: m, Attach: int64(100 + i), Detach: int64(200 + i)})
	}
	insertSubs(t, s, rows...)
	if err := s.TouchSubscribers(ctx, append(touches, SubscriberTouch{MSISDN: "999", Attach: 1})); err != nil {
		t.Fatal(err)
	}
	// Earlier times and zeros change nothing; a later attach does.
	if err := s.TouchSubscribers(ctx, []SubscriberTouch{{MSISDN: "000", Attach: 50, Detach: 0}, {MSISDN: "001", Attach: 500}}); err != nil {
		t.Fatal(err)
	}
	for i, tc := range touches {
		got, ok, err := s.Subscriber(ctx, tc.MSISDN)
		wantAttach := tc.Attach
		if i == 1 {
			wantAttach = 500
		}
		if err != nil || !ok || got.LastAttachAt != wantAttach || got.LastDetachAt != tc.Detach {
			t.Fatalf("%s: %+v, %v, %v; want attach %d detach %d", tc.MSISDN, got, ok, err, wantAttach, tc.Detach)
		}
	}
	if c, err := s.CountSubscribers(ctx); err != nil || c != n {
		t.Fatalf("%d subscribers, %v; want %d: a touch of an unknown MSISDN adds none", c, err, n)
	}
}

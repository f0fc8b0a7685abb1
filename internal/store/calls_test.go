package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// callRow is row i, every column set; every third has no frequency and no
// answer (NULLs).
func callRow(i int) CallRow {
	at := int64(1_700_000_000_000_000_000) + int64(i)*int64(time.Second)
	r := CallRow{
		Caller: fmt.Sprint(1000 + i%7), Callee: fmt.Sprint(2000 + i%5), Frequency: int64(10 + i%6),
		Outcome: uint8(1 + i%6), EndedBy: uint8(1 + i%3), SetupAt: at, AnsweredAt: at + 1500, EndedAt: at + 4000,
	}
	if i%3 == 2 {
		r.Frequency, r.AnsweredAt = 0, 0
	}
	return r
}

// TestCallInserterBatchShapes: whatever the sizes of the segments (cut
// into statements of 64 rows and the rest), every row is committed once, in
// order, as it was given, and 0 is stored as NULL.
func TestCallInserterBatchShapes(t *testing.T) {
	ctx := context.Background()
	cases := [][]int{{1}, {2}, {3}, {63}, {64}, {65}, {130}, {5, 7}, {64, 1, 127}, {0, 3}, {60, 4}, {60, 5}}
	for _, segSizes := range cases {
		t.Run(fmt.Sprint(segSizes), func(t *testing.T) {
			s := openT(t, Memory)
			in := s.NewCallInserter()
			defer in.Close()
			var want []CallRow
			var segs [][]CallRow
			for _, n := range segSizes {
				var seg []CallRow
				for range n {
					r := callRow(len(want))
					want = append(want, r)
					seg = append(seg, r)
				}
				segs = append(segs, seg)
			}
			if err := in.Insert(segs); err != nil {
				t.Fatal(err)
			}
			got, stoppedAt, err := s.ListCalls(ctx, CallFilter{}, 0, MaxPageLimit)
			if err != nil || stoppedAt != 0 {
				t.Fatalf("ListCalls: %v, stopped at %d", err, stoppedAt)
			}
			for i := range got {
				if got[i].ID <= 0 || i > 0 && got[i].ID <= got[i-1].ID {
					t.Fatalf("ids %d then %d: not increasing", got[i-1].ID, got[i].ID)
				}
				want[i].ID = got[i].ID
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
			var nulls int
			if err := s.db.QueryRow(`SELECT count(*) FROM calls WHERE frequency IS NULL AND answered_at IS NULL`).Scan(&nulls); err != nil {
				t.Fatal(err)
			}
			if nulls != len(want)/3 {
				t.Fatalf("%d rows with NULLs, want %d", nulls, len(want)/3)
			}
		})
	}
}

// TestCallInserterAllOrNothing: a row the table refuses fails the whole
// batch, rows before it included, and the inserter works afterwards; a
// batch of one statement on its own (autocommit) as well as one of several
// in a transaction.
func TestCallInserterAllOrNothing(t *testing.T) {
	cases := []struct{ rows, bad int }{
		{rows: 1, bad: 0},
		{rows: 5, bad: 3},
		{rows: maxStatementRows, bad: maxStatementRows - 1},
		{rows: 70, bad: 66}, // in the second statement
		{rows: 2*maxStatementRows + 3, bad: 2 * maxStatementRows},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.rows), func(t *testing.T) {
			ctx := context.Background()
			s := openT(t, Memory)
			in := s.NewCallInserter()
			defer in.Close()
			seg := make([]CallRow, c.rows)
			for i := range seg {
				seg[i] = callRow(i)
			}
			seg[c.bad].Outcome = 9 // the CHECK refuses it
			if err := in.Insert([][]CallRow{seg}); err == nil {
				t.Fatal("Insert of a bad row succeeded")
			}
			if got, _, err := s.ListCalls(ctx, CallFilter{}, 0, MaxPageLimit); err != nil || len(got) != 0 {
				t.Fatalf("after a failed batch: %d rows, %v; want none", len(got), err)
			}
			seg[c.bad].Outcome = 1
			if err := in.Insert([][]CallRow{seg}); err != nil {
				t.Fatal(err)
			}
			if got, _, err := s.ListCalls(ctx, CallFilter{}, 0, MaxPageLimit); err != nil || len(got) != len(seg) {
				t.Fatalf("after a good batch: %d rows, %v; want %d", len(got), err, len(seg))
			}
		})
	}
}

func TestCall(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Memory)
	in := s.NewCallInserter()
	defer in.Close()
	if err := in.Insert([][]CallRow{{callRow(2)}}); err != nil {
		t.Fatal(err)
	}
	all, _, err := s.ListCalls(ctx, CallFilter{}, 0, 10)
	if err != nil || len(all) != 1 {
		t.Fatalf("ListCalls: %v, %v", all, err)
	}
	got, ok, err := s.Call(ctx, all[0].ID)
	if err != nil || !ok || got != all[0] {
		t.Fatalf("Call(%d) = %+v, %v, %v; want %+v", all[0].ID, got, ok, err, all[0])
	}
	if _, ok, err := s.Call(ctx, all[0].ID+1); ok || err != nil {
		t.Fatalf("Call of a missing id: ok %v, %v; want not ok and no error", ok, err)
	}
}

// TestListCallsStopsAtScanLimit: a filter on the parties walks at most
// CallScanLimit ids and says where it stopped; going on from there finds
// the rest.
func TestListCallsStopsAtScanLimit(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Memory)
	in := s.NewCallInserter()
	defer in.Close()
	rows := make([]CallRow, CallScanLimit+10)
	for i := range rows {
		rows[i] = callRow(i)
	}
	rows[3].Caller, rows[CallScanLimit+5].Callee = "777", "777"
	if err := in.Insert([][]CallRow{rows}); err != nil {
		t.Fatal(err)
	}
	f := CallFilter{Party: "777"}
	page, stoppedAt, err := s.ListCalls(ctx, f, 0, 10)
	if err != nil || len(page) != 1 || stoppedAt != CallScanLimit {
		t.Fatalf("first page: %d rows, stopped at %d, %v; want 1 and %d", len(page), stoppedAt, err, CallScanLimit)
	}
	page, stoppedAt, err = s.ListCalls(ctx, f, stoppedAt, 10)
	if err != nil || len(page) != 1 || page[0].Callee != "777" || stoppedAt != 0 {
		t.Fatalf("second page: %+v, stopped at %d, %v; want the second call and the end", page, stoppedAt, err)
	}
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPageLimit(t *testing.T) {
	cases := []struct{ in, want int }{{-1, 100}, {0, 100}, {1, 1}, {100, 100}, {1000, 1000}, {1001, 1000}}
	for _, c := range cases {
		if got := PageLimit(c.in); got != c.want {
			t.Errorf("PageLimit(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestAlarmHistoryKeysetPaging(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Memory)
	base := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	var want []AlarmRecord
	for i := 0; i < 5; i++ {
		rec := AlarmRecord{
			Alarm: "no_frequency", Action: []string{ActionSet, ActionClear}[i%2], Severity: "major",
			Source: "frequency", Description: fmt.Sprint("record ", i), At: base.Add(time.Duration(i) * time.Second),
		}
		id, err := s.AppendAlarm(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		rec.ID = id
		want = append(want, rec)
	}
	var got []AlarmRecord
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := s.AlarmHistory(ctx, AlarmQuery{AfterID: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d, limit 2", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if len(got) != len(want) {
		t.Fatalf("paged %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("ids not increasing: %d then %d", got[i-1].ID, got[i].ID)
		}
	}
}

func TestAppendAlarmRefusesUnknownAction(t *testing.T) {
	s := openT(t, Memory)
	if _, err := s.AppendAlarm(context.Background(), AlarmRecord{Alarm: "x", Action: "toggle"}); err == nil {
		t.Fatal("action toggle accepted")
	}
}

func cellP(c int) *int { return &c }

// ids is the IDs of recs, in order.
func ids(recs []AlarmRecord) []int64 {
	out := []int64{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// TestAlarmHistoryMigratesOldRows: a database written before the alarm
// history had cells keeps its rows, with no cell and no node: a listing of
// every record shows them, one of a cell does not.
func TestAlarmHistoryMigratesOldRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bsc.db")
	ms := migrations()
	i := slices.IndexFunc(ms, func(m migration) bool { return m.name == "0006_alarm_history_cell.sql" })
	if i < 0 {
		t.Fatal("no migration 0006_alarm_history_cell.sql")
	}
	db, err := sql.Open("sqlite3", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, ms[:i]); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, action := range []string{ActionSet, ActionClear} {
		if _, err := db.Exec(`INSERT INTO alarm_history (alarm, action, severity, source, description, at) VALUES (?, ?, ?, ?, ?, ?)`,
			"no_frequency", action, "major", "frequency", "old", at.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openT(t, path)
	recs, err := s.AlarmHistory(ctx, AlarmQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := AlarmRecord{ID: 1, Alarm: "no_frequency", Action: ActionSet, Severity: "major", Source: "frequency", Description: "old", At: at}
	if len(recs) != 2 || recs[0] != want || recs[1].Cell != nil || recs[1].Node != "" {
		t.Fatalf("old rows after the migration: %+v, want two like %+v", recs, want)
	}
	if _, err := s.AppendAlarm(ctx, AlarmRecord{Alarm: "no_frequency", Action: ActionSet, Severity: "major", At: at, Cell: cellP(0), Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	recs, err = s.AlarmHistory(ctx, AlarmQuery{Cell: cellP(0)})
	if err != nil || !slices.Equal(ids(recs), []int64{3}) || *recs[0].Cell != 0 || recs[0].Node != "n1" {
		t.Fatalf("cell 0's history: %+v (%v), want only record 3, of cell 0 on n1", recs, err)
	}
}

// TestAlarmHistoryByCell: a cell's history is its records only, paged in
// seq order or in time order (at, then seq: records of one time are told
// apart by seq, and the order of time need not be the order of seq).
func TestAlarmHistoryByCell(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Memory)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	// id: cell, seconds after t0
	rows := []struct {
		cell *int
		sec  int
	}{
		1: {cellP(0), 2}, 2: {cellP(1), 1}, 3: {cellP(0), 1}, 4: {nil, 0},
		5: {cellP(0), 2}, 6: {cellP(1), 3}, 7: {cellP(0), 0},
	}
	var recs []AlarmRecord
	for _, r := range rows[1:] {
		recs = append(recs, AlarmRecord{Alarm: "no_frequency", Action: ActionSet, Severity: "major",
			At: t0.Add(time.Duration(r.sec) * time.Second), Cell: r.cell, Node: "n1"})
	}
	if err := s.AppendAlarms(ctx, recs); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    AlarmQuery
		want []int64 // the whole history, page by page
	}{
		{"every record", AlarmQuery{Limit: 2}, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"cell 0 by seq", AlarmQuery{Cell: cellP(0), Limit: 2}, []int64{1, 3, 5, 7}},
		{"cell 1 by seq", AlarmQuery{Cell: cellP(1), Limit: 2}, []int64{2, 6}},
		{"cell 0 by time", AlarmQuery{Cell: cellP(0), ByTime: true, Limit: 2}, []int64{7, 3, 1, 5}},
		{"cell 0 by time, one a page", AlarmQuery{Cell: cellP(0), ByTime: true, AfterAt: t0.Add(-time.Second), Limit: 1}, []int64{7, 3, 1, 5}},
		{"cell 0 by time, after record 1", AlarmQuery{Cell: cellP(0), ByTime: true, AfterAt: t0.Add(2 * time.Second), AfterID: 1, Limit: 2}, []int64{5}},
		{"cell 2, none", AlarmQuery{Cell: cellP(2)}, []int64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := []int64{}
			q := c.q
			for pages := 0; ; pages++ {
				if pages > len(rows) {
					t.Fatal("paging does not end")
				}
				page, err := s.AlarmHistory(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, r := range page {
					if want := rows[r.ID].cell; (r.Cell == nil) != (want == nil) || r.Cell != nil && *r.Cell != *want {
						t.Fatalf("record %d read with cell %v, written with %v", r.ID, r.Cell, want)
					}
				}
				got = append(got, ids(page)...)
				q = q.After(page[len(page)-1])
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("records %v, want %v", got, c.want)
			}
		})
	}
}

package store

import (
	"context"
	"fmt"
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
		page, err := s.AlarmHistory(ctx, after, 2)
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

package calls

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/store/storetest"
)

// openDB opens a migrated database file in a fresh directory (store.Memory
// has one connection, which a test holding the write lock would take).
func openDB(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bsc.db")
	return reopen(t, path), path
}

func reopen(t testing.TB, path string) *store.Store {
	t.Helper()
	return storetest.Open(t, path)
}

// newWriter starts a writer that the test closes at its end, checking that
// nothing was lost unless the test expects it.
func newWriter(t testing.TB, db *store.Store, cfg WriterConfig) *Writer {
	t.Helper()
	w := NewWriter(db, cfg)
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

// msisdn is s, digits.
func msisdn(s string) hlr.MSISDN {
	m, err := hlr.ParseMSISDN(s)
	if err != nil {
		panic(err)
	}
	return m
}

var base = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

// sample is record i, every field set; every third is unanswered and
// without a frequency.
func sample(i int) Record {
	r := Record{
		Caller: msisdn(fmt.Sprint(1000 + i%7)), Callee: msisdn(fmt.Sprint(2000 + i%5)),
		Frequency: 10 + i%6, Outcome: Outcome(1 + i%6), EndedBy: endedByNames[1+i%3],
		SetupAt:    base.Add(time.Duration(i) * time.Second),
		AnsweredAt: base.Add(time.Duration(i)*time.Second + 1500*time.Millisecond),
		EndedAt:    base.Add(time.Duration(i)*time.Second + 4*time.Second + 7),
	}
	if i%3 == 2 {
		r.Frequency, r.AnsweredAt = 0, time.Time{}
	}
	return r
}

// appendAll appends recs and waits until they are committed.
func appendAll(t testing.TB, w *Writer, recs ...Record) {
	t.Helper()
	for _, r := range recs {
		if _, err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// listAll pages through every record matching f, going on where a walk
// stopped at ScanLimit.
func listAll(t testing.TB, db *store.Store, f Filter) []Record {
	t.Helper()
	var all []Record
	after := int64(0)
	for {
		page, err := List(context.Background(), db, f, after, store.MaxPageLimit)
		var cut *ScanLimitError
		switch {
		case errors.As(err, &cut):
			after = cut.After
		case err != nil:
			t.Fatal(err)
		case len(page) == 0:
			return all
		default:
			after = page[len(page)-1].ID
		}
		all = append(all, page...)
	}
}

func count(t testing.TB, db *store.Store) int {
	t.Helper()
	var n int
	if err := db.DB().QueryRow(`SELECT count(*) FROM calls`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lockDB takes the database's write lock until the returned func is
// called: the writer cannot commit meanwhile, so what is appended stays
// queued.
func lockDB(t testing.TB, db *store.Store) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	done := false
	unlock = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
			t.Error(err)
		}
		conn.Close()
	}
	t.Cleanup(unlock)
	return unlock
}

// value reads a counter or gauge, or a histogram's count of observations.
func value(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	case d.Histogram != nil:
		return float64(d.Histogram.GetSampleCount())
	}
	t.Fatalf("metric %v is not a counter, gauge or histogram", m.Desc())
	return 0
}

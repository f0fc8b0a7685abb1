package calls

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// breakTable makes every write fail until repair is called.
func breakTable(t *testing.T, db *sql.DB) (repair func()) {
	t.Helper()
	if _, err := db.Exec(`ALTER TABLE calls RENAME TO calls_away`); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := db.Exec(`ALTER TABLE calls_away RENAME TO calls`); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFailedBatchIsRetried(t *testing.T) {
	db, _ := openDB(t)
	m := NewMetrics(prometheus.NewRegistry())
	// The first retry waits long enough for the test to repair the table.
	w := newWriter(t, db, WriterConfig{Retries: 3, Backoff: time.Second, Metrics: m})
	repair := breakTable(t, db)
	if err := w.Append(sample(0)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, wait, "a failed write", func() bool { return value(t, m.writeErrors) >= 1 })
	repair()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 1 || value(t, m.failed) != 0 || value(t, m.rowsWritten) != 1 {
		t.Fatalf("%d rows, %v dropped, %v written; want the record written on a retry", n,
			value(t, m.failed), value(t, m.rowsWritten))
	}
}

// TestFailedBatchIsDroppedAfterRetries: a batch that keeps failing is
// given up, counted and reported by Flush and Close; the writer goes on
// with the next records.
func TestFailedBatchIsDroppedAfterRetries(t *testing.T) {
	db, _ := openDB(t)
	m := NewMetrics(prometheus.NewRegistry())
	w := NewWriter(db, WriterConfig{Retries: 2, Backoff: time.Millisecond, Metrics: m})
	repair := breakTable(t, db)
	for i := range 5 {
		if err := w.Append(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("Flush = %v, want ErrLost", err)
	}
	errs := value(t, m.writeErrors)
	if dropped := value(t, m.failed); dropped != 5 || errs < 3 || int(errs)%3 != 0 {
		t.Fatalf("%v dropped, %v write errors; want 5 dropped after 3 attempts a batch", dropped, errs)
	}

	repair()
	if err := w.Append(sample(5)); err != nil {
		t.Fatal(err)
	}
	// The loss stays reported, but the new record is written.
	if err := w.Flush(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("Flush after the loss = %v, want ErrLost", err)
	}
	if n := count(t, db); n != 1 || w.Committed() != 1 {
		t.Fatalf("%d rows, %d committed; want the record appended after the repair", n, w.Committed())
	}
	if err := w.Close(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("Close = %v, want ErrLost", err)
	}
}

// TestCloseGivesUpWhenContextEnds: a writer stuck retrying does not hold
// up the shutdown past Close's deadline; what it could not write is
// reported lost.
func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	db, _ := openDB(t)
	w := NewWriter(db, WriterConfig{Backoff: time.Hour})
	breakTable(t, db)
	for i := range 3 {
		if err := w.Append(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if !errors.Is(err, ErrLost) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want ErrLost and the deadline", err)
	}
	if err := w.Append(sample(3)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if err := w.Flush(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("Flush after Close = %v, want ErrLost", err)
	}
}

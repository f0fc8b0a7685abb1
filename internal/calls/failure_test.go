package calls

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// breakTable makes every write fail until repair is called.
func breakTable(t *testing.T, db *store.Store) (repair func()) {
	t.Helper()
	if _, err := db.DB().Exec(`ALTER TABLE calls RENAME TO calls_away`); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := db.DB().Exec(`ALTER TABLE calls_away RENAME TO calls`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFailedWritesKeepRecords: while the database cannot be written the
// writer keeps its records and retries, says so once through OnHealth,
// Wait and Reserve fail fast with ErrStorage; once writes work again
// everything queued is committed, OnHealth says so, and nothing is lost.
func TestFailedWritesKeepRecords(t *testing.T) {
	db, _ := openDB(t)
	m := NewMetrics(prometheus.NewRegistry())
	health := make(chan error, 16)
	w := newWriter(t, db, WriterConfig{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Metrics: m,
		OnHealth: func(err error) { health <- err }})
	repair := breakTable(t, db)
	var tickets []Ticket
	for i := range 5 {
		tk, err := w.Append(sample(i))
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	if err := <-health; err == nil {
		t.Fatal("OnHealth said nil first, want the write error")
	}
	testutil.Eventually(t, wait, "several retries", func() bool { return value(t, m.writeErrors) >= 3 })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Wait(ctx, tickets[4]); !errors.Is(err, store.ErrStorage) {
		t.Fatalf("Wait while writes fail = %v, want ErrStorage", err)
	}
	if err := w.Reserve(); !errors.Is(err, store.ErrStorage) {
		t.Fatalf("Reserve while writes fail = %v, want ErrStorage", err)
	}
	select {
	case err := <-health:
		t.Fatalf("OnHealth called again while failing: %v", err)
	default:
	}

	repair()
	if err := <-health; err != nil {
		t.Fatalf("OnHealth after the repair = %v, want nil", err)
	}
	for _, tk := range tickets {
		if err := w.Wait(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db); n != 5 || value(t, m.failed) != 0 || w.Committed() != 5 {
		t.Fatalf("%d rows, %v dropped, %d committed; want the 5 records kept and written", n,
			value(t, m.failed), w.Committed())
	}
	if err := w.Reserve(); err != nil {
		t.Fatalf("Reserve once writes work: %v", err)
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
		if _, err := w.Append(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if !errors.Is(err, ErrLost) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want ErrLost and the deadline", err)
	}
	if _, err := w.Append(sample(3)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if err := w.Flush(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("Flush after Close = %v, want ErrLost", err)
	}
}

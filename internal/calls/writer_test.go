package calls

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/testutil"
)

const wait = 20 * time.Second

func TestAppendRefusesInvalidRecords(t *testing.T) {
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{})
	cases := map[string]func(*Record){
		"no caller":          func(r *Record) { r.Caller = 0 },
		"no callee":          func(r *Record) { r.Callee = 0 },
		"no outcome":         func(r *Record) { r.Outcome = 0 },
		"unknown outcome":    func(r *Record) { r.Outcome = Dropped + 1 },
		"ended by nobody":    func(r *Record) { r.EndedBy = "" },
		"ended by other":     func(r *Record) { r.EndedBy = "network" },
		"negative frequency": func(r *Record) { r.Frequency = -1 },
		"no setup time":      func(r *Record) { r.SetupAt = time.Time{} },
		"no end time":        func(r *Record) { r.EndedAt = time.Time{} },
	}
	for name, spoil := range cases {
		r := sample(0)
		spoil(&r)
		if _, err := w.Append(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Append = %v, want ErrInvalid", name, err)
		}
	}
	appendAll(t, w, sample(1)) // the writer goes on, and only the valid record is written
	if n := count(t, db); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestAppendShedsWhenFull fills the queue while the writer cannot commit:
// Append without a reservation and Reserve must fail with ErrOverloaded at
// once, not wait for room.
func TestAppendShedsWhenFull(t *testing.T) {
	db, _ := openDB(t)
	m := NewMetrics(prometheus.NewRegistry())
	w := newWriter(t, db, WriterConfig{QueueSize: 8, MaxBatch: 3, Metrics: m})
	unlock := lockDB(t, db)
	for i := range 8 {
		if _, err := w.Append(sample(i)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if _, err := w.Append(sample(8)); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Append to a full queue = %v, want ErrOverloaded", err)
	}
	if err := w.Reserve(); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Reserve in a full queue = %v, want ErrOverloaded", err)
	}
	if shed := value(t, m.shed); shed != 2 {
		t.Fatalf("shed counter %v, want 2", shed)
	}
	if d := value(t, m.queueDepth); d != 8 {
		t.Fatalf("queue depth gauge %v, want 8", d)
	}

	unlock()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 8 || w.Committed() != 8 {
		t.Fatalf("%d rows, %d committed; want the 8 accepted", n, w.Committed())
	}
	if _, err := w.Append(sample(9)); err != nil {
		t.Fatalf("Append once there is room: %v", err)
	}
}

// TestReservedPlacesAlwaysFindRoom: a reservation is room kept for a
// record to come, so a queue full of promises refuses new reservations and
// appends beyond them, never a record a reservation promised.
func TestReservedPlacesAlwaysFindRoom(t *testing.T) {
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{QueueSize: 4, MaxBatch: 4})
	unlock := lockDB(t, db)
	for range 4 {
		if err := w.Reserve(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Reserve(); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Reserve with every place promised = %v, want ErrOverloaded", err)
	}
	var last Ticket
	for i := range 4 {
		tk, err := w.Append(sample(i))
		if err != nil {
			t.Fatalf("promised record %d refused: %v", i, err)
		}
		last = tk
	}
	if _, err := w.Append(sample(4)); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Append beyond the promises = %v, want ErrOverloaded", err)
	}
	unlock()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Wait(ctx, last); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}
}

// TestWaitReturnsOnceCommitted is the group commit: Wait returns only once
// the batch holding the record is committed.
func TestWaitReturnsOnceCommitted(t *testing.T) {
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{})
	unlock := lockDB(t, db)
	tk, err := w.Append(sample(0))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Wait(short, tk); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait while the database is locked = %v, want the deadline", err)
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("%d rows before the commit", n)
	}
	unlock()
	ctx, cancel2 := context.WithTimeout(context.Background(), wait)
	defer cancel2()
	if err := w.Wait(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 1 {
		t.Fatalf("%d rows after Wait, want 1", n)
	}
	if err := w.Wait(ctx, 0); err != nil {
		t.Fatalf("Wait for no record: %v", err)
	}
}

// A record not committed within the writer's WaitTimeout (a stalled disk)
// is not acknowledged: Wait says ErrNotCommitted (503), and the record
// stays queued and is committed once the disk moves again.
func TestWaitGivesUpAfterWaitTimeout(t *testing.T) {
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{WaitTimeout: 50 * time.Millisecond})
	unlock := lockDB(t, db)
	tk, err := w.Append(sample(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(context.Background(), tk); !errors.Is(err, ErrNotCommitted) {
		t.Fatalf("Wait while the database is locked = %v, want ErrNotCommitted", err)
	}
	unlock()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 1 {
		t.Fatalf("%d rows once the disk moves, want the record", n)
	}
}

// TestCloseWritesEverythingQueued is SIGTERM: records still queued when
// Close is called are committed before it returns.
func TestCloseWritesEverythingQueued(t *testing.T) {
	db, _ := openDB(t)
	w := NewWriter(db, WriterConfig{MaxBatch: 16})
	unlock := lockDB(t, db)
	const n = 100
	for i := range n {
		if _, err := w.Append(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- w.Close(context.Background()) }()
	// Close refuses new records at once, while the queued ones wait; those
	// accepted before it are written too.
	accepted := n
	testutil.Eventually(t, wait, "Close to refuse records", func() bool {
		_, err := w.Append(sample(0))
		if err == nil {
			accepted++
		}
		return errors.Is(err, ErrClosed)
	})
	unlock()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
	if got := count(t, db); got != accepted || w.Committed() != uint64(accepted) {
		t.Fatalf("%d rows, %d committed after Close, want %d", got, w.Committed(), accepted)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestFlushedRecordsSurviveReopen(t *testing.T) {
	db, path := openDB(t)
	w := NewWriter(db, WriterConfig{})
	appendAll(t, w, sample(0), sample(1))
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	got := listAll(t, reopen(t, path), Filter{})
	if len(got) != 2 || got[0].Caller != sample(0).Caller || got[1].EndedAt != sample(1).EndedAt {
		t.Fatalf("after reopening: %+v", got)
	}
}

// TestConcurrentAppendersLoseNothing has many goroutines append through a
// small queue, so that it wraps around many times and fills up: every
// record accepted is written exactly once.
func TestConcurrentAppendersLoseNothing(t *testing.T) {
	db, _ := openDB(t)
	w := newWriter(t, db, WriterConfig{QueueSize: 100, MaxBatch: 32})
	const goroutines, each = 16, 300
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r := sample(i)
				r.Caller = msisdn(fmt.Sprint(100 + g))
				r.Callee = msisdn(fmt.Sprint(i))
				for {
					_, err := w.Append(r)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrOverloaded) {
						t.Error(err)
						return
					}
					runtime.Gosched() // the queue is full: let the writer run
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[[2]string]int{}
	for _, r := range listAll(t, db, Filter{}) {
		seen[[2]string{r.Caller.String(), r.Callee.String()}]++
	}
	for g := range goroutines {
		for i := range each {
			if n := seen[[2]string{fmt.Sprint(100 + g), fmt.Sprint(i)}]; n != 1 {
				t.Fatalf("record %d of goroutine %d written %d times", i, g, n)
			}
		}
	}
	if w.Committed() != goroutines*each {
		t.Fatalf("Committed() = %d, want %d", w.Committed(), goroutines*each)
	}
}

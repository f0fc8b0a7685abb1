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
		"no caller":          func(r *Record) { r.Caller = "" },
		"no callee":          func(r *Record) { r.Callee = "" },
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
		if err := w.Append(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Append = %v, want ErrInvalid", name, err)
		}
	}
	appendAll(t, w, sample(1)) // the writer goes on, and only the valid record is written
	if n := count(t, db); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestAppendShedsWhenFull fills the queue while the writer cannot commit:
// Append must return ErrOverloaded at once, not wait for room.
func TestAppendShedsWhenFull(t *testing.T) {
	db, _ := openDB(t)
	m := NewMetrics(prometheus.NewRegistry())
	w := newWriter(t, db, WriterConfig{QueueSize: 8, MaxBatch: 3, Metrics: m})
	unlock := lockDB(t, db)
	for i := range 8 {
		if err := w.Append(sample(i)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Append(sample(8)); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Append to a full queue = %v, want ErrOverloaded", err)
	}
	if f := w.Fill(); f != 1 {
		t.Fatalf("Fill() = %v with a full queue", f)
	}
	if shed := value(t, m.shed); shed != 1 {
		t.Fatalf("shed counter %v, want 1", shed)
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
	if n := count(t, db); n != 8 || w.Committed() != 8 || w.Fill() != 0 {
		t.Fatalf("%d rows, %d committed, fill %v; want the 8 accepted and an empty queue", n, w.Committed(), w.Fill())
	}
	if err := w.Append(sample(9)); err != nil {
		t.Fatalf("Append once there is room: %v", err)
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
		if err := w.Append(sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- w.Close(context.Background()) }()
	// Close refuses new records at once, while the queued ones wait; those
	// accepted before it are written too.
	accepted := n
	testutil.Eventually(t, wait, "Close to refuse records", func() bool {
		err := w.Append(sample(0))
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
				r.Caller = fmt.Sprint(g)
				r.Callee = fmt.Sprint(i)
				for {
					err := w.Append(r)
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
		seen[[2]string{r.Caller, r.Callee}]++
	}
	for g := range goroutines {
		for i := range each {
			if n := seen[[2]string{fmt.Sprint(g), fmt.Sprint(i)}]; n != 1 {
				t.Fatalf("record %d of goroutine %d written %d times", i, g, n)
			}
		}
	}
	if w.Committed() != goroutines*each {
		t.Fatalf("Committed() = %d, want %d", w.Committed(), goroutines*each)
	}
}

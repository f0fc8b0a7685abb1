package calls

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// BenchmarkWriter is the sustained rate of records committed to a database
// file from 4 appenders, commits included: ns/op is per record. The
// appenders wait for the writer with Flush when the queue is full, so the
// figure is the writer's, not the rate of shedding.
func BenchmarkWriter(b *testing.B) {
	db, _ := openDB(b)
	w := newWriter(b, db, WriterConfig{})
	const appenders, phones = 4, 10000
	recs := make([]Record, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range recs {
		r := sample(i)
		r.Caller, r.Callee = msisdn(fmt.Sprint(1_000_000+rng.IntN(phones))), msisdn(fmt.Sprint(1_000_000+rng.IntN(phones)))
		recs[i] = r
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for a := range appenders {
		n := b.N / appenders
		if a == 0 {
			n += b.N % appenders
		}
		wg.Go(func() {
			for i := 0; i < n; {
				r := recs[(a*n+i)%len(recs)]
				// Calls end now and began up to a few seconds ago.
				r.EndedAt = time.Now()
				r.SetupAt = r.EndedAt.Add(-time.Duration(i%3000) * time.Millisecond)
				if !r.AnsweredAt.IsZero() {
					r.AnsweredAt = r.SetupAt.Add(time.Second)
				}
				_, err := w.Append(r)
				switch {
				case err == nil:
					i++
				case errors.Is(err, ErrOverloaded):
					if err := w.Flush(ctx); err != nil {
						b.Error(err)
						return
					}
				default:
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	if got := w.Committed(); got != uint64(b.N) {
		b.Fatalf("committed %d of %d", got, b.N)
	}
}

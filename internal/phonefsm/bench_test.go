package phonefsm

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// nopRecords drops records: the writer is measured in internal/calls.
type nopRecords struct{ NoNotes }

func (nopRecords) Reserve() error                           { return nil }
func (nopRecords) Record(calls.Record) calls.Ticket         { return 0 }
func (nopRecords) Wait(context.Context, calls.Ticket) error { return nil }

// BenchmarkAttach attaches n phones (controller, supervisor child,
// registry entry, device) and reports attaches per second and the memory
// they hold: growth of the Go runtime's total (Sys), of heap+stacks in use,
// and of RSS, per phone.
func BenchmarkAttach(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			numbers := make([]hlr.MSISDN, n)
			names := make([]string, n)
			for i := range numbers {
				names[i] = fmt.Sprint(46_700_000_000 + i)
				numbers[i], _ = hlr.ParseMSISDN(names[i])
			}
			for b.Loop() {
				b.StopTimer()
				w := newWorld(b, []int{10})
				w.phones.records = nopRecords{}
				before := testutil.ReadMemory(b)
				b.StartTimer()
				t0 := time.Now()
				for i, m := range numbers {
					if _, err := w.phones.Attach(context.Background(), m, w.hub.Device(names[i])); err != nil {
						b.Fatal(err)
					}
				}
				elapsed := time.Since(t0)
				b.StopTimer()
				testutil.ReportGrowth(b, before, testutil.ReadMemory(b), n, "phone")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "attaches/s")
				w.sup.Stop()
				<-w.sup.Done()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkCallCycle runs full call cycles (dial, answer, allocate, hang
// up, release) with 1, 6, 100 and 1000 pairs calling at once, and reports
// cycles per second: "bare" with handsets and records that discard, "full"
// with the device hub's reply rings and every record committed to SQLite
// by the batching writer, each hangup answered once its record is
// committed (group commit).
func BenchmarkCallCycle(b *testing.B) {
	for _, full := range []bool{false, true} {
		for _, pairs := range []int{1, 6, 100, 1000} {
			name := fmt.Sprintf("bare/pairs=%d", pairs)
			if full {
				name = fmt.Sprintf("full/pairs=%d", pairs)
			}
			b.Run(name, func(b *testing.B) { benchCycles(b, pairs, full) })
		}
	}
}

// sqliteRecords commits records through the real writer.
type sqliteRecords struct {
	NoNotes
	w *calls.Writer
}

func (r sqliteRecords) Reserve() error { return r.w.Reserve() }

func (r sqliteRecords) Record(rec calls.Record) calls.Ticket {
	t, err := r.w.Append(rec)
	if err != nil {
		panic(err)
	}
	return t
}

func (r sqliteRecords) Wait(ctx context.Context, t calls.Ticket) error { return r.w.Wait(ctx, t) }

func benchCycles(b *testing.B, pairs int, full bool) {
	pool := make([]int, pairs)
	for i := range pool {
		pool[i] = i + 1
	}
	w := newWorld(b, pool)
	w.phones.records = nopRecords{}
	var writer *calls.Writer
	if full {
		st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		writer = calls.NewWriter(st, calls.WriterConfig{Log: zerolog.Nop()})
		w.phones.records = sqliteRecords{w: writer}
	}
	ms := make([]hlr.MSISDN, 2*pairs)
	for i := range ms {
		name := fmt.Sprint(1000 + i)
		ms[i] = w.m(name)
		var dev hw.Device = nopDevice{}
		if full {
			dev = w.hub.Device(name)
		}
		if _, err := w.phones.Attach(context.Background(), ms[i], dev); err != nil {
			b.Fatal(err)
		}
	}
	per := b.N/pairs + 1
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	for p := 0; p < pairs; p++ {
		a, c := ms[2*p], ms[2*p+1]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				act(b, w, a, ActCall, c)
				act(b, w, c, ActAccept, 0)
				act(b, w, a, ActHangup, 0)
			}
		}()
	}
	wg.Wait()
	if writer != nil {
		if err := writer.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(per*pairs)/time.Since(t0).Seconds(), "cycles/s")
}

func act(b *testing.B, w *world, m hlr.MSISDN, a Action, to hlr.MSISDN) {
	if err := w.actOn(m, a, to); err != nil {
		b.Error(err)
	}
}

// nopDevice is a handset that ignores replies, so the benchmark measures
// the controllers, not the reply rings.
type nopDevice struct{}

func (nopDevice) DeliverAt(hw.ReplyType, string, int64) {}

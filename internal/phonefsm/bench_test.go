package phonefsm

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
)

// nopRecords drops records: the writer is measured in internal/calls.
type nopRecords struct{}

func (nopRecords) Record(calls.Record) {}

// rssBytes reads the resident set size of this process.
func rssBytes(b *testing.B) uint64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(raw))
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

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
				runtime.GC()
				debug.FreeOSMemory()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				rss0 := rssBytes(b)
				b.StartTimer()
				t0 := time.Now()
				for i, m := range numbers {
					if _, err := w.phones.Attach(context.Background(), m, w.hub.Device(names[i])); err != nil {
						b.Fatal(err)
					}
				}
				elapsed := time.Since(t0)
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				rss1 := rssBytes(b)
				inUse := func(m runtime.MemStats) float64 { return float64(m.HeapAlloc + m.StackInuse) }
				b.ReportMetric(float64(n)/elapsed.Seconds(), "attaches/s")
				b.ReportMetric((inUse(after)-inUse(before))/float64(n), "liveB/phone")
				b.ReportMetric(float64(after.Sys-before.Sys)/float64(n), "sysB/phone")
				b.ReportMetric(float64(rss1-rss0)/float64(n), "rssB/phone")
				w.sup.Stop()
				<-w.sup.Done()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkCallCycle runs full call cycles (dial, answer, allocate, hang
// up, release) with 1, 6, 100 and 1000 pairs calling at once, and reports
// cycles per second.
func BenchmarkCallCycle(b *testing.B) {
	for _, pairs := range []int{1, 6, 100, 1000} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) {
			pool := make([]int, pairs)
			for i := range pool {
				pool[i] = i + 1
			}
			w := newWorld(b, pool)
			w.phones.records = nopRecords{}
			ms := make([]hlr.MSISDN, 2*pairs)
			for i := range ms {
				name := fmt.Sprint(1000 + i)
				ms[i] = w.m(name)
				if _, err := w.phones.Attach(context.Background(), ms[i], nopDevice{}); err != nil {
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
			b.ReportMetric(float64(per*pairs)/time.Since(t0).Seconds(), "cycles/s")
		})
	}
}

func act(b *testing.B, w *world, m hlr.MSISDN, a Action, to hlr.MSISDN) {
	if _, err := w.phones.Act(context.Background(), m, a, to); err != nil {
		b.Error(err)
	}
}

// nopDevice is a handset that ignores replies, so the benchmark measures
// the controllers, not the reply rings.
type nopDevice struct{}

func (nopDevice) DeliverAt(hw.ReplyType, string, int64) {}

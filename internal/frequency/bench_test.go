package frequency

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The book's figures to beat on this machine: 650,000 allocate+release round
// trips per second from one client, 470,000 from 100 concurrent clients.

func BenchmarkRoundTrip(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		b.Run(metricsName(withMetrics), func(b *testing.B) {
			a := benchAllocator(b, book, withMetrics)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				al, err := a.Allocate("client", 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := a.Deallocate("client", al.Frequency); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
		})
	}
}

func BenchmarkRoundTrip100Clients(b *testing.B) {
	const clients = 100
	pool, err := ParsePool(fmt.Sprint("1-", 2*clients)) // no client is ever denied
	if err != nil {
		b.Fatal(err)
	}
	for _, withMetrics := range []bool{false, true} {
		b.Run(metricsName(withMetrics), func(b *testing.B) {
			a := benchAllocator(b, pool, withMetrics)
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((clients + procs - 1) / procs)
			var next atomic.Int32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				owner := fmt.Sprint("client-", next.Add(1))
				for pb.Next() {
					al, err := a.Allocate(owner, 0)
					if err != nil {
						b.Error(err)
						return
					}
					if err := a.Deallocate(owner, al.Frequency); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
			b.ReportMetric(float64(next.Load()), "clients")
		})
	}
}

func benchAllocator(b *testing.B, pool []int, withMetrics bool) *Allocator {
	cfg := Config{}
	if withMetrics {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry()).Cell(0)
	}
	a, _, _ := start(b, pool, cfg)
	return a
}

func metricsName(on bool) string {
	if on {
		return "metrics"
	}
	return "nometrics"
}

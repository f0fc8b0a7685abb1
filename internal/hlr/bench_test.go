package hlr

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bsc-sim/bsc/internal/store"
)

const million = 1_000_000

// nth is the i-th of a run of distinct 15-digit MSISDNs.
func nth(i int) MSISDN { return MSISDN(uint64(i)<<lenBits | maxDigits) }

func BenchmarkParseMSISDN(b *testing.B) {
	for b.Loop() {
		if _, err := ParseMSISDN("447700900123"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProvisioned is the attach-time check of a provisioned
// subscriber among a million, from every core at once.
func BenchmarkProvisioned(b *testing.B) {
	s := newSubs(b, tempDB(b))
	s.provisioned.reserve(million)
	for i := range million {
		s.provisioned.add(nth(i))
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7919
		for pb.Next() {
			if s.EnsureProvisioned(context.Background(), nth(i%million), false) != nil {
				b.Fatal("not provisioned")
			}
			i++
		}
	})
}

// BenchmarkEnsureProvisionedAuto auto-provisions new numbers from many
// goroutines: the group commit's throughput.
func BenchmarkEnsureProvisionedAuto(b *testing.B) {
	s := newSubs(b, tempDB(b))
	var next atomic.Int64
	b.SetParallelism(32) // attaches are concurrent requests, more than cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.EnsureProvisioned(context.Background(), nth(int(next.Add(1))), true); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRegistryAttachDetach attaches and detaches from every core, in
// a registry that already holds a million phones.
func BenchmarkRegistryAttachDetach(b *testing.B) {
	var r Registry[*int]
	v := new(int)
	for i := range million {
		if err := r.Attach(nth(i), v); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		base := million + int(next.Add(1))<<32 // numbers of its own
		for i := 0; pb.Next(); i++ {
			m := nth(base + i)
			if err := r.Attach(m, v); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Detach(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRegistryList(b *testing.B) {
	var r Registry[*int]
	for i := range million {
		if err := r.Attach(nth(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if len(r.List(nth(million/2), 1000)) != 1000 {
			b.Fatal("short page")
		}
	}
}

// BenchmarkTouch is the attach path's cost of recording its time, from
// every core, with the writer running against a real database.
func BenchmarkTouch(b *testing.B) {
	s := newSubs(b, tempDB(b))
	now := time.Now()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		base := int(next.Add(1)) << 32
		for i := 0; pb.Next(); i++ {
			s.Touch(nth(base+i%million), true, now)
		}
	})
	b.StopTimer()
	s.Close()
	b.ReportMetric(float64(s.Stats().TouchDropped)/float64(b.N), "dropped/op")
}

// BenchmarkWriteTouches is the writer's side: how many attach/detach
// times a second it stores, which beyond that are dropped. It is paced
// (touchRate), so its ns/row is the pacing's unless the writing is slower.
func BenchmarkWriteTouches(b *testing.B) { benchWriteTouches(b, true) }

// BenchmarkWriteTouchesUnpaced is the same without the pacing: the cost of
// the chunked UPDATEs themselves.
func BenchmarkWriteTouchesUnpaced(b *testing.B) { benchWriteTouches(b, false) }

func benchWriteTouches(b *testing.B, paced bool) {
	s := newSubs(b, tempDB(b))
	if !paced {
		s.touchLimit = rate.NewLimiter(rate.Inf, 0)
	}
	items := make([]Subscriber, MaxBulk)
	for i := range items {
		items[i] = Subscriber{MSISDN: nth(i)}
	}
	if _, _, err := s.CreateBulk(context.Background(), items); err != nil {
		b.Fatal(err)
	}
	batch := make(map[MSISDN]touch, touchTxRows)
	rows := make([]store.SubscriberTouch, 0, touchTxRows)
	next := 0
	for b.Loop() {
		clear(batch)
		for range touchTxRows {
			next++
			batch[nth(next%MaxBulk)] = touch{attach: int64(next)}
		}
		if _, err := s.writeTouches(batch, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/touchTxRows, "ns/row")
}

func BenchmarkCreateBulk100k(b *testing.B) {
	items := make([]Subscriber, MaxBulk)
	for i := range items {
		items[i] = Subscriber{MSISDN: nth(i)}
	}
	for b.Loop() {
		b.StopTimer()
		s := newSubs(b, tempDB(b))
		b.StartTimer()
		created, _, err := s.CreateBulk(context.Background(), items)
		if err != nil || created != len(items) {
			b.Fatal(created, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/MaxBulk, "ns/row")
}

// BenchmarkNewSubscribers1M is the start of a service with a million
// subscribers: loading the provisioned set.
func BenchmarkNewSubscribers1M(b *testing.B) {
	db := tempDB(b)
	s := newSubs(b, db)
	items := make([]Subscriber, MaxBulk)
	for chunk := 0; chunk < million/MaxBulk; chunk++ {
		for i := range items {
			items[i] = Subscriber{MSISDN: nth(chunk*MaxBulk + i)}
		}
		if _, _, err := s.CreateBulk(context.Background(), items); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		s := newSubs(b, db)
		if s.Stats().Provisioned != million {
			b.Fatal("not all loaded")
		}
	}
}

// BenchmarkMemory1M reports the heap taken per entry by the provisioned
// set and by the registry holding a million MSISDNs (a registry value is a
// controller pointer; the controllers themselves are not counted).
func BenchmarkMemory1M(b *testing.B) {
	b.Run("provisioned-set", func(b *testing.B) {
		for b.Loop() {
			var s *msisdnSet
			perEntry := heapPerEntry(func() {
				s = new(msisdnSet)
				for i := range million {
					s.add(nth(i))
				}
			})
			runtime.KeepAlive(s)
			b.ReportMetric(perEntry, "B/entry")
		}
	})
	b.Run("provisioned-set-loaded", func(b *testing.B) {
		for b.Loop() {
			var s *msisdnSet
			perEntry := heapPerEntry(func() {
				s = new(msisdnSet)
				s.reserve(million) // as NewSubscribers does
				for i := range million {
					s.add(nth(i))
				}
			})
			runtime.KeepAlive(s)
			b.ReportMetric(perEntry, "B/entry")
		}
	})
	b.Run("registry", func(b *testing.B) {
		v := new(int)
		for b.Loop() {
			var r *Registry[*int]
			perEntry := heapPerEntry(func() {
				r = new(Registry[*int])
				for i := range million {
					if err := r.Attach(nth(i), v); err != nil {
						b.Fatal(err)
					}
				}
			})
			runtime.KeepAlive(r)
			b.ReportMetric(perEntry, "B/entry")
		}
	})
}

// heapPerEntry is the live heap build adds, per million entries; what
// build makes must be kept alive by the caller.
func heapPerEntry(build func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(after.HeapAlloc-before.HeapAlloc) / million
}

package app

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// BenchmarkServiceAttach attaches n provisioned phones through the
// service's own attach path (HLR check, device, controller, supervisor,
// registry, last-attach time) and reports attaches per second and memory
// per attached idle phone.
func BenchmarkServiceAttach(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ms := make([]hlr.MSISDN, n)
			subs := make([]hlr.Subscriber, n)
			for i := range ms {
				ms[i], _ = hlr.ParseMSISDN(fmt.Sprint(46_700_000_000 + i))
				subs[i] = hlr.Subscriber{MSISDN: ms[i]}
			}
			for b.Loop() {
				b.StopTimer()
				a := benchApp(b, subs)
				before := testutil.ReadMemory(b)
				b.StartTimer()
				t0 := time.Now()
				for _, m := range ms {
					if _, err := a.Attach(context.Background(), m, hw.DeviceSpec{}, -1); err != nil {
						b.Fatal(err)
					}
				}
				elapsed := time.Since(t0)
				b.StopTimer()
				testutil.ReportGrowth(b, before, testutil.ReadMemory(b), n, "phone")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "attaches/s")
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := a.Shutdown(ctx); err != nil {
					b.Fatal(err)
				}
				cancel()
				b.StartTimer()
			}
		})
	}
}

// benchApp is a started App with subs provisioned.
func benchApp(b *testing.B, subs []hlr.Subscriber) *App {
	dir := b.TempDir()
	cfg := config.Default()
	cfg.DB = filepath.Join(dir, "bsc.db")
	a, err := New(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	a.OverloadLog = filepath.Join(dir, "overload.log")
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(subs); i += hlr.MaxBulk {
		if _, _, err := a.subs.CreateBulk(context.Background(), subs[i:min(i+hlr.MaxBulk, len(subs))]); err != nil {
			b.Fatal(err)
		}
	}
	return a
}

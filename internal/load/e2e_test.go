package load

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/app"
	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/load/loadtest"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// The driver against the real service, in-process.

// onAction wraps a handler to call f once, on the n-th phone action.
func onAction(n int64, f func()) func(http.Handler) http.Handler {
	var actions atomic.Int64
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/actions") && actions.Add(1) == n {
				f()
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestE2ESmallRun(t *testing.T) {
	srv := loadtest.Start(t, nil)
	cfg := testConfig(srv.URL)
	cfg.MaxP99, cfg.MaxErrorRate = 2*time.Second, 0 // generous: the race detector is slow
	rep, err := runBounded(t, context.Background(), cfg, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Partial || rep.Verdict() != nil {
		t.Fatalf("verdict %v\n%s", rep.Verdict(), text(t, rep))
	}
	checkConsistent(t, rep)
	if rep.Calls.Attempts != 60 || rep.Calls.Outcomes["answered"] == 0 || rep.Books.AnsweredRecorded == 0 {
		t.Errorf("attempts %d answered %d recorded %d\n%s", rep.Calls.Attempts, rep.Calls.Outcomes["answered"],
			rep.Books.AnsweredRecorded, text(t, rep))
	}
	if rep.Calls.Resyncs != 0 {
		t.Errorf("%d resyncs: the stream lost replies\n%s", rep.Calls.Resyncs, text(t, rep))
	}
}

func TestE2EOpenModel(t *testing.T) {
	srv := loadtest.Start(t, nil)
	cfg := testConfig(srv.URL)
	cfg.Rate, cfg.Calls, cfg.Ramp = 200, 60, 100*time.Millisecond
	rep, err := runBounded(t, context.Background(), cfg, time.Minute)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	checkConsistent(t, rep)
}

// --frequencies 10: one frequency, so overlapping answered calls find none.
func TestE2ENoFrequency(t *testing.T) {
	srv := loadtest.Start(t, func(c *config.Config) { c.Frequencies = "10" })
	cfg := testConfig(srv.URL)
	cfg.Accept = 1
	cfg.TalkMin, cfg.TalkMax = 50*time.Millisecond, 100*time.Millisecond
	rep, err := runBounded(t, context.Background(), cfg, time.Minute)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	if rep.Calls.Outcomes["no_frequency"] == 0 {
		t.Errorf("no no_frequency outcome with one frequency:\n%s", text(t, rep))
	}
}

func TestE2EImpossibleThreshold(t *testing.T) {
	srv := loadtest.Start(t, nil)
	cfg := testConfig(srv.URL)
	cfg.Calls, cfg.MaxP99 = 10, time.Nanosecond
	rep, err := runBounded(t, context.Background(), cfg, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if v := rep.Verdict(); !errors.Is(v, ErrThresholds) || errors.Is(v, ErrBooks) {
		t.Errorf("verdict %v, want thresholds missed, books fine", v)
	}
}

// The server dies mid-run: an error naming the target, a partial report,
// and no hang.
func TestE2EServerDies(t *testing.T) {
	var srv *loadtest.Server
	killed := make(chan struct{})
	srv = loadtest.StartWrapped(t, nil, onAction(40, func() {
		go func() { // not from the handler: closing its connection waits for it
			srv.Kill()
			close(killed)
		}()
	}))
	t.Cleanup(func() { <-killed })
	cfg := testConfig(srv.URL)
	cfg.Calls = 1_000_000
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if !errors.Is(err, ErrUnreachable) || !rep.Partial || !strings.Contains(rep.Reason, "target unreachable") {
		t.Fatalf("err %v partial %v reason %q", err, rep.Partial, rep.Reason)
	}
	if rep.Calls.Attempts == 0 {
		t.Error("no attempt before the server died")
	}
}

// The same with `bsc serve`'s own Run, stopped the way SIGTERM stops it.
func TestE2EServeStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.Listen, cfg.DB, cfg.ShutdownTimeout = addr, t.TempDir()+"/bsc.db", 5*time.Second
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- app.Run(ctx, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), nil)
	}()
	t.Cleanup(func() {
		stop()
		<-served
	})
	testutil.Eventually(t, 10*time.Second, "bsc serve ready", func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	lcfg := testConfig("http://" + addr)
	lcfg.Calls = 1_000_000
	lcfg.TalkMin, lcfg.TalkMax = 200*time.Millisecond, 400*time.Millisecond
	go func() {
		// Stop the server once calls are going on; it ends with the server.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			res, err := http.Get("http://" + addr + "/api/v1/phones?state=connected&limit=1")
			if err != nil {
				return
			}
			var b [64]byte
			n, _ := res.Body.Read(b[:])
			res.Body.Close()
			if strings.Contains(string(b[:n]), "msisdn") {
				stop()
				return
			}
		}
	}()
	rep, err := runBounded(t, context.Background(), lcfg, 30*time.Second)
	if !errors.Is(err, ErrUnreachable) || !rep.Partial {
		t.Fatalf("err %v partial %v reason %q", err, rep.Partial, rep.Reason)
	}
}

func TestE2EInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := loadtest.StartWrapped(t, nil, onAction(50, cancel))
	cfg := testConfig(srv.URL)
	cfg.Calls = 1_000_000
	cfg.TalkMin, cfg.TalkMax = time.Second, 2*time.Second
	rep, err := runBounded(t, ctx, cfg, 30*time.Second)
	if !errors.Is(err, ErrInterrupted) || !rep.Partial {
		t.Fatalf("err %v partial %v", err, rep.Partial)
	}
	if rep.Books == nil || !rep.Books.OK {
		t.Errorf("books %+v: the phones were not all detached, or calls not recorded", rep.Books)
	}
}

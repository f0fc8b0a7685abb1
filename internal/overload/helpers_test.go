package overload

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// waitLimit bounds every wait in these tests: reaching it is a failure, not
// a way to let something happen.
const waitLimit = 5 * time.Second

// syncBuffer collects log lines written by the manager's goroutine.
type syncBuffer struct{ testutil.LogBuffer }

func (s *syncBuffer) count(substr string) int { return strings.Count(s.String(), substr) }

// harness is a started Manager with its logs, metrics and exits at hand.
type harness struct {
	m       *Manager
	logFile string // where the logger handler writes
	metrics *CellMetrics
	logs    *syncBuffer
	exits   chan error
	nexits  atomic.Int32
	ended   atomic.Bool
}

// start runs a Manager for the test. Unset fields of cfg get: a log file in
// a temp dir, fresh metrics, a captured zerolog.
func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{logs: &syncBuffer{}, exits: make(chan error, 4)}
	if cfg.LogTarget == "" {
		cfg.LogTarget = filepath.Join(t.TempDir(), "events.log")
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry()).Cell(0)
	}
	h.metrics = cfg.Metrics
	h.logFile = cfg.LogTarget
	cfg.Log = zerolog.New(h.logs)
	h.m = New(cfg)
	proc, err := h.m.Start(ctxT(t), h.exit)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if proc != h.m {
		t.Fatalf("Start returned %v, want the Manager", proc)
	}
	t.Cleanup(func() {
		h.m.Stop()
		if !h.ended.Load() {
			h.waitExit(t)
		}
	})
	return h
}

func (h *harness) exit(reason error) {
	h.nexits.Add(1)
	h.exits <- reason
}

func (h *harness) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.exits:
		h.ended.Store(true)
		return err
	case <-time.After(waitLimit):
		t.Fatal("manager did not exit")
		return nil
	}
}

// sync delivers events one by one, each after the previous was handled.
func (h *harness) sync(t *testing.T, events ...Event) {
	t.Helper()
	for _, e := range events {
		if err := h.m.SyncNotify(ctxT(t), e); err != nil {
			t.Fatalf("SyncNotify(%s): %v", e.Key(), err)
		}
	}
}

func (h *harness) counters(t *testing.T) map[string]uint64 {
	t.Helper()
	c, err := h.m.Counters(ctxT(t))
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	return c
}

func (h *harness) handlerNames(t *testing.T) string {
	t.Helper()
	hs, err := h.m.Handlers(ctxT(t))
	if err != nil {
		t.Fatalf("Handlers: %v", err)
	}
	var names []string
	for _, hi := range hs {
		names = append(names, hi.Name)
	}
	return strings.Join(names, ",")
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

func ev(k Kind, id string) Event { return Event{Kind: k, ID: id, Source: "test"} }

// recorder is a test handler that records the keys of the events it saw.
// The test reads keys only after a SyncNotify or a call returned, which
// orders the read after the manager's writes.
type recorder struct {
	name string
	keys []string
}

func (r *recorder) Name() string         { return r.name }
func (r *recorder) Handle(e Event) error { r.keys = append(r.keys, e.Key()); return nil }
func (r *recorder) Terminate() any       { return nil }

// failing is a test handler that panics or errs on every event.
type failing struct {
	name       string
	panics     bool
	terminated int
}

func (f *failing) Name() string { return f.name }

func (f *failing) Handle(Event) error {
	if f.panics {
		panic("boom")
	}
	return errors.New("boom")
}

func (f *failing) Terminate() any { f.terminated++; return nil }

// blocker is a test handler that holds the manager in Handle until the test
// releases it, signalling each time it is entered.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocker(t *testing.T) *blocker {
	b := &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(b.free) // never leave the manager stuck when a test fails
	return b
}

func (b *blocker) Name() string { return "blocker" }

func (b *blocker) Handle(Event) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return nil
}

func (b *blocker) Terminate() any { return nil }

func (b *blocker) free() {
	select {
	case <-b.release:
	default:
		close(b.release)
	}
}

func (b *blocker) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-b.entered:
	case <-time.After(waitLimit):
		t.Fatal("the manager never reached the blocking handler")
	}
}

// value reads a counter or a gauge, like testutil.ToFloat64, whose diff
// dependency the module does not carry.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if c := d.GetCounter(); c != nil {
		return c.GetValue()
	}
	return d.GetGauge().GetValue()
}

// seriesCount is how many series of the metric family name reg exposes.
func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

package overload

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/sup"
)

func TestCountersAfterSequence(t *testing.T) {
	cases := []struct {
		name   string
		events []Event
		want   map[string]uint64
	}{
		{"none", nil, map[string]uint64{}},
		{"book session", []Event{
			ev(SetAlarm, "no_frequency"), ev(Notice, "frequency_denied"), ev(Notice, "frequency_denied"),
			ev(ClearAlarm, "no_frequency"), ev(SetAlarm, "no_frequency"),
		}, map[string]uint64{"set_alarm:no_frequency": 2, "clear_alarm:no_frequency": 1, "event:frequency_denied": 2}},
		{"duplicates still counted", []Event{ev(ClearAlarm, "overloaded"), ev(ClearAlarm, "overloaded")},
			map[string]uint64{"clear_alarm:overloaded": 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, Config{})
			h.sync(t, c.events...)
			if got := h.counters(t); !maps.Equal(got, c.want) {
				t.Fatalf("counters %v, want %v", got, c.want)
			}
			for i, k := range kindNames {
				var want float64
				for _, e := range c.events {
					if e.Kind.String() == k {
						want++
					}
				}
				if got := value(t, h.metrics.byKind[i]); got != want {
					t.Errorf("bsc_overload_events_total{kind=%q} = %v, want %v", k, got, want)
				}
			}
		})
	}
}

func TestDefaultHandlersInOrder(t *testing.T) {
	h := start(t, Config{})
	if got := h.handlerNames(t); got != "counters,logger,alarms" {
		t.Fatalf("handlers %s, want counters,logger,alarms", got)
	}
}

func TestSyncNotifyWaitsForEveryHandler(t *testing.T) {
	h := start(t, Config{})
	b := newBlocker(t)
	if err := h.m.AddHandlerValue(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() { res <- h.m.SyncNotify(ctxT(t), ev(Notice, "x")) }()
	b.waitEntered(t)
	select {
	case err := <-res:
		t.Fatalf("SyncNotify returned (%v) while a handler was still running", err)
	default:
	}
	b.free()
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("SyncNotify did not return after the handlers ran")
	}
}

func TestSyncNotifyGivesUpWithItsContext(t *testing.T) {
	h := start(t, Config{})
	b := newBlocker(t)
	if err := h.m.AddHandlerValue(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	h.m.Notify(ev(Notice, "hold"))
	b.waitEntered(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.m.SyncNotify(ctx, ev(Notice, "late")); !errors.Is(err, context.Canceled) {
		t.Fatalf("SyncNotify with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := h.m.Counters(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Counters with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestNotifyNeverBlocksAndCountsDrops(t *testing.T) {
	const mailbox, overflow = 4, 3
	h := start(t, Config{Mailbox: mailbox})
	b := newBlocker(t)
	if err := h.m.AddHandlerValue(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	h.m.Notify(ev(Notice, "first"))
	b.waitEntered(t) // the manager holds "first"; the mailbox is empty

	notified := make(chan struct{})
	go func() {
		defer close(notified)
		for i := 0; i < mailbox; i++ {
			h.m.Notify(ev(Notice, "queued"))
		}
		for i := 0; i < overflow; i++ {
			h.m.Notify(ev(Notice, "overflow"))
		}
	}()
	select {
	case <-notified:
	case <-time.After(waitLimit):
		t.Fatal("Notify blocked on a full mailbox")
	}
	if got := value(t, h.metrics.dropped); got != overflow {
		t.Fatalf("bsc_overload_dropped_total = %v, want %d", got, overflow)
	}
	if !strings.Contains(h.m.Inspect().State, "dropped: 3") {
		t.Errorf("Inspect state %q does not show the drops", h.m.Inspect().State)
	}

	b.free()
	h.sync(t, ev(Notice, "last"))
	want := map[string]uint64{"event:first": 1, "event:queued": mailbox, "event:last": 1}
	if got := h.counters(t); !maps.Equal(got, want) {
		t.Fatalf("counters %v, want %v (overflow dropped, the rest handled)", got, want)
	}
}

func TestInvalidEventsRefused(t *testing.T) {
	h := start(t, Config{})
	bad := []Event{{Kind: Kind(7), ID: "x"}, {Kind: SetAlarm}}
	for _, e := range bad {
		if err := h.m.SyncNotify(ctxT(t), e); errcode.Of(err) != errcode.InvalidRequest {
			t.Errorf("SyncNotify(%+v) = %v, want invalid_request", e, err)
		}
		h.m.Notify(e)
	}
	h.sync(t, ev(Notice, "ok"))
	if got := h.counters(t); !maps.Equal(got, map[string]uint64{"event:ok": 1}) {
		t.Fatalf("counters %v: invalid events reached the handlers", got)
	}
}

func TestStopAndCrash(t *testing.T) {
	cases := []struct {
		name   string
		end    func(*Manager)
		reason func(error) bool
	}{
		{"stop", (*Manager).Stop, func(err error) bool { return errors.Is(err, sup.ErrShutdown) }},
		{"crash", (*Manager).Crash, func(err error) bool {
			var p *sup.PanicError
			return errors.As(err, &p)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, Config{Mailbox: 2})
			h.sync(t, Event{Kind: SetAlarm, ID: AlarmNoFrequency})
			gauge := h.metrics.active.WithLabelValues(AlarmNoFrequency, SeverityMajor)
			if value(t, gauge) != 1 {
				t.Fatal("alarm not in the gauge")
			}

			c.end(h.m)
			if reason := h.waitExit(t); !c.reason(reason) {
				t.Fatalf("exit reason %v", reason)
			}
			// Ending again does not exit again.
			h.m.Stop()
			h.m.Crash()

			ctx := ctxT(t)
			calls := map[string]error{
				"Counters":     func() error { _, err := h.m.Counters(ctx); return err }(),
				"ActiveAlarms": func() error { _, err := h.m.ActiveAlarms(ctx); return err }(),
				"Handlers":     func() error { _, err := h.m.Handlers(ctx); return err }(),
				"AddHandler":   h.m.AddHandler(ctx, HandlerCounters, ""),
				"SyncNotify":   h.m.SyncNotify(ctx, ev(Notice, "x")),
			}
			for name, err := range calls {
				if !errors.Is(err, ErrUnavailable) || errcode.Of(err) != errcode.Unavailable {
					t.Errorf("%s after the end = %v, want unavailable", name, err)
				}
			}
			for i := 0; i < 10; i++ { // more than the mailbox holds
				h.m.Notify(ev(Notice, "x"))
			}
			if got := value(t, h.metrics.dropped); got != 10 {
				t.Errorf("events to an ended manager: %v dropped, want 10", got)
			}
			if value(t, gauge) != 0 {
				t.Error("an ended manager's alarms are still in the gauge")
			}
			if st := h.m.Inspect().Status; st != "stopped" {
				t.Errorf("Inspect status %q, want stopped", st)
			}
			if n := h.nexits.Load(); n != 1 {
				t.Fatalf("exit called %d times, want once", n)
			}
		})
	}
}

func TestStartOnce(t *testing.T) {
	h := start(t, Config{})
	if _, err := h.m.Start(ctxT(t), h.exit); err == nil {
		t.Fatal("a second Start succeeded")
	}
}

func TestStartFailsOnBadLogTarget(t *testing.T) {
	m := New(Config{Log: zerolog.Nop(), LogTarget: filepath.Join(t.TempDir(), "missing", "x.log")})
	_, err := m.Start(ctxT(t), func(error) { t.Error("exit called after a failed start") })
	if errcode.Of(err) != errcode.InvalidRequest {
		t.Fatalf("Start = %v, want an invalid target", err)
	}
	if _, err := m.Counters(ctxT(t)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Counters after a failed start = %v, want unavailable", err)
	}
}

func TestWithoutMetrics(t *testing.T) {
	m := New(Config{Log: zerolog.Nop(), LogTarget: filepath.Join(t.TempDir(), "x.log"), Mailbox: 1})
	exited := make(chan error, 1)
	if _, err := m.Start(ctxT(t), func(err error) { exited <- err }); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{ev(SetAlarm, AlarmOverloaded), ev(ClearAlarm, AlarmOverloaded)} {
		if err := m.SyncNotify(ctxT(t), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AddHandlerValue(ctxT(t), &failing{name: "bad"}); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncNotify(ctxT(t), ev(Notice, "x")); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	select {
	case <-exited:
	case <-time.After(waitLimit):
		t.Fatal("no exit")
	}
	m.Notify(ev(Notice, "dropped"))
}

func TestInspect(t *testing.T) {
	h := start(t, Config{LogTarget: "stdout"})
	if err := h.m.DeleteHandler(ctxT(t), HandlerLogger); err != nil { // keep test output clean
		t.Fatal(err)
	}
	if err := h.m.AddHandler(ctxT(t), HandlerLogger, filepath.Join(t.TempDir(), "l.log")); err != nil {
		t.Fatal(err)
	}
	h.sync(t, ev(SetAlarm, AlarmNoFrequency))
	info := h.m.Inspect()
	if info.Name != "overload" || info.Status != "running" {
		t.Fatalf("name %q status %q", info.Name, info.Status)
	}
	for _, want := range []string{"handlers: counters, alarms, logger(", "active alarms: no_frequency(major)"} {
		if !strings.Contains(info.State, want) {
			t.Errorf("state %q lacks %q", info.State, want)
		}
	}
	last := info.Log[len(info.Log)-1]
	if last.Kind != "set_alarm" || last.Detail != AlarmNoFrequency {
		t.Errorf("last logged event %+v", last)
	}
	h.m.SetTrace(true)
	h.sync(t, ev(Notice, "traced"))
	if !h.m.Inspect().Trace || h.logs.count("traced") == 0 {
		t.Error("tracing did not log the event")
	}
}

func TestMetricsInitialisedToZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg).Cell(0)
	want := map[string]int{
		"bsc_overload_events_total":       3,
		"bsc_alarm_active":                len(catalogue),
		"bsc_alarm_transitions_total":     2 * len(catalogue),
		"bsc_handler_removed_total":       3,
		"bsc_overload_dropped_total":      1,
		"bsc_alarm_history_dropped_total": 1,
	}
	for name, n := range want {
		if got := seriesCount(t, reg, name); got != n {
			t.Errorf("%s: %d series, want %d", name, got, n)
		}
	}
	if got := value(t, NewMetrics(nil).Cell(0).active.WithLabelValues(AlarmNoFrequency, SeverityMajor)); got != 0 {
		t.Errorf("gauge starts at %v", got)
	}
}

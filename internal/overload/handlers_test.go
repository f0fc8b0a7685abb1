package overload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
)

func TestHandlerManagementErrors(t *testing.T) {
	h := start(t, Config{})
	missing := filepath.Join(t.TempDir(), "missing", "x.log")
	cases := []struct {
		name     string
		op       func() error
		sentinel error
		code     string
	}{
		{"add installed", func() error { return h.m.AddHandler(ctxT(t), HandlerCounters, "") }, ErrAlreadyInstalled, "already_installed"},
		{"add unknown", func() error { return h.m.AddHandler(ctxT(t), "bogus", "") }, ErrUnknownHandler, "invalid_request"},
		{"add value under a taken name", func() error { return h.m.AddHandlerValue(ctxT(t), &recorder{name: HandlerAlarms}) }, ErrAlreadyInstalled, "already_installed"},
		{"delete not installed", func() error { return h.m.DeleteHandler(ctxT(t), "bogus") }, ErrNotInstalled, "not_installed"},
		{"swap unknown", func() error { return h.m.SwapHandler(ctxT(t), "bogus", "") }, ErrUnknownHandler, "invalid_request"},
		{"swap logger to a bad file", func() error { return h.m.SwapHandler(ctxT(t), HandlerLogger, missing) }, ErrInvalidTarget, "invalid_request"},
		{"swap counters with a target", func() error { return h.m.SwapHandler(ctxT(t), HandlerCounters, "x") }, ErrInvalidTarget, "invalid_request"},
	}
	for _, c := range cases {
		err := c.op()
		if !errors.Is(err, c.sentinel) || errcode.Of(err).String() != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if got := h.handlerNames(t); got != "counters,logger,alarms" {
		t.Fatalf("failed operations changed the handlers: %s", got)
	}
}

func TestDeleteThenAddStartsFreshAtTheEnd(t *testing.T) {
	h := start(t, Config{})
	h.sync(t, ev(Notice, "before"))
	if err := h.m.DeleteHandler(ctxT(t), HandlerCounters); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Counters(ctxT(t)); errcode.Of(err) != errcode.NotInstalled {
		t.Fatalf("Counters without the handler = %v, want not_installed", err)
	}
	if err := h.m.SwapHandler(ctxT(t), HandlerCounters, ""); errcode.Of(err) != errcode.NotInstalled {
		t.Fatalf("swap of a deleted handler = %v, want not_installed", err)
	}
	if err := h.m.AddHandler(ctxT(t), HandlerCounters, "x"); errcode.Of(err) != errcode.InvalidRequest {
		t.Fatalf("counters with a target = %v, want invalid_request", err)
	}
	h.sync(t, ev(Notice, "unseen"))
	if err := h.m.AddHandler(ctxT(t), HandlerCounters, ""); err != nil {
		t.Fatal(err)
	}
	if got := h.handlerNames(t); got != "logger,alarms,counters" {
		t.Fatalf("handlers %s, want the new one last", got)
	}
	h.sync(t, ev(Notice, "after"))
	if got := h.counters(t); !maps.Equal(got, map[string]uint64{"event:after": 1}) {
		t.Fatalf("counters %v, want a fresh start", got)
	}
}

func TestSwapContinuesState(t *testing.T) {
	h := start(t, Config{})
	h.sync(t, ev(Notice, "frequency_denied"), ev(SetAlarm, AlarmNoFrequency))
	for _, name := range []string{HandlerCounters, HandlerAlarms} {
		if err := h.m.SwapHandler(ctxT(t), name, ""); err != nil {
			t.Fatalf("swap %s: %v", name, err)
		}
	}
	if got := h.handlerNames(t); got != "counters,logger,alarms" {
		t.Fatalf("handlers %s: a swap must keep the place", got)
	}
	gauge := h.metrics.active.WithLabelValues(AlarmNoFrequency, SeverityMajor)
	if value(t, gauge) != 1 {
		t.Fatal("the swap took the alarm out of the gauge")
	}
	// The successor knows the alarm is up: a set is no new raise, a clear is.
	h.sync(t, ev(SetAlarm, AlarmNoFrequency), ev(ClearAlarm, AlarmNoFrequency))
	want := map[string]uint64{"event:frequency_denied": 1, "set_alarm:no_frequency": 2, "clear_alarm:no_frequency": 1}
	if got := h.counters(t); !maps.Equal(got, want) {
		t.Fatalf("counters %v, want %v (counting continued across the swap)", got, want)
	}
	raises := value(t, h.metrics.transitions.WithLabelValues(AlarmNoFrequency, "set"))
	clears := value(t, h.metrics.transitions.WithLabelValues(AlarmNoFrequency, "clear"))
	if raises != 1 || clears != 1 || value(t, gauge) != 0 {
		t.Fatalf("raises %v clears %v gauge %v, want 1 1 0", raises, clears, value(t, gauge))
	}
}

// record is one line of the logger handler.
type record struct {
	Level   string `json:"level"`
	Record  uint64 `json:"record"`
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Source  string `json:"source"`
	Time    string `json:"time"`
	Message string `json:"message"`
}

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestLoggerNumbersRecordsAcrossSwaps(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	h := start(t, Config{LogTarget: first})
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	h.sync(t,
		Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "frequency", At: at},
		Event{Kind: Notice, ID: "frequency_denied", Source: "frequency", At: at.Add(time.Second)},
		Event{Kind: ClearAlarm, ID: AlarmNoFrequency, At: at.Add(2 * time.Second)},
	)
	if err := h.m.SwapHandler(ctxT(t), HandlerLogger, second); err != nil {
		t.Fatal(err)
	}
	hs, err := h.m.Handlers(ctxT(t))
	if err != nil || hs[1] != (HandlerInfo{Name: HandlerLogger, Target: filepath.Base(second)}) {
		t.Fatalf("handlers %v (%v), want the logger second, shown by its file name %s", hs, err, filepath.Base(second))
	}
	h.sync(t, ev(Notice, "after_swap"))
	// A failed swap leaves the logger, and its numbering, as they were.
	if err := h.m.SwapHandler(ctxT(t), HandlerLogger, filepath.Join(dir, "no", "such.log")); err == nil {
		t.Fatal("swap to an unopenable file succeeded")
	}
	h.sync(t, ev(Notice, "after_failed_swap"))

	got := readRecords(t, first)
	wantFirst := []struct{ kind, id, source string }{
		{"set_alarm", AlarmNoFrequency, "frequency"}, {"event", "frequency_denied", "frequency"}, {"clear_alarm", AlarmNoFrequency, ""},
	}
	if len(got) != len(wantFirst) {
		t.Fatalf("%s has %d records, want %d", first, len(got), len(wantFirst))
	}
	for i, w := range wantFirst {
		r := got[i]
		want := record{Level: "info", Record: uint64(i + 1), Kind: w.kind, ID: w.id, Source: w.source,
			Time: at.Add(time.Duration(i) * time.Second).Format(zerolog.TimeFieldFormat), Message: "overload event"}
		if r != want {
			t.Errorf("record %d: %+v, want %+v", i, r, want)
		}
	}
	got = readRecords(t, second)
	if len(got) != 2 || got[0].Record != 4 || got[0].ID != "after_swap" || got[1].Record != 5 {
		t.Fatalf("%s: %+v, want records 4 and 5", second, got)
	}
}

// The logger's lines have the shape of the service's zerolog lines: the
// same level, time and message keys, the time in the same format, one
// JSON object a line; and every event is written whatever the service's
// log level.
func TestLoggerLinesAreZerologLines(t *testing.T) {
	var service bytes.Buffer
	serviceLog := zerolog.New(&service).With().Timestamp().Logger() // as bsc serve's
	serviceLog.Info().Str("alarm", "x").Msg("alarm raised")
	var serviceLine map[string]any
	if err := json.Unmarshal(service.Bytes(), &serviceLine); err != nil {
		t.Fatal(err)
	}
	serviceTime, err := time.Parse(zerolog.TimeFieldFormat, serviceLine[zerolog.TimestampFieldName].(string))
	if err != nil {
		t.Fatalf("the service's time %v: %v", serviceLine, err)
	}

	defer zerolog.SetGlobalLevel(zerolog.GlobalLevel())
	zerolog.SetGlobalLevel(zerolog.ErrorLevel) // bsc serve --log-level error
	path := filepath.Join(t.TempDir(), "events.log")
	l, err := openLogger(path)
	if err != nil {
		t.Fatal(err)
	}
	at := serviceTime.Add(1500 * time.Millisecond)
	for _, e := range []Event{{Kind: SetAlarm, ID: AlarmOverloaded, Source: "http", At: at}, {Kind: Notice, ID: "x", At: at}} {
		if err := l.Handle(e); err != nil {
			t.Fatal(err)
		}
	}
	l.Terminate()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines at log level error, want 2:\n%s", len(lines), b)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{zerolog.LevelFieldName, zerolog.TimestampFieldName, zerolog.MessageFieldName} {
		if _, ok := line[k]; !ok {
			t.Errorf("logger line %s lacks %q, which service lines have: %s", lines[0], k, service.String())
		}
	}
	if got, want := line[zerolog.TimestampFieldName], at.Format(zerolog.TimeFieldFormat); got != want {
		t.Errorf("time %v, want %s, in the service's format", got, want)
	}
	if _, err := time.Parse(zerolog.TimeFieldFormat, line[zerolog.TimestampFieldName].(string)); err != nil {
		t.Errorf("time %v is not in the service's format: %v", line[zerolog.TimestampFieldName], err)
	}
	if strings.Contains(lines[1], `"source"`) {
		t.Errorf("an event without a source writes one: %s", lines[1])
	}
}

func TestFailingHandlerIsRemovedAndReportedOnce(t *testing.T) {
	for _, panics := range []bool{true, false} {
		name := map[bool]string{true: "panic", false: "error"}[panics]
		t.Run(name, func(t *testing.T) {
			h := start(t, Config{})
			bad := &failing{name: "bad", panics: panics}
			tail := &recorder{name: "tail"}
			for _, hd := range []Handler{bad, tail} {
				if err := h.m.AddHandlerValue(ctxT(t), hd); err != nil {
					t.Fatal(err)
				}
			}
			h.sync(t, ev(Notice, "one"), ev(Notice, "two"), ev(Notice, "three"))

			if got := h.handlerNames(t); got != "counters,logger,alarms,tail" {
				t.Fatalf("handlers %s, want bad removed", got)
			}
			if strings.Join(tail.keys, ",") != "event:one,event:two,event:three" {
				t.Fatalf("the handler after the failing one saw %v", tail.keys)
			}
			if got := h.counters(t); !maps.Equal(got, map[string]uint64{"event:one": 1, "event:two": 1, "event:three": 1}) {
				t.Fatalf("counters %v", got)
			}
			if bad.terminated != 1 {
				t.Errorf("failed handler terminated %d times, want 1", bad.terminated)
			}
			if got := value(t, h.metrics.removed.WithLabelValues("bad")); got != 1 {
				t.Errorf("bsc_handler_removed_total{handler=bad} = %v, want 1", got)
			}
			if n := h.logs.count("overload handler removed"); n != 1 {
				t.Fatalf("removal reported %d times, want once:\n%s", n, h.logs)
			}
			for _, want := range []string{`"handler":"bad"`, "boom", `"event":"event:one"`} {
				if !strings.Contains(h.logs.String(), want) {
					t.Errorf("removal report lacks %s:\n%s", want, h.logs)
				}
			}
		})
	}
}

package overload

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// logLine is a log line of the alarms handler or its limit.
type logLine struct {
	Message          string  `json:"message"`
	Alarm            string  `json:"alarm"`
	Severity         string  `json:"severity"`
	Suppressed       int     `json:"suppressed"`
	SuppressedRaises int     `json:"suppressed_raises"`
	SuppressedClears int     `json:"suppressed_clears"`
	Active           bool    `json:"active"`
	Period           float64 `json:"period"` // milliseconds, zerolog's Dur
}

// logLines parses the JSON lines in s.
func logLines(t *testing.T, s string) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// summaries are the summary lines among lines.
func summaries(lines []logLine) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.Message == "alarm log lines suppressed" {
			out = append(out, l)
		}
	}
	return out
}

// The limit on the fake clock of event times: per alarm, burst lines a
// period, the rest counted; the period's summary when it is over, from
// flush or from the alarm's next line; and nothing at all for a period
// that left nothing out.
func TestAlarmLogLimitsLinesPerAlarm(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	noFreq := Alarm{ID: AlarmNoFrequency, Severity: SeverityMajor}
	poolHigh := Alarm{ID: AlarmFrequencyPoolHigh, Severity: SeverityMinor}
	var out syncBuffer
	l := newAlarmLog(zerolog.New(&out), 3, time.Minute)

	// no_frequency flaps ten times in ten seconds: raise, clear, raise, ...
	var allowed []bool
	for i := range 10 {
		allowed = append(allowed, l.allow(noFreq, i%2 == 0, at(time.Duration(i)*time.Second)))
	}
	want := []bool{true, true, true, false, false, false, false, false, false, false}
	for i := range want {
		if allowed[i] != want[i] {
			t.Fatalf("no_frequency lines allowed %v, want the first 3 of the minute", allowed)
		}
	}
	// Another alarm has its own limit.
	if !l.allow(poolHigh, true, at(5*time.Second)) || !l.allow(poolHigh, false, at(6*time.Second)) {
		t.Fatal("frequency_pool_high lines held back by no_frequency's")
	}

	l.flush(at(59 * time.Second))
	if out.String() != "" {
		t.Fatalf("a summary before the period is over:\n%s", out.String())
	}
	l.flush(at(time.Minute))
	got := summaries(logLines(t, out.String()))
	wantSummary := logLine{Message: "alarm log lines suppressed", Alarm: AlarmNoFrequency, Severity: SeverityMajor,
		Suppressed: 7, SuppressedRaises: 3, SuppressedClears: 4, Active: false, Period: 60000}
	if len(got) != 1 || got[0] != wantSummary {
		t.Fatalf("summaries %+v, want one: %+v", got, wantSummary)
	}
	if _, ok := l.windows[AlarmFrequencyPoolHigh]; len(l.windows) != 1 || !ok {
		t.Errorf("periods %v kept, want frequency_pool_high's only (it began 5 s later)", l.windows)
	}

	// A new period: the next line is logged again. Its excess is
	// summarised by the alarm's first line after the period, without a
	// flush, and says the alarm is active.
	out = syncBuffer{}
	for i := range 5 {
		if ok := l.allow(noFreq, true, at(2*time.Minute+time.Duration(i)*time.Second)); ok != (i < 3) {
			t.Fatalf("line %d of the new period allowed %v", i, ok)
		}
	}
	if !l.allow(noFreq, false, at(3*time.Minute)) {
		t.Fatal("the first line of the next period was held back")
	}
	got = summaries(logLines(t, out.String()))
	if len(got) != 1 || got[0].Suppressed != 2 || got[0].SuppressedRaises != 2 || !got[0].Active {
		t.Fatalf("summaries %+v, want 2 raises left out, the alarm active", got)
	}

	// Leaving the manager reports what the current period left out.
	out = syncBuffer{}
	for i := range 4 {
		l.allow(poolHigh, i%2 == 0, at(3*time.Minute+time.Duration(i)*time.Second))
	}
	l.flushAll()
	got = summaries(logLines(t, out.String()))
	if len(got) != 1 || got[0].Alarm != AlarmFrequencyPoolHigh || got[0].Severity != SeverityMinor || got[0].Suppressed != 1 {
		t.Fatalf("summaries at the end %+v, want frequency_pool_high's 1 line left out", got)
	}
	if len(l.windows) != 0 {
		t.Errorf("%d periods kept after flushAll", len(l.windows))
	}
}

func TestAlarmLogDefaults(t *testing.T) {
	l := newAlarmLog(zerolog.Nop(), 0, -time.Second)
	if l.burst != DefaultAlarmLogBurst || l.period != DefaultAlarmLogPeriod {
		t.Errorf("burst %d period %v, want the defaults", l.burst, l.period)
	}
}

// Through the manager: a flapping alarm logs a few lines and a summary,
// while every raise and clear is still counted, stored in the history,
// written by the logger handler and shown in bsc_alarm_active.
func TestFlappingAlarmLinesLimitedBooksKept(t *testing.T) {
	const flaps = 40 // the history answers up to 100 records at once
	h := start(t, Config{AlarmLogBurst: 4, AlarmLogPeriod: time.Minute})
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range flaps {
		at := t0.Add(time.Duration(i) * time.Second)
		h.sync(t,
			Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "frequency", At: at},
			Event{Kind: ClearAlarm, ID: AlarmNoFrequency, Source: "frequency", At: at.Add(time.Millisecond)})
	}
	lines := logLines(t, h.logs.String())
	if n := h.logs.count("alarm raised") + h.logs.count("alarm cleared"); n != 4 {
		t.Errorf("%d raise and clear lines, want 4:\n%s", n, h.logs)
	}
	if s := summaries(lines); len(s) != 0 {
		t.Errorf("a summary before the minute is over: %+v", s)
	}
	if err := h.m.call(ctxT(t), "flush", func() { h.m.flushLogs(t0.Add(time.Minute)) }); err != nil {
		t.Fatal(err)
	}
	s := summaries(logLines(t, h.logs.String()))
	if len(s) != 1 || s[0].Suppressed != 2*flaps-4 || s[0].SuppressedRaises != flaps-2 || s[0].SuppressedClears != flaps-2 || s[0].Active {
		t.Errorf("summaries %+v, want one of %d lines, %d raises and clears each, inactive", s, 2*flaps-4, flaps-2)
	}

	if got := h.counters(t); got["set_alarm:no_frequency"] != flaps || got["clear_alarm:no_frequency"] != flaps {
		t.Errorf("counters %v, want %d sets and clears", got, flaps)
	}
	for _, action := range []string{"set", "clear"} {
		if got := value(t, h.metrics.transitions.WithLabelValues(AlarmNoFrequency, action)); got != flaps {
			t.Errorf("bsc_alarm_transitions_total{action=%s} = %v, want %d", action, got, flaps)
		}
	}
	if got := value(t, h.metrics.active.WithLabelValues(AlarmNoFrequency, SeverityMajor)); got != 0 {
		t.Errorf("bsc_alarm_active = %v, want 0 after the last clear", got)
	}
	if err := h.m.SyncNotify(ctxT(t), Event{Kind: SetAlarm, ID: AlarmNoFrequency, Source: "frequency", At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, h.metrics.active.WithLabelValues(AlarmNoFrequency, SeverityMajor)); got != 1 {
		t.Errorf("bsc_alarm_active = %v, want 1 after a raise", got)
	}
	hist, err := h.m.History(ctxT(t), store.AlarmQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2*flaps+1 {
		t.Errorf("%d history records, want %d", len(hist), 2*flaps+1)
	}
	if recs := readRecords(t, h.logFile); len(recs) != 2*flaps+1 {
		t.Errorf("the logger handler wrote %d records, want every event's, %d", len(recs), 2*flaps+1)
	}
}

// The manager's own clock ends the periods: a summary comes without
// another event. The period is short to keep the wait short, but long
// enough that the three events, stamped on the real clock, fall in one
// window on a loaded machine; the wait is for a condition, with a deadline.
func TestAlarmLogSummaryComesOnTheManagersClock(t *testing.T) {
	h := start(t, Config{AlarmLogBurst: 1, AlarmLogPeriod: 500 * time.Millisecond})
	h.sync(t, ev(SetAlarm, AlarmOverloaded), ev(ClearAlarm, AlarmOverloaded), ev(SetAlarm, AlarmOverloaded))
	testutil.Eventually(t, waitLimit, "the summary", func() bool { return h.logs.count("alarm log lines suppressed") > 0 })
	s := summaries(logLines(t, h.logs.String()))
	if len(s) != 1 || s[0].Alarm != AlarmOverloaded || s[0].Suppressed != 2 || !s[0].Active {
		t.Errorf("summaries %+v, want overloaded's 2 lines left out, active", s)
	}
}

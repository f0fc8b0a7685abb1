package sup

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestLogReporter: every report is one structured line, at the level its
// kind deserves, and moves its counter.
func TestLogReporter(t *testing.T) {
	var buf bytes.Buffer
	reg := prometheus.NewRegistry()
	var storms []string
	r := &LogReporter{
		Log:     zerolog.New(&buf).Level(zerolog.DebugLevel),
		Metrics: NewMetrics(reg),
		OnStorm: func(sup string, active bool) {
			storms = append(storms, sup+map[bool]string{true: ":on", false: ":off"}[active])
		},
	}
	stack := "goroutine 7 [running]:\nbsc/internal/overload.(*Manager).loop()"
	crash := &PanicError{Value: "overload: crash requested", Stack: []byte(stack)}

	cases := []struct {
		name   string
		report func()
		level  string
		fields map[string]any // besides level; "report" and "message" always given
		metric string         // the counter the report moves, if any
		labels []string
		by     float64
	}{
		{"start", func() { r.ChildStarted("bsc", "overload", false) }, "info",
			map[string]any{"report": "progress", "message": "child started", "supervisor": "bsc", "child": "overload"},
			"bsc_supervisor_child_starts_total", []string{"supervisor", "bsc", "child", "overload"}, 1},
		{"dynamic start", func() { r.ChildStarted("phones", "phone", true) }, "debug",
			map[string]any{"report": "progress", "message": "child started", "supervisor": "phones", "child": "phone"},
			"bsc_supervisor_child_starts_total", []string{"supervisor", "phones", "child", "phone"}, 1},
		{"normal exit", func() { r.ChildExited("bsc", "frequency", false, nil) }, "info",
			map[string]any{"report": "progress", "message": "child stopped", "supervisor": "bsc", "child": "frequency"},
			"bsc_supervisor_child_exits_total", []string{"supervisor", "bsc", "child", "frequency", "exit", "normal"}, 1},
		{"dynamic shutdown", func() { r.ChildExited("phones", "phone", true, ErrShutdown) }, "debug",
			map[string]any{"report": "progress", "message": "child stopped", "supervisor": "phones", "child": "phone"},
			"bsc_supervisor_child_exits_total", []string{"supervisor", "phones", "child", "phone", "exit", "normal"}, 1},
		{"error exit", func() { r.ChildExited("bsc", "frequency", false, errBoom) }, "error",
			map[string]any{"report": "crash", "message": "child crashed", "supervisor": "bsc", "child": "frequency", "error": "boom"},
			"bsc_supervisor_child_exits_total", []string{"supervisor", "bsc", "child", "frequency", "exit", "abnormal"}, 1},
		{"panic", func() { r.ChildExited("bsc", "overload", false, crash) }, "error",
			map[string]any{"report": "crash", "message": "child crashed", "supervisor": "bsc", "child": "overload",
				"error": "panic: overload: crash requested", "stack": stack},
			"bsc_supervisor_child_exits_total", []string{"supervisor", "bsc", "child", "overload", "exit", "abnormal"}, 1},
		{"dynamic crash is no debug", func() { r.ChildExited("phones", "phone", true, errBoom) }, "error",
			map[string]any{"report": "crash", "message": "child crashed", "supervisor": "phones", "child": "phone", "error": "boom"},
			"bsc_supervisor_child_exits_total", []string{"supervisor", "phones", "child", "phone", "exit", "abnormal"}, 1},
		{"restart", func() { r.ChildRestarted("bsc", "overload", 1, 2) }, "warn",
			map[string]any{"report": "supervisor", "message": "child restarted", "supervisor": "bsc", "child": "overload",
				"restarts_in_window": 1.0, "max_restarts": 2.0},
			"bsc_supervisor_restarts_total", []string{"supervisor", "bsc", "child", "overload"}, 1},
		{"storm", func() { r.RestartStorm("bsc", true) }, "warn",
			map[string]any{"report": "supervisor", "message": "restart storm", "supervisor": "bsc", "active": true},
			"", nil, 0},
		{"storm over", func() { r.RestartStorm("bsc", false) }, "warn",
			map[string]any{"report": "supervisor", "message": "restart storm", "supervisor": "bsc", "active": false},
			"", nil, 0},
		{"abandon", func() { r.Abandoned("phones", "phone", 3, 2*time.Second) }, "error",
			map[string]any{"report": "supervisor", "message": "child ignored its shutdown time and was abandoned",
				"supervisor": "phones", "child": "phone", "count": 3.0, "shutdown": 2000.0},
			"bsc_supervisor_abandoned_total", []string{"supervisor", "phones", "child", "phone"}, 3},
		{"give up", func() { r.GaveUp("bsc", errBoom) }, "error",
			map[string]any{"report": "supervisor", "message": "supervisor gave up", "supervisor": "bsc", "error": "boom"},
			"bsc_supervisor_give_ups_total", []string{"supervisor", "bsc"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf.Reset()
			var before float64
			if c.metric != "" {
				before, _ = testutil.Metric(t, reg, c.metric, c.labels...)
			}
			c.report()

			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d lines, want one:\n%s", len(lines), buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatalf("line %q: %v", lines[0], err)
			}
			if got["level"] != c.level {
				t.Errorf("level %v, want %s", got["level"], c.level)
			}
			for k, want := range c.fields {
				if got[k] != want {
					t.Errorf("%s = %#v, want %#v in %s", k, got[k], want, lines[0])
				}
			}
			if c.metric != "" {
				after, ok := testutil.Metric(t, reg, c.metric, c.labels...)
				if !ok || after-before != c.by {
					t.Errorf("%s%v went from %v to %v (exists %v), want up by %v", c.metric, c.labels, before, after, ok, c.by)
				}
			}
		})
	}
	if strings.Join(storms, ",") != "bsc:on,bsc:off" {
		t.Errorf("OnStorm told %v, want bsc:on,bsc:off", storms)
	}
}

// A LogReporter without metrics or storm hook still logs every report.
func TestLogReporterWithoutMetrics(t *testing.T) {
	var buf bytes.Buffer
	r := &LogReporter{Log: zerolog.New(&buf)}
	r.ChildStarted("s", "c", false)
	r.ChildExited("s", "c", false, nil)
	r.ChildExited("s", "c", false, errBoom)
	r.ChildRestarted("s", "c", 1, 2)
	r.RestartStorm("s", true)
	r.Abandoned("s", "c", 1, time.Second)
	r.GaveUp("s", errBoom)
	if n := strings.Count(buf.String(), "\n"); n != 7 {
		t.Fatalf("%d lines for 7 reports:\n%s", n, buf.String())
	}
}

// Init makes every series of a supervisor's children exist at zero.
func TestMetricsInit(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Init("bsc", "overload")
	series := map[string][]string{
		"bsc_supervisor_child_starts_total": {"supervisor", "bsc", "child", "overload"},
		"bsc_supervisor_child_exits_total":  {"supervisor", "bsc", "child", "overload", "exit", "abnormal"},
		"bsc_supervisor_restarts_total":     {"supervisor", "bsc", "child", "overload"},
		"bsc_supervisor_give_ups_total":     {"supervisor", "bsc"},
		"bsc_supervisor_abandoned_total":    {"supervisor", "bsc", "child", "overload"},
	}
	for name, labels := range series {
		if v, ok := testutil.Metric(t, reg, name, labels...); !ok || v != 0 {
			t.Errorf("%s%v = %v (exists %v), want 0", name, labels, v, ok)
		}
	}
	if v, ok := testutil.Metric(t, reg, "bsc_supervisor_child_exits_total", "exit", "normal"); !ok || v != 0 {
		t.Errorf("normal exits = %v (exists %v), want 0", v, ok)
	}
	(*Metrics)(nil).Init("bsc", "overload") // no metrics: nothing to do
}

package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/load"
	"github.com/bsc-sim/bsc/internal/load/loadtest"
)

func TestLoadUsageErrors(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     string
		stderrLine string
	}{
		{"help", []string{"load", "-h"}, nil, 0, "--answer-delay range", ""},
		{"bad flag", []string{"load", "--phone", "3"}, nil, 2, "", "bsc load: unknown flag: --phone; did you mean --phones?"},
		{"argument", []string{"load", "x"}, nil, 2, "", `unexpected argument "x"`},
		{"bad range", []string{"load", "--answer-delay", "5ms-1ms"}, nil, 2, "", "not a range MIN-MAX"},
		{"bad ratio", []string{"load", "--max-error-rate", "2"}, nil, 2, "", "not a ratio from 0 to 1"},
		{"too few phones", []string{"load", "--phones", "1"}, nil, 2, "", "phones 1"},
		{"bad env", []string{"load"}, map[string]string{"BSC_LOAD_RATE": "fast"}, 2, "", "env BSC_LOAD_RATE"},
		{"bad target", []string{"load", "--target", "localhost:8080"}, nil, 2, "", "is not an http(s)://host:port URL"},
		{"bad target of three", []string{"load", "--target", "http://a:1,b:2,http://c:3"}, nil, 2, "", `target "b:2" is not an http(s)://host:port URL`},
		{"empty target in the list", []string{"load", "--target", "http://a:1,,http://c:3"}, nil, 2, "", "has an empty URL"},
		{"a target twice", []string{"load", "--target", "http://a:1,http://a:1"}, nil, 2, "", `target "http://a:1" is given twice`},
		{"bad target from env", []string{"load"}, map[string]string{"BSC_LOAD_TARGET": "http://a:1,"}, 2, "", "env BSC_LOAD_TARGET"},
		{"negative retries", []string{"load", "--retries", "-1"}, nil, 2, "", "retries -1: want 0 to 20"},
		{"traffic and accept", []string{"load", "--erlangs", "5", "--accept", "1"}, nil, 2, "",
			"--accept does not apply to the traffic model: every callee accepts"},
		{"traffic and workers", []string{"load", "--busy-hour-calls", "2", "--workers", "3"}, nil, 2, "",
			"--workers does not apply to the traffic model"},
		{"traffic and answer delay", []string{"load", "--erlangs", "5", "--answer-delay", "1ms"}, nil, 2, "",
			"--answer-delay does not apply to the traffic model"},
		{"traffic and talk time from env", []string{"load", "--erlangs", "5"}, map[string]string{"BSC_LOAD_TALK_TIME": "5ms"}, 2, "",
			"BSC_LOAD_TALK_TIME does not apply to the traffic model"},
		{"traffic and rate", []string{"load", "--erlangs", "5", "--rate", "10"}, nil, 2, "", "rate conflicts with the traffic model"},
		{"traffic and ramp", []string{"load", "--erlangs", "5", "--ramp", "1s"}, nil, 2, "", "ramp conflicts with the traffic model"},
		{"traffic both ways", []string{"load", "--erlangs", "5", "--busy-hour-calls", "1"}, nil, 2, "", "erlangs and busy-hour-calls both set"},
		{"negative erlangs", []string{"load", "--erlangs", "-5"}, nil, 2, "", "erlangs -5: want a non-negative traffic"},
		{"holding time alone", []string{"load", "--holding-time", "90s"}, nil, 2, "", "--holding-time needs the traffic model"},
		{"zero holding time", []string{"load", "--erlangs", "5", "--holding-time", "0s"}, nil, 2, "", "holding time 0s"},
		{"max-gos alone", []string{"load", "--max-gos", "0.02"}, nil, 2, "", "max-gos needs the traffic model"},
		{"cell alone", []string{"load", "--cell", "2"}, nil, 2, "", "cell needs the traffic model"},
		{"negative cell", []string{"load", "--erlangs", "5", "--cell", "-1"}, nil, 2, "", `"-1" is not a cell number from 0 to 1023`},
		{"bad cell from env", []string{"load", "--erlangs", "5"}, map[string]string{"BSC_LOAD_CELL": "x"}, 2, "", "env BSC_LOAD_CELL"},
		{"dimension in a cell", []string{"load", "--dimension", "--erlangs", "5", "--gos", "0.02", "--cell", "1"}, nil, 2, "",
			"--cell is for a run: --dimension contacts no server"},
		{"bad max-gos", []string{"load", "--erlangs", "5", "--max-gos", "2"}, nil, 2, "", "not a ratio from 0 to 1"},
		{"gos for a run", []string{"load", "--erlangs", "5", "--gos", "0.02"}, nil, 2, "", "--gos is the target of --dimension"},
		{"dimension without gos", []string{"load", "--dimension", "--erlangs", "5"}, nil, 2, "", "--gos 0: --dimension needs a grade of service"},
		{"dimension gos 1", []string{"load", "--dimension", "--erlangs", "5", "--gos", "1"}, nil, 2, "", "--gos 1:"},
		{"dimension without traffic", []string{"load", "--dimension", "--gos", "0.02"}, nil, 2, "", "--dimension needs the offered traffic"},
		{"dimension and a run's flag", []string{"load", "--dimension", "--erlangs", "5", "--gos", "0.02", "--target", "http://x:1"}, nil, 2, "",
			"--target is for a run: --dimension contacts no server"},
		{"dimension too much traffic", []string{"load", "--dimension", "--erlangs", "1e7", "--gos", "0.02"}, nil, 2, "", "offered traffic 1e+07 E"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(tt.args, &stdout, &stderr, func(k string) string { return tt.env[k] })
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			if errOut := stderr.String(); (tt.stderrLine == "") != (errOut == "") ||
				!strings.Contains(errOut, tt.stderrLine) || strings.Count(errOut, "\n") > 1 {
				t.Errorf("stderr %q, want one line with %q", errOut, tt.stderrLine)
			}
		})
	}
}

// --dimension prints the frequencies a cell needs, from the flags alone:
// the variables of a run (here a target that counts what it is asked) do
// not stop it, and nothing is sent.
func TestLoadDimension(t *testing.T) {
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { asked.Add(1) }))
	defer srv.Close()
	env := map[string]string{"BSC_LOAD_TARGET": srv.URL}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--erlangs", "5", "--gos", "0.02"}, []string{
			"offered      5 E\n",
			"gos          2% of calls blocked at most",
			"frequencies  10 (e.g. bsc serve --frequencies 1-10)\n",
			"blocking     1.838% with 10; 9 would block 3.746%\n",
			"capacity     up to 5.084 E on 10 frequencies at 2%\n",
		}},
		{[]string{"--busy-hour-calls", "1.5", "--phones", "500", "--holding-time", "90s", "--gos", "0.01"}, []string{
			"offered      18.75 E (500 phones x 1.5/h each x 1m30s mean holding)\n",
			"frequencies  29 (",
			"capacity     up to 19.49 E on 29 frequencies at 1%\n",
		}},
		{[]string{"--erlangs", "0.01", "--gos", "0.5"}, []string{
			"frequencies  1 (e.g. bsc serve --frequencies 1)\n",
			"capacity     up to 1 E on 1 frequency at 50%\n",
		}},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		args := append([]string{"load", "--dimension"}, tt.args...)
		if code := run(args, &stdout, &stderr, func(k string) string { return env[k] }); code != 0 || stderr.Len() > 0 {
			t.Errorf("%v: exit %d, stderr %q", tt.args, code, stderr.String())
		}
		for _, want := range tt.want {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, want, stdout.String())
			}
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("--dimension sent %d requests", n)
	}
}

func TestLoadConfigLayers(t *testing.T) {
	env := map[string]string{"BSC_LOAD_TOKEN": "tok", "BSC_LOAD_PHONES": "30", "BSC_LOAD_TALK_TIME": "5ms",
		"BSC_LOAD_TARGET": "http://h1:8081, http://h2:8082", "BSC_LOAD_RETRIES": "0"}
	cfg, o := load.DefaultConfig(), loadOptions{}
	fs := loadFlags(&cfg, &o)
	if err := fs.Parse([]string{"--phones", "12", "--out", "r.json", "--answer-delay", "2ms-3s"}); err != nil {
		t.Fatal(err)
	}
	if err := loadConfig(fs, &cfg, &o, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.Token != "tok" || cfg.Phones != 12 || o.out != "r.json" {
		t.Errorf("token %q phones %d out %q: want the variable's token and the flag's phones", cfg.Token, cfg.Phones, o.out)
	}
	if cfg.AnswerMin != 2*time.Millisecond || cfg.AnswerMax != 3*time.Second || cfg.TalkMin != 5*time.Millisecond || cfg.TalkMax != 5*time.Millisecond {
		t.Errorf("answer %v-%v talk %v-%v", cfg.AnswerMin, cfg.AnswerMax, cfg.TalkMin, cfg.TalkMax)
	}
	if cfg.MaxErrorRate >= 0 || cfg.MaxP99 != 0 {
		t.Errorf("thresholds set by default: %v %v", cfg.MaxErrorRate, cfg.MaxP99)
	}
	if !slices.Equal(cfg.Targets, []string{"http://h1:8081", "http://h2:8082"}) || cfg.Retries != 0 {
		t.Errorf("targets %q, retries %d: want the variable's two targets and no retry", cfg.Targets, cfg.Retries)
	}
}

// smallRun is the flags of a short run against target.
func smallRun(target string, extra ...string) []string {
	return append([]string{"load", "--target", target, "--phones", "10", "--calls", "30",
		"--answer-delay", "1ms-10ms", "--talk-time", "1ms-20ms", "--timeout", "2s"}, extra...)
}

func runCLI(t *testing.T, args []string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	done := make(chan int, 1)
	go func() { done <- run(args, &out, &errOut, func(string) string { return "" }) }()
	select {
	case code = <-done:
	case <-time.After(time.Minute):
		t.Fatal("bsc load did not end within a minute")
	}
	return code, out.String(), errOut.String()
}

func TestLoadRun(t *testing.T) {
	srv := loadtest.Start(t, nil)
	file := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := runCLI(t, smallRun(srv.URL, "--out", file, "--max-p99", "5s", "--max-error-rate", "0"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"call attempts  30,", "books          ok", "thresholds     ok"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("stderr %q: a progress bar, but stderr is not a terminal", stderr)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Partial bool `json:"partial"`
		Calls   struct {
			Attempts int `json:"attempts"`
		} `json:"calls"`
		Books struct {
			OK bool `json:"ok"`
		} `json:"books"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Partial || rep.Calls.Attempts != 30 || !rep.Books.OK {
		t.Errorf("JSON report %+v (%v):\n%s", rep, err, raw)
	}
}

// A traffic-model run on a cell of two frequencies at 4 E blocks about
// 62 % of its calls: --max-gos 0.05 fails it, and both reports say why.
func TestLoadTrafficMaxGoS(t *testing.T) {
	srv := loadtest.Start(t, func(c *config.Config) { c.Frequencies = "1-2" })
	file := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := runCLI(t, []string{"load", "--target", srv.URL, "--phones", "20", "--calls", "60",
		"--erlangs", "4", "--holding-time", "20ms", "--timeout", "2s", "--max-gos", "0.05", "--out", file})
	if code != 1 || !strings.Contains(stderr, "thresholds missed: blocking 0.") {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	for _, want := range []string{"traffic model, 4.000 E offered", "channels       2 (", "Erlang B       61.54% for 4.000 E asked on 2 channels",
		"books          ok", "thresholds     MISSED: blocking 0."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Model   string `json:"model"`
		Traffic struct {
			Channels    int        `json:"channels"`
			Reached     int        `json:"reached"`
			NoFrequency int        `json:"no_frequency"`
			CI          [2]float64 `json:"blocking_ci95"`
			ErlangB     float64    `json:"erlang_b"`
		} `json:"traffic"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Model != "traffic" || rep.Traffic.Channels != 2 ||
		rep.Traffic.Reached == 0 || rep.Traffic.NoFrequency == 0 || rep.Traffic.CI[1] <= rep.Traffic.CI[0] {
		t.Errorf("JSON report %+v (%v):\n%s", rep, err, raw)
	}
}

func TestLoadThresholdMissed(t *testing.T) {
	srv := loadtest.Start(t, nil)
	code, stdout, stderr := runCLI(t, smallRun(srv.URL, "--max-p99", "1ns"))
	if code != 1 || !strings.Contains(stderr, "thresholds missed") || !strings.Contains(stdout, "thresholds     MISSED") {
		t.Errorf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
}

func TestLoadUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := "http://" + ln.Addr().String()
	ln.Close()
	code, stdout, stderr := runCLI(t, smallRun(target))
	if code != 1 || !strings.Contains(stderr, "target unreachable") || !strings.Contains(stdout, "PARTIAL REPORT") {
		t.Errorf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
}

// An interrupt (here cancelling the context a signal would) ends the run
// with a partial report and exit 130.
func TestLoadInterrupted(t *testing.T) {
	var cancelRun atomic.Pointer[context.CancelFunc]
	old := notifyContext
	t.Cleanup(func() { notifyContext = old })
	notifyContext = func(parent context.Context, _ ...os.Signal) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(parent)
		cancelRun.Store(&cancel)
		return ctx, cancel
	}
	var actions atomic.Int64
	srv := loadtest.StartWrapped(t, nil, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/actions") && actions.Add(1) == 20 {
				(*cancelRun.Load())()
			}
			h.ServeHTTP(w, r)
		})
	})
	code, stdout, stderr := runCLI(t, smallRun(srv.URL, "--calls", "1000000"))
	if code != exitInterrupted || !strings.Contains(stdout, "PARTIAL REPORT: interrupted") || !strings.Contains(stderr, "interrupted") {
		t.Errorf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
}

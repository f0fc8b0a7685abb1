package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
		{"help", []string{"load", "-h"}, nil, 0, "-answer-delay", ""},
		{"bad flag", []string{"load", "--phone", "3"}, nil, 2, "", "flag provided but not defined: -phone"},
		{"argument", []string{"load", "x"}, nil, 2, "", `unexpected argument "x"`},
		{"bad range", []string{"load", "--answer-delay", "5ms-1ms"}, nil, 2, "", "not a range MIN-MAX"},
		{"bad ratio", []string{"load", "--max-error-rate", "2"}, nil, 2, "", "not a ratio from 0 to 1"},
		{"too few phones", []string{"load", "--phones", "1"}, nil, 2, "", "phones 1"},
		{"bad env", []string{"load"}, map[string]string{"BSC_LOAD_RATE": "fast"}, 2, "", "env BSC_LOAD_RATE"},
		{"bad target", []string{"load", "--target", "localhost:8080"}, nil, 2, "", "is not an http(s)://host:port URL"},
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

func TestLoadConfigLayers(t *testing.T) {
	env := map[string]string{"BSC_LOAD_TOKEN": "tok", "BSC_LOAD_PHONES": "30", "BSC_LOAD_TALK_TIME": "5ms"}
	cfg, out, err := loadConfig([]string{"--phones", "12", "--out", "r.json", "--answer-delay", "2ms-3s"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token != "tok" || cfg.Phones != 12 || out != "r.json" {
		t.Errorf("token %q phones %d out %q: want the variable's token and the flag's phones", cfg.Token, cfg.Phones, out)
	}
	if cfg.AnswerMin != 2*time.Millisecond || cfg.AnswerMax != 3*time.Second || cfg.TalkMin != 5*time.Millisecond || cfg.TalkMax != 5*time.Millisecond {
		t.Errorf("answer %v-%v talk %v-%v", cfg.AnswerMin, cfg.AnswerMax, cfg.TalkMin, cfg.TalkMax)
	}
	if cfg.MaxErrorRate >= 0 || cfg.MaxP99 != 0 {
		t.Errorf("thresholds set by default: %v %v", cfg.MaxErrorRate, cfg.MaxP99)
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

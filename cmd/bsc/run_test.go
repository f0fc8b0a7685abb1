package main

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/bsc-sim/bsc/internal/app"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/rs/zerolog"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bsc.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	good := writeConfig(t, "listen: 127.0.0.1:9000\nlog-level: debug\n")
	bad := writeConfig(t, "log-level: loud\n")
	open := writeConfig(t, "listen: 0.0.0.0:9000\n")
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     string // substring
		stderrLine string // substring of the only stderr line; "" = no stderr
	}{
		{"no command", nil, nil, 2, "", "bsc: missing command; try 'bsc help'"},
		{"unknown command", []string{"frobnicate"}, nil, 2, "", `bsc: unknown command "frobnicate"; try 'bsc help'`},
		{"help", []string{"help"}, nil, 0, "Available Commands:", ""},
		{"--help", []string{"--help"}, nil, 0, "Available Commands:", ""},
		{"version", []string{"version"}, nil, 0, "bsc ", ""},
		{"version with argument", []string{"version", "x"}, nil, 2, "", "bsc version: unexpected argument"},
		{"check ok", []string{"check", "--config", good}, nil, 0, "ok", ""},
		{"check open without token", []string{"check", "--config", open}, nil, 0, "ok", "warning: listen 0.0.0.0:9000 is reachable from other hosts and no api-token"},
		{"check bad value", []string{"check", "--config", bad}, nil, 1, "", `unknown log level "loud"`},
		{"check missing file", []string{"check", "--config", "/nonexistent.yaml"}, nil, 1, "", "no such file"},
		{"check without config", []string{"check"}, nil, 2, "", "usage: bsc check --config FILE"},
		{"check bad flag", []string{"check", "--conf", good}, nil, 2, "", "bsc check: unknown flag: --conf; did you mean --config?"},
		{"serve bad flag", []string{"serve", "--listen"}, nil, 2, "", "bsc serve: flag needs an argument: --listen"},
		{"serve bad value", []string{"serve", "--frequencies", "0"}, nil, 2, "", `bsc serve: invalid argument "0" for "--frequencies" flag`},
		{"serve stray argument", []string{"serve", "extra"}, nil, 2, "", `bsc serve: unexpected argument "extra"`},
		{"serve bad env", []string{"serve"}, map[string]string{"BSC_LOG_LEVEL": "loud"}, 2, "", "env BSC_LOG_LEVEL"},
		{"serve bad file", []string{"serve", "--config", bad}, nil, 2, "", "config file"},
		{"serve help", []string{"serve", "-h"}, nil, 0, "--max-inflight int", ""},
	}
	runApp = func(context.Context, config.Config, zerolog.Logger, app.Reloader) error {
		t.Error("serve reached app.Run")
		return nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(tt.args, &stdout, &stderr, func(k string) string { return tt.env[k] })
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			errOut := stderr.String()
			if tt.stderrLine == "" && errOut != "" {
				t.Errorf("stderr %q, want none", errOut)
			}
			if tt.stderrLine != "" && (!strings.Contains(errOut, tt.stderrLine) || strings.Count(errOut, "\n") != 1) {
				t.Errorf("stderr %q, want one line containing %q", errOut, tt.stderrLine)
			}
		})
	}
}

func TestServeRunsApp(t *testing.T) {
	file := writeConfig(t, "frequencies: 1-3\n")
	var got config.Config
	runApp = func(ctx context.Context, cfg config.Config, log zerolog.Logger, _ app.Reloader) error {
		if ctx.Err() != nil {
			t.Error("app started with a cancelled context")
		}
		got = cfg
		log.Debug().Msg("debug line")
		return nil
	}
	var stdout, stderr strings.Builder
	env := map[string]string{"BSC_API_TOKEN": "tok"}
	code := run([]string{"serve", "--config", file, "--log-level", "warn", "--fault-injection"}, &stdout, &stderr,
		func(k string) string { return env[k] })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got.Frequencies != "1-3" || got.APIToken != "tok" || !got.FaultInjection || got.LogLevel != zerolog.WarnLevel {
		t.Errorf("app got %+v", got)
	}
	if stderr.Len() != 0 {
		t.Errorf("debug line logged at level warn: %q", stderr.String())
	}
}

func TestServeAppError(t *testing.T) {
	runApp = func(context.Context, config.Config, zerolog.Logger, app.Reloader) error {
		return errors.New("top supervisor gave up: frequency restarted too often")
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"serve"}, &stdout, &stderr, func(string) string { return "" }); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var line map[string]any
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &line) != nil {
		t.Fatalf("stderr %q, want one JSON log line", stderr.String())
	}
	if line["level"] != "error" || !strings.Contains(line["error"].(string), "gave up") {
		t.Errorf("log line %v", line)
	}
}

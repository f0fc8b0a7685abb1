package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bsc.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	cfg, err := Load(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "127.0.0.1:8080", DB: "./bsc.db", Frequencies: "10-15", AutoProvision: true,
		LogLevel: zerolog.InfoLevel, ShutdownTimeout: 10 * time.Second, MaxConnections: 2048, MaxPhones: 2_000_000,
		Node: DefaultNode(), Cells: DefaultCells, HandoffTimeout: 10 * time.Second, ClusterName: DefaultClusterName,
	}
	if cfg != want {
		t.Errorf("Load() = %+v\nwant %+v", cfg, want)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:1\nfrequencies: 1-3\nlog-level: warn\nauto-provision: false\n")
	other := writeFile(t, "listen: 127.0.0.1:9\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*Config)
	}{
		{"file over default", []string{"--config", file}, nil, func(c *Config) {
			c.Listen, c.Frequencies, c.LogLevel, c.AutoProvision = "127.0.0.1:1", "1-3", zerolog.WarnLevel, false
			c.Config = file
		}},
		{"env over file", []string{"--config", file}, map[string]string{"BSC_LISTEN": "127.0.0.1:2", "BSC_AUTO_PROVISION": "true"}, func(c *Config) {
			c.Listen, c.Frequencies, c.LogLevel = "127.0.0.1:2", "1-3", zerolog.WarnLevel
			c.Config = file
		}},
		{"flag over env", []string{"--config", file, "--listen", "127.0.0.1:3"}, map[string]string{"BSC_LISTEN": "127.0.0.1:2"}, func(c *Config) {
			c.Listen, c.Frequencies, c.LogLevel, c.AutoProvision = "127.0.0.1:3", "1-3", zerolog.WarnLevel, false
			c.Config = file
		}},
		{"file named by env", nil, map[string]string{"BSC_CONFIG": file}, func(c *Config) {
			c.Listen, c.Frequencies, c.LogLevel, c.AutoProvision = "127.0.0.1:1", "1-3", zerolog.WarnLevel, false
			c.Config = file
		}},
		{"file flag over file env", []string{"--config", other}, map[string]string{"BSC_CONFIG": file}, func(c *Config) {
			c.Listen, c.Config = "127.0.0.1:9", other
		}},
		{"empty env is unset", nil, map[string]string{"BSC_DB": ""}, func(*Config) {}},
		{"every flag", []string{
			"--listen=:9090", "--db=/tmp/x.db", "--frequencies=1,2", "--auto-provision=false", "--api-token=s3cret",
			"--fault-injection", "--log-level=debug", "--shutdown-timeout=3s", "--max-inflight=7", "--max-connections=8",
			"--pprof-listen=127.0.0.1:6060", "--max-phones=9", "--node=n1", "--cluster-listen=127.0.0.1:6222",
			"--cluster-peers=127.0.0.1:6223,127.0.0.1:6224", "--cells=3", "--handoff-timeout=4s", "--cluster-name=east-1",
		}, nil, func(c *Config) {
			*c = Config{Listen: ":9090", DB: "/tmp/x.db", Frequencies: "1,2", APIToken: "s3cret", FaultInjection: true,
				LogLevel: zerolog.DebugLevel, ShutdownTimeout: 3 * time.Second, MaxInflight: 7, MaxConnections: 8,
				PprofListen: "127.0.0.1:6060", MaxPhones: 9, Node: "n1", ClusterListen: "127.0.0.1:6222",
				ClusterPeers: "127.0.0.1:6223,127.0.0.1:6224", Cells: 3, HandoffTimeout: 4 * time.Second, ClusterName: "east-1"}
		}},
		{"every env", nil, map[string]string{
			"BSC_LISTEN": ":9090", "BSC_DB": "/tmp/x.db", "BSC_FREQUENCIES": "1,2", "BSC_AUTO_PROVISION": "false",
			"BSC_API_TOKEN": "s3cret", "BSC_FAULT_INJECTION": "true", "BSC_LOG_LEVEL": "DEBUG",
			"BSC_SHUTDOWN_TIMEOUT": "3s", "BSC_MAX_INFLIGHT": "7", "BSC_MAX_CONNECTIONS": "8", "BSC_PPROF_LISTEN": "127.0.0.1:6060", "BSC_MAX_PHONES": "9",
			"BSC_NODE": "n2", "BSC_NATS_URL": "nats://127.0.0.1:4222", "BSC_CELLS": "5", "BSC_HANDOFF_TIMEOUT": "2s",
			"BSC_CLUSTER_NAME": "east_2",
		}, func(c *Config) {
			*c = Config{Listen: ":9090", DB: "/tmp/x.db", Frequencies: "1,2", APIToken: "s3cret", FaultInjection: true,
				LogLevel: zerolog.DebugLevel, ShutdownTimeout: 3 * time.Second, MaxInflight: 7, MaxConnections: 8,
				PprofListen: "127.0.0.1:6060", MaxPhones: 9, Node: "n2", NATSURL: "nats://127.0.0.1:4222", Cells: 5,
				HandoffTimeout: 2 * time.Second, ClusterName: "east_2"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Default()
			tt.want(&want)
			got, err := Load(tt.args, envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // content of a file passed with --config
		want string // substring of the one-line error
	}{
		{"unknown flag", []string{"--nope"}, nil, "", "unknown flag: --nope"},
		{"go-style flag", []string{"-listen", ":1"}, nil, "", "unknown shorthand flag"},
		{"stray argument", []string{"extra"}, nil, "", `unexpected argument "extra"`},
		{"bad listen flag", []string{"--listen", "localhost"}, nil, "", `invalid argument "localhost" for "--listen" flag`},
		{"bad port", []string{"--listen", "h:99999"}, nil, "", "port"},
		{"empty db", []string{"--db", " "}, nil, "", `"--db" flag: must not be empty`},
		{"bad pool flag", []string{"--frequencies", "5-1"}, nil, "", `"--frequencies" flag: invalid frequency pool`},
		{"duplicate pool", []string{"--frequencies", "1,1"}, nil, "", "appears twice"},
		{"bad bool flag", []string{"--auto-provision=maybe"}, nil, "", "auto-provision"},
		{"bad level flag", []string{"--log-level", "loud"}, nil, "", `unknown log level "loud"`},
		{"numeric level", []string{"--log-level", "1"}, nil, "", "unknown log level"},
		{"bad timeout", []string{"--shutdown-timeout", "-1s"}, nil, "", "positive duration"},
		{"bad inflight", []string{"--max-inflight", "0"}, nil, "", "positive integer"},
		{"bad pprof address", []string{"--pprof-listen", "nowhere"}, nil, "", "host:port"},
		{"bad phone cap", []string{"--max-phones", "-1"}, nil, "", "positive integer"},
		{"bad env", nil, map[string]string{"BSC_FAULT_INJECTION": "yes please"}, "", `env BSC_FAULT_INJECTION: "yes please" is not true or false`},
		{"bad env level", nil, map[string]string{"BSC_LOG_LEVEL": "loud"}, "", "env BSC_LOG_LEVEL"},
		{"missing file", []string{"--config", "/nonexistent/bsc.yaml"}, nil, "", "config file: open /nonexistent/bsc.yaml"},
		{"unknown key", nil, nil, "listen: :1\nfrequency: 1-2\n", `line 2: unknown key "frequency"; did you mean "frequencies"?`},
		{"unknown key far from any", nil, nil, "colour: blue\n", `line 1: unknown key "colour"`},
		{"config key in file", nil, nil, "config: other.yaml\n", `unknown key "config"`},
		{"repeated key", nil, nil, "db: a\ndb: b\n", "db"},
		{"bad file value", nil, nil, "max-inflight: lots\n", `line 1: max-inflight: "lots" is not a positive integer`},
		{"list of a single value", nil, nil, "listen: [a, b]\n", "line 1: listen: want a single value"},
		{"mapping for a list", nil, nil, "frequencies: {a: 1}\n", "line 1: frequencies: want a value or a list of values"},
		{"bad list item", nil, nil, "frequencies:\n  - 1\n  - 2-x\n", `line 3: frequencies item 2: invalid frequency pool: "2-x" is not a range`},
		{"nested list item", nil, nil, "frequencies: [1, [2]]\n", "line 1: frequencies item 2: want a single value"},
		{"list item with a comma", nil, nil, "frequencies: [1, \"2,3\"]\n", `frequencies item 2: "2,3" has a comma`},
		{"empty list", nil, nil, "frequencies: []\n", "line 1: frequencies: empty list"},
		{"items together bad", nil, nil, "frequencies: [1-3, 3]\n", "line 1: frequencies: invalid frequency pool: 3 appears twice"},
		{"not a mapping", nil, nil, "- listen\n", "want a mapping"},
		{"two documents", nil, nil, "db: a\n---\ndb: b\n", "more than one YAML document"},
		{"bad yaml", nil, nil, "db: [\n", "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			_, err := Load(args, envOf(tt.env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line containing %q", msg, tt.want)
			}
		})
	}
}

// Every bad key and value of the file and of the environment is reported,
// each on a line of its own naming where it is, in the file's order.
func TestAllErrors(t *testing.T) {
	file := writeFile(t, "listen: nowhere\nfrequency: 1-2\nmax-phones: many\nlog-level: loud\nlog-level: warn\n"+
		"frequencies: [1, x, 3-1]\ndb: ok.db\n")
	env := map[string]string{"BSC_MAX_INFLIGHT": "0", "BSC_FAULT_INJECTION": "maybe"}
	_, err := Load([]string{"--config", file}, envOf(env))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	want := []string{
		`line 1: listen: "nowhere" is not a host:port address`,
		`line 2: unknown key "frequency"; did you mean "frequencies"?`,
		`line 3: max-phones: "many" is not a positive integer`,
		`line 4: log-level: unknown log level "loud"`,
		`line 5: log-level given twice`,
		`line 6: frequencies item 2: invalid frequency pool: "x" is not a frequency or range`,
		`line 6: frequencies item 3: invalid frequency pool: "3-1" is not a range`,
		`env BSC_FAULT_INJECTION: "maybe" is not true or false`,
		`env BSC_MAX_INFLIGHT: "0" is not a positive integer`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d %q, want it to contain %q", i+1, lines[i], w)
		}
		if i < 7 && !strings.HasPrefix(lines[i], "config file "+file+": ") {
			t.Errorf("line %d %q does not name the file", i+1, lines[i])
		}
	}
}

// A list value (frequencies) is a YAML sequence in the file, or a string
// as on the command line; both give the same pool.
func TestYAMLLists(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"flow sequence", `frequencies: [10, 11, "20-25"]`, "10,11,20-25"},
		{"block sequence", "frequencies:\n  - 10-15\n  - 20\n", "10-15,20"},
		{"one item", "frequencies: [7]", "7"},
		{"unquoted range item", "frequencies: [1-3, 5]", "1-3,5"},
		{"string as before", "frequencies: 10-15,20", "10-15,20"},
		{"number as before", "frequencies: 7", "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadFile(writeFile(t, tt.yaml+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Frequencies != tt.want {
				t.Errorf("frequencies %q, want %q", cfg.Frequencies, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	if _, err := Load([]string{"-h"}, envOf(nil)); !errors.Is(err, pflag.ErrHelp) {
		t.Errorf("Load(-h) = %v, want pflag.ErrHelp", err)
	}
	usage := Flags().FlagUsages()
	for _, name := range []string{"--listen", "--db", "--frequencies", "--auto-provision", "--api-token",
		"--fault-injection", "--log-level", "--config", "--shutdown-timeout", "--max-inflight", "--max-connections", "--pprof-listen", "--max-phones"} {
		if !strings.Contains(usage, name+" ") {
			t.Errorf("help lacks %s:\n%s", name, usage)
		}
	}
	if !strings.Contains(usage, "log level: "+strings.Join(LogLevels, ", ")) {
		t.Errorf("help of --log-level does not list %v:\n%s", LogLevels, usage)
	}
}

// LogLevels is the one list of level names: each is accepted, in any case,
// and nothing else is; the error lists them.
func TestLogLevels(t *testing.T) {
	if want := []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled"}; !slices.Equal(LogLevels, want) {
		t.Errorf("LogLevels = %q, want zerolog's %q", LogLevels, want)
	}
	for _, name := range LogLevels {
		for _, s := range []string{name, strings.ToUpper(name)} {
			var v levelValue
			if err := v.Set(s); err != nil || zerolog.Level(v).String() != name {
				t.Errorf("Set(%q) = %v, level %v", s, err, zerolog.Level(v))
			}
		}
	}
	for _, s := range []string{"", "1", "-1", "warning", "off"} {
		var v levelValue
		if err := v.Set(s); err == nil || !strings.Contains(err.Error(), strings.Join(LogLevels, ", ")) {
			t.Errorf("Set(%q) = %v, want an error listing the levels", s, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name, content string
		want          func(*Config)
	}{
		{"empty", "", func(*Config) {}},
		{"comments only", "# nothing here\n", func(*Config) {}},
		{"values", "fault-injection: true\nshutdown-timeout: 2s\nfrequencies: 7\napi-token: t\n", func(c *Config) {
			c.FaultInjection, c.ShutdownTimeout, c.Frequencies, c.APIToken = true, 2*time.Second, "7", "t"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			want := Default()
			tt.want(&want)
			want.Config = path
			got, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("fault-injection"); got != "BSC_FAULT_INJECTION" {
		t.Errorf("EnvName = %q", got)
	}
}

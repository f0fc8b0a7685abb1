// Package config is the configuration of `bsc serve` (operations.md): flags,
// each also settable as an environment variable BSC_<FLAG> and as a key of
// an optional YAML file, with flag beating env beating file beating default.
//
// Every source goes through the same pflag.Value parsers, so a value is
// validated the same way wherever it comes from and a bad one is reported
// with its source: the flag, the variable, or the file and line.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// Config is what `bsc serve` runs with.
type Config struct {
	Listen         string        // --listen: HTTP listen address host:port
	DB             string        // --db: SQLite database file
	Frequencies    string        // --frequencies: pool as frequency.ParsePool reads it
	AutoProvision  bool          // --auto-provision: attach provisions unknown subscribers
	APIToken       string        // --api-token: bearer token for mutating requests; "" = none
	FaultInjection bool          // --fault-injection: enables POST .../processes/{name}:crash
	LogLevel       zerolog.Level // --log-level
	Config         string        // --config: YAML file the values were read from, if any

	ShutdownTimeout time.Duration // --shutdown-timeout: bound of a graceful stop
	MaxInflight     int           // --max-inflight: HTTP requests worked on at once; 0 = the HTTP layer's default
	MaxConnections  int           // --max-connections: HTTP connections open at once; more are answered 503
	PprofListen     string        // --pprof-listen: address of the net/http/pprof endpoints; "" = off
	MaxPhones       int           // --max-phones: attached phones at most; more attaches get 503 overloaded

	// Cluster mode (docs/cluster.md); none of them set: single mode.
	Node           string        // --node: this node's unique name
	ClusterListen  string        // --cluster-listen: the embedded NATS server's route address
	ClusterName    string        // --cluster-name: the embedded NATS cluster's name, the same on every node
	ClusterPeers   string        // --cluster-peers: the other nodes' route addresses
	NATSURL        string        // --nats-url: an external NATS cluster instead of the embedded one
	Cells          int           // --cells: cells of the cluster, the same on every node
	HandoffTimeout time.Duration // --handoff-timeout: how long a handed-off cell's calls may take to end
}

// Default is the configuration with no flag, variable or file: it works out
// of the box on a developer's machine.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DB:              "./bsc.db",
		Frequencies:     "10-15",
		AutoProvision:   true,
		LogLevel:        zerolog.InfoLevel,
		ShutdownTimeout: 10 * time.Second,
		MaxInflight:     0, // the HTTP layer's default: 16 per CPU
		MaxConnections:  2048,
		MaxPhones:       2_000_000,
		Node:            DefaultNode(),
		Cells:           DefaultCells,
		HandoffTimeout:  10 * time.Second,
		ClusterName:     DefaultClusterName,
	}
}

// flagSet binds the flags to c's fields, in the order help lists them.
func flagSet(c *Config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Var((*addrValue)(&c.Listen), "listen", "HTTP listen address")
	fs.Var((*nonEmptyValue)(&c.DB), "db", "SQLite database `file`")
	fs.Var((*poolValue)(&c.Frequencies), "frequencies", "frequency pool, values and ranges such as 10-15,20 (in the file also a YAML list)")
	fs.VarPF((*boolValue)(&c.AutoProvision), "auto-provision", "", "provision unknown subscribers on attach (off: --auto-provision=false)").NoOptDefVal = "true"
	fs.StringVar(&c.APIToken, "api-token", c.APIToken, "bearer token required by mutating requests (none: no auth)")
	fs.VarPF((*boolValue)(&c.FaultInjection), "fault-injection", "", "allow POST /api/v1/processes/{name}:crash").NoOptDefVal = "true"
	fs.Var((*levelValue)(&c.LogLevel), "log-level", "log level: "+strings.Join(LogLevels, ", "))
	fs.StringVar(&c.Config, "config", c.Config, "YAML `file` with these settings, keys named as the flags")
	fs.Var((*positiveDuration)(&c.ShutdownTimeout), "shutdown-timeout", "bound of a graceful stop")
	fs.Var((*positiveInt)(&c.MaxInflight), "max-inflight", "HTTP requests worked on at once (default 16 per CPU); one that waits over 20 ms for its turn gets 503 overloaded, unless it releases resources")
	fs.Var((*positiveInt)(&c.MaxConnections), "max-connections", "HTTP connections open at once (60-120 KB each when busy); more are answered 503 overloaded and closed")
	fs.Var((*optionalAddr)(&c.PprofListen), "pprof-listen", "serve /debug/pprof on this address for profiling (default: off)")
	fs.Var((*positiveInt)(&c.MaxPhones), "max-phones", "attached phones at most (about 500 bytes each); more attaches get 503 overloaded")
	fs.Var((*nodeValue)(&c.Node), "node", "this node's name in a cluster, unique (default: the host name)")
	fs.Var((*optionalAddr)(&c.ClusterListen), "cluster-listen", "cluster mode with NATS embedded: its route address (default: off, single mode)")
	fs.Var((*nodeValue)(&c.ClusterName), "cluster-name", "the embedded NATS cluster's name, the same on every node: routes from a server of another cluster are refused")
	fs.Var((*addrList)(&c.ClusterPeers), "cluster-peers", "the other nodes' --cluster-listen addresses, such as 10.0.0.2:6222,10.0.0.3:6222")
	fs.Var((*urlList)(&c.NATSURL), "nats-url", "cluster mode with an external NATS cluster (JetStream on, server 2.11 or later), such as nats://h1:4222,nats://h2:4222")
	fs.Var((*cellsValue)(&c.Cells), "cells", "cells of the cluster (1 in single mode); every node must have the same")
	fs.Var((*positiveDuration)(&c.HandoffTimeout), "handoff-timeout", "how long a cell handed to another node waits for its calls to end")
	return fs
}

// Flags are the flags of `bsc serve` at their defaults, for a command line
// parser to show in help, complete and check; Load reads them again.
func Flags() *pflag.FlagSet {
	c := Default()
	return flagSet(&c)
}

// EnvName is the environment variable of a flag: BSC_ and the name in upper
// case with dashes as underscores (fault-injection: BSC_FAULT_INJECTION).
func EnvName(flagName string) string {
	return "BSC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load reads the configuration from the flags in args, the environment read
// through getenv, and the YAML file named by --config or BSC_CONFIG. An
// empty variable counts as unset. A bad flag is an error of one line; bad
// values in the file and the environment are each reported, one line each,
// naming the source (errors.Join). The error is pflag.ErrHelp for -h and
// --help.
func Load(args []string, getenv func(string) string) (Config, error) {
	// Flags are parsed first because they may name the file; they are then
	// applied again last, over the file and the environment.
	fs := Flags()
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	path := fs.Lookup("config").Value.String()
	if path == "" {
		path = getenv(EnvName("config"))
	}
	cfg := Default()
	var errs []error
	if path != "" {
		errs = applyFile(&cfg, path)
	}
	into := flagSet(&cfg)
	into.VisitAll(func(f *pflag.Flag) {
		name := EnvName(f.Name)
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("env %s: %w", name, err))
			}
		}
	})
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	fs.Visit(func(f *pflag.Flag) {
		// Cannot fail: the same parser accepted this value above.
		_ = into.Set(f.Name, f.Value.String())
	})
	cfg.Config = path
	if err := cfg.checkCluster(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/backoff"
)

// EngineConfig says which NATS a node uses.
type EngineConfig struct {
	Node string
	// Embedded: the NATS server in the process, its route address and the
	// other nodes' (cluster mode "embedded"), JetStream in StoreDir.
	ClusterListen string
	ClusterName   string // the NATS cluster's name; "" is "bsc"
	Peers         []string
	StoreDir      string
	// External: the URLs of an existing NATS cluster.
	URLs []string
	Log  zerolog.Logger
}

// Engine is a node's NATS: the connection, JetStream, and in embedded
// mode the server itself.
type Engine struct {
	Node     string
	Replicas int // of every stream and bucket: 3, or the cluster's size when smaller
	NC       *nats.Conn
	JS       jetstream.JetStream
	srv      *server.Server // nil in external mode
	log      zerolog.Logger
}

// expected is how many nodes the configuration names: this one and its
// peers (a peer list may name this node's own route address too, so that
// every node can be given the same list).
func (c EngineConfig) expected() int {
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if p != c.ClusterListen {
			seen[p] = true
		}
	}
	return 1 + len(seen)
}

// checkServerVersion refuses an external NATS server older than 2.11: the
// leases expire by per-message TTLs, which 2.11 brought.
func checkServerVersion(v string) error {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return fmt.Errorf("NATS server version %q not understood: bsc needs 2.11 or later", v)
	}
	if major < 2 || major == 2 && minor < 11 {
		return fmt.Errorf("NATS server %s: bsc needs 2.11 or later (leases expire by per-message TTLs)", v)
	}
	return nil
}

// routePing is the ping interval of the routes between embedded servers.
const routePing = time.Second

// StartEngine starts the embedded server (if configured) and connects.
// JetStream may not answer yet: Ready waits for it.
func StartEngine(cfg EngineConfig) (*Engine, error) {
	e := &Engine{Node: cfg.Node, log: cfg.Log.With().Str("component", "nats").Logger()}
	if len(cfg.URLs) > 0 {
		nc, err := nats.Connect(strings.Join(cfg.URLs, ","), e.connOpts()...)
		if err != nil {
			return nil, fmt.Errorf("connect to NATS %s: %w", strings.Join(cfg.URLs, ","), err)
		}
		if err := checkServerVersion(nc.ConnectedServerVersion()); err != nil {
			nc.Close()
			return nil, err
		}
		e.NC = nc
		e.Replicas = min(3, max(1, len(nc.Servers())))
	} else {
		srv, err := embedded(cfg, e.log)
		if err != nil {
			return nil, err
		}
		e.srv = srv
		nc, err := nats.Connect("", append(e.connOpts(), nats.InProcessServer(srv))...)
		if err != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("connect to the embedded NATS server: %w", err)
		}
		e.NC = nc
		e.Replicas = min(3, 1+len(cfg.Peers))
	}
	js, err := jetstream.New(e.NC, jetstream.WithPublishAsyncMaxPending(2*journalWindow),
		jetstream.WithPublishAsyncTimeout(journalAckWait))
	if err != nil {
		e.Close()
		return nil, err
	}
	e.JS = js
	return e, nil
}

func (e *Engine) connOpts() []nats.Option {
	return []nats.Option{
		nats.Name("bsc " + e.Node),
		nats.MaxReconnects(-1), // a node keeps trying; readiness says it cannot
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			e.log.Warn().Err(err).Msg("disconnected from NATS; reconnecting")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { e.log.Info().Str("url", nc.ConnectedUrl()).Msg("reconnected to NATS") }),
	}
}

// embedded starts this node's NATS server: a client port on loopback
// (bsc connects in process; the port is for operators' tools), routes to
// the peers, JetStream with every write synced before it is acknowledged.
func embedded(cfg EngineConfig, log zerolog.Logger) (*server.Server, error) {
	host, port, err := splitHostPort(cfg.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("--cluster-listen: %w", err)
	}
	var routes []*url.URL
	for _, p := range cfg.Peers {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: p})
	}
	opts := &server.Options{
		ServerName: cfg.Node,
		Host:       "127.0.0.1", Port: server.RANDOM_PORT,
		// A route to a peer cut off without a FIN is dropped after a few
		// missed pings, not the default minutes: requests then stop going
		// to a server that cannot answer.
		Cluster: server.ClusterOpts{Name: cmp.Or(cfg.ClusterName, "bsc"), Host: host, Port: port,
			PingInterval: routePing, MaxPingsOut: 3},
		Routes:    routes,
		JetStream: true, StoreDir: cfg.StoreDir,
		// The default fsync every two minutes loses acknowledged writes
		// when machines fail: bsc acknowledges only what is synced.
		SyncAlways: true,
		NoSigs:     true,
		MaxPayload: MaxMessage,
		// Close is a lame-duck shutdown: the Raft groups this server leads
		// (the leases, the streams, JetStream's meta group) are handed to
		// the others first, so that a node stopped gracefully leaves no
		// group without a leader until an election (seconds, longer than
		// a lease). bsc's own connection is in process and closed first:
		// no client waits out the grace period.
		LameDuckDuration: 2 * time.Second, LameDuckGracePeriod: 100 * time.Millisecond,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	srv.SetLoggerV2(natsLogger{log}, false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded NATS server: not ready for connections after 10 s")
	}
	return srv, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	return host, port, nil
}

// Ready waits until JetStream answers (its cluster has formed and elected
// its leader), retrying and saying why while it does not.
func (e *Engine) Ready(ctx context.Context) error {
	var last time.Time
	return untilDone.Retry(ctx, func(int) (bool, time.Duration) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := e.JS.AccountInfo(actx)
		cancel()
		if err == nil {
			return false, 0
		}
		if time.Since(last) > 5*time.Second {
			ev := e.log.Warn().Err(err)
			if e.srv != nil {
				ev = ev.Int("routes", e.srv.NumRoutes())
			}
			ev.Msg("waiting for JetStream: are the other nodes up and reachable?")
			last = time.Now()
		}
		return true, 0
	})
}

// untilDone is how a node tries again what it cannot go on without (its
// engine, buckets and streams, its mirrors): until its context ends.
var untilDone = backoff.Policy{Base: 100 * time.Millisecond, Cap: time.Second}

// Close closes the connection and stops the embedded server, its Raft
// leaderships handed to the other servers first.
func (e *Engine) Close() {
	if e.NC != nil {
		e.NC.Close()
	}
	if e.srv != nil {
		e.srv.LameDuckShutdown()
		e.srv.WaitForShutdown()
	}
}

// natsLogger routes the embedded server's log to zerolog, one level down
// for its notices (it is chatty at start).
type natsLogger struct{ log zerolog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }

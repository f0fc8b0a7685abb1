// Package app assembles the service: the store, the metrics registry, the
// supervision trees and the HTTP API, and runs them for `bsc serve`.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/coffee"
	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/phonefsm"
	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/version"
)

// App is one running service. New prepares it, Start starts the trees,
// Handler serves the API, Shutdown stops everything.
type App struct {
	cfg   config.Config
	log   zerolog.Logger
	reg   *prometheus.Registry
	store *store.Store

	supMetrics      *sup.Metrics
	freqMetrics     *frequency.Metrics
	overloadMetrics *overload.Metrics
	reporter        *sup.LogReporter

	// cells are the cells this node runs: one in single mode, cell 0,
	// whose tree is bsc.
	cellsMu sync.RWMutex
	cells   map[int]*cell

	// What outlives the phones supervisor's restarts.
	subs         *hlr.Subscribers
	hub          *hw.Hub
	writer       *calls.Writer
	phoneMetrics *phonefsm.Metrics
	overloaded   *overloadAlarm
	storms       storms
	storage      *storageAlarm
	health       *store.Health
	lostLog      zerolog.Logger        // sampled: losses come in floods
	pool         atomic.Pointer[[]int] // the configured pool, for restarts and reloads
	poolMu       sync.Mutex            // one pool change at a time, stored and applied, and none while an allocator starts

	// cluster is cluster mode's part (docs/cluster.md); nil on a single
	// node.
	cluster       *clusterNode
	clusterAlarms clusterAlarms

	bsc           *sup.Supervisor
	coffee        *sup.Supervisor
	machines      *coffee.Machines
	coffeeMetrics *coffee.Metrics
	ready         atomic.Bool   // the trees are up
	draining      atomic.Bool   // a graceful stop began
	failed        chan struct{} // closed when a top supervisor gave up
	failErr       error
	failMu        sync.Once

	// phoneProcess finds the controller of an attached phone for
	// introspection (GET /api/v1/processes/phone:MSISDN). HOOK for the
	// phones layer to set; while nil, every phone:MSISDN is not_found.
	phoneProcess func(msisdn string) (Process, error)

	// OverloadLog is where the overload logger handler writes ("stdout" or
	// a file); tests point it at a temporary file.
	OverloadLog string
}

// New opens the store and builds the metrics; nothing runs yet.
func New(ctx context.Context, cfg config.Config, log zerolog.Logger) (*App, error) {
	pool, err := frequency.ParsePool(cfg.Frequencies)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.DB, err)
	}
	reg := httpapi.NewRegistry()
	a := &App{
		cfg: cfg, log: log, reg: reg, store: st,
		supMetrics:      sup.NewMetrics(reg),
		freqMetrics:     frequency.NewMetrics(reg),
		overloadMetrics: overload.NewMetrics(reg),
		coffeeMetrics:   coffee.NewMetrics(reg),
		phoneMetrics:    phonefsm.NewMetrics(reg),
		cells:           map[int]*cell{},
		failed:          make(chan struct{}),
		OverloadLog:     "stdout",
	}
	a.pool.Store(&pool)
	a.overloaded = &overloadAlarm{notify: a.notifyAll, quiet: overloadedQuiet}
	a.storage = &storageAlarm{notify: a.notifyAll}
	a.health = store.NewHealth(st, a.storage.change, log)
	a.lostLog = log.Sample(&zerolog.BurstSampler{Burst: 1, Period: time.Second})
	a.phoneProcess = a.phoneProcessByMSISDN
	if a.subs, err = hlr.NewSubscribers(ctx, st, log, a.health); err != nil {
		a.health.Close()
		_ = st.Close()
		return nil, err
	}
	hubCfg := hw.HubConfig{RingSize: deviceRing}
	if cfg.Mode() != config.Single {
		hubCfg.Node = cfg.Node // a cluster's replies say which node runs the phone
	}
	a.hub = hw.NewHub(hubCfg)
	a.writer = calls.NewWriter(st, calls.WriterConfig{Metrics: calls.NewMetrics(reg), Log: log,
		OnHealth: func(err error) { a.health.Report("calls", err) }})
	a.reporter = &sup.LogReporter{Log: log, Metrics: a.supMetrics, OnStorm: a.restartStorm}
	a.supMetrics.Init("bsc", "overload", "frequency", "phones")
	a.supMetrics.Init("phones", "phone")
	a.supMetrics.Init("coffee", "machine")
	if cfg.Mode() != config.Single {
		a.cluster = newClusterNode(a, version.Version)
		a.subs.UseLog(subscriberLog{a.cluster})
	}
	return a, nil
}

// Start starts the supervision tree; when it returns nil the service is
// ready, or in cluster mode joining the cluster (readiness says when it has).
func (a *App) Start(ctx context.Context) error {
	spec := clusterSpec(a.reporter)
	if a.cluster == nil {
		c := newCell(a, 0, 0, rootName)
		a.addCell(c)
		spec = c.spec()
	}
	bsc, err := sup.Start(ctx, spec, a.topExit(rootName))
	if err != nil {
		return err
	}
	a.bsc = bsc
	if err := a.startCoffee(ctx); err != nil {
		a.stopTree(context.Background(), bsc)
		return err
	}
	a.ready.Store(true)
	if a.cluster != nil {
		a.cluster.start()
	}
	a.log.Info().Str("frequencies", a.cfg.Frequencies).Str("mode", string(a.cfg.Mode())).Msg("bsc started")
	return nil
}

// clusterSpec is a cluster node's bsc tree: one_for_one over a cell:N
// subtree per cell it owns, added and deleted as leases come and go. A
// cell that gives up is restarted alone; a node whose cells keep giving up
// stops, and the others take its cells.
func clusterSpec(r sup.Reporter) sup.Spec {
	return sup.Spec{Name: rootName, Strategy: sup.OneForOne, MaxRestarts: 5, MaxSeconds: 3600, Reporter: r}
}

// dropCell stops routing to a cell this node no longer acts for at epoch.
func (a *App) dropCell(id int, epoch uint64) {
	a.cellsMu.Lock()
	if c := a.cells[id]; c != nil && c.epoch == epoch {
		delete(a.cells, id)
	}
	a.cellsMu.Unlock()
}

// deviceRing is how many replies a phone's device keeps for readers: a
// full ring costs about 1 KB, so a million busy phones stay in budget.
const deviceRing = 32

// addCell makes c one of the cells this node runs.
func (a *App) addCell(c *cell) {
	a.cellsMu.Lock()
	a.cells[c.id] = c
	a.cellsMu.Unlock()
}

// cell is the cell id this node runs, or an unavailable error.
func (a *App) cell(id int) (*cell, error) {
	a.cellsMu.RLock()
	defer a.cellsMu.RUnlock()
	if c := a.cells[id]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("%w: cell %d is not run here", errRestarting, id)
}

// eachCell calls fn for every cell this node runs, in no order.
func (a *App) eachCell(fn func(*cell)) {
	a.cellsMu.RLock()
	cs := make([]*cell, 0, len(a.cells))
	for _, c := range a.cells {
		cs = append(cs, c)
	}
	a.cellsMu.RUnlock()
	for _, c := range cs {
		fn(c)
	}
}

// notifyAll hands a node's event (the alarms the App keeps itself) to
// every cell's overload manager.
func (a *App) notifyAll(e overload.Event) {
	a.eachCell(func(c *cell) { c.notify(e) })
}

func (a *App) restartStorm(supervisor string, active bool) {
	a.storms.report(supervisor, active, a.notifyAll)
}

// topExit is the exit function of a top supervisor: giving up fails the app.
func (a *App) topExit(name string) sup.ExitFunc {
	return func(reason error) {
		if sup.IsNormal(reason) {
			return
		}
		a.failWith(fmt.Errorf("supervisor %s gave up: %w", name, reason))
	}
}

// failWith fails the app: Run stops it and returns err.
func (a *App) failWith(err error) {
	a.ready.Store(false)
	a.failMu.Do(func() {
		a.failErr = err
		close(a.failed)
	})
}

// Failed is closed when a top supervisor gave up; Err says why.
func (a *App) Failed() <-chan struct{} { return a.failed }

// Err is why the app failed, once Failed is closed.
func (a *App) Err() error {
	select {
	case <-a.failed:
		return a.failErr
	default:
		return nil
	}
}

// Registry is the app's metrics registry.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Handler is the HTTP API. The routes find the current incarnation of a
// process through a lookup of the names; a failed lookup's nil pointer,
// which goes with an error, is never used.
func (a *App) Handler() *httpapi.API {
	return httpapi.New(httpapi.Deps{
		Log: a.log, Registry: a.reg, Token: a.cfg.APIToken, MaxInflight: a.cfg.MaxInflight,
		OnShed: a.shed, Ready: a.readiness, Draining: a.draining.Load, Tree: a.tree,
		Coffee: func() httpapi.CoffeeMachines {
			if m := a.Machines(); m != nil {
				return m
			}
			return nil // not started yet
		},

		Allocator: func(cell int) (httpapi.Allocator, error) {
			c, err := a.cell(cell)
			if err != nil {
				return nil, err
			}
			return c.allocator()
		},
		Overload: func(cell int) (httpapi.OverloadManager, error) {
			c, err := a.cell(cell)
			if err != nil {
				return nil, err
			}
			return c.overloadManager()
		},
		SetPool: a.SetCellPool, Cluster: a.httpCluster(), ClusterStatus: a.clusterStatus,
		DrainNode: a.drainNode(),
		Process:   a.Process, FaultInjection: a.cfg.FaultInjection, LogDir: filepath.Dir(a.cfg.DB),

		Subscribers: a.subs, Phones: a, PhoneSet: func() (httpapi.PhoneSet, error) { return phoneSets{a}, nil },
		Hub: a.hub, Calls: a.callStore(),
	})
}

// callStore reads the call records: on a cluster node, once its table has
// caught up with the cluster's.
func (a *App) callStore() callStore {
	s := callStore{st: a.store}
	if a.cluster != nil {
		s.catchUp = a.cluster.catchUp
	}
	return s
}

// readiness is nil when the service is ready: the trees are up, no
// graceful stop began, and the database can be written.
func (a *App) readiness() error {
	switch {
	case a.draining.Load():
		return errors.New("stopping")
	case !a.ready.Load():
		return errors.New("starting, or the supervision tree gave up")
	}
	if a.cluster != nil {
		if err := a.cluster.ready(); err != nil {
			return err
		}
	}
	return a.storage.err()
}

func (a *App) tree() sup.Node {
	if a.bsc == nil {
		return sup.Node{Name: "bsc", Kind: "supervisor", State: "starting"}
	}
	return a.bsc.Tree()
}

// shed is told of each request shed by load regulation.
func (a *App) shed() { a.overloaded.shed("load regulation") }

// flushFloor is the least time the call records get to reach the
// database at shutdown, even when stopping the trees used up the budget:
// nothing is lost on SIGTERM.
const flushFloor = 2 * time.Second

// Shutdown stops the trees and closes the stores (stopTrees, then
// closeStores).
func (a *App) Shutdown(ctx context.Context) error {
	return errors.Join(a.stopTrees(ctx), a.closeStores(ctx))
}

// stopTrees stops the trees in reverse order (calls in progress end
// dropped, their records queued) and waits for the phones' last cascades.
// Every step runs even when an earlier one failed or ran out of time.
func (a *App) stopTrees(ctx context.Context) error {
	a.draining.Store(true)
	a.overloaded.stop()
	var errs []error
	if a.cluster != nil {
		a.cluster.stop(ctx)
	}
	for _, s := range []*sup.Supervisor{a.coffee, a.bsc} {
		if s != nil {
			errs = append(errs, a.stopTree(ctx, s))
		}
	}
	a.eachCell(func(c *cell) {
		if p := c.names.phoneSet.whereis(); p != nil {
			errs = append(errs, p.Wait(ctx))
		}
	})
	return errors.Join(errs...)
}

// closeStores flushes the call records (with at least flushFloor, whatever
// is left of ctx) and closes the subscribers and the database.
func (a *App) closeStores(ctx context.Context) error {
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushFloor)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > flushFloor {
		cancel()
		flushCtx, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
	}
	defer cancel()
	var errs []error
	if err := a.writer.Close(flushCtx); err != nil {
		errs = append(errs, fmt.Errorf("flush call records: %w", err))
	}
	errs = append(errs, a.subs.Close())
	a.health.Close()
	errs = append(errs, a.store.Close())
	return errors.Join(errs...)
}

func (a *App) stopTree(ctx context.Context, s *sup.Supervisor) error {
	s.Stop()
	select {
	case <-s.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("supervision tree %s did not stop in time: %w", s.Name(), ctx.Err())
	}
}

// stop is the graceful stop of operations.md, within ctx. The listener
// stays open until the service has drained, so health checkers see
// /readyz answer 503: draining (new mutating requests and streams refused
// with 503), the requests in flight answered (a quarter of the budget at
// most, so that a slow client cannot take the time the tree and the
// records need), the trees stopped (calls in progress end dropped), then
// the HTTP server shut down (streams and long polls end) and the call
// records flushed before the database closes.
func (a *App) stop(ctx context.Context, srv *http.Server, api *httpapi.API) error {
	if a.cluster != nil {
		// First the cells go to the other nodes, while this one still
		// serves the actions that end their calls, then the stream leaders.
		dctx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownTimeout/2)
		if err := a.cluster.drain(dctx); err != nil {
			a.log.Warn().Err(err).Msg("drain not done in its time (cells or stream leaders still here); stopping anyway")
		}
		cancel()
	}
	a.draining.Store(true)
	drainCtx, cancelDrain := context.WithTimeout(ctx, a.cfg.ShutdownTimeout/4)
	defer cancelDrain()
	if err := api.Drain(drainCtx); err != nil {
		a.log.Warn().Err(err).Msg("requests still in flight after the drain time; stopping anyway")
	}
	errs := []error{a.stopTrees(ctx)}
	shutCtx, cancelShut := context.WithTimeout(ctx, a.cfg.ShutdownTimeout/4)
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Warn().Err(err).Msg("http server did not drain in time; closing its connections")
		_ = srv.Close()
	}
	return errors.Join(append(errs, a.closeStores(ctx))...)
}

// Run is `bsc serve`: it serves until ctx is cancelled (graceful stop,
// nil) or the tree gives up (an error). reload, if not nil, re-reads the
// configuration on SIGHUP.
func Run(ctx context.Context, cfg config.Config, log zerolog.Logger, reload Reloader) error {
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	tcp, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return errors.Join(err, a.closeStores(ctx))
	}
	ln := httpapi.LimitConnections(tcp, httpapi.Limits{MaxConnections: cfg.MaxConnections, MaxActive: cfg.MaxInflight},
		a.shed, a.reg)
	if err := a.Start(ctx); err != nil {
		_ = ln.Close()
		return errors.Join(err, a.closeStores(ctx))
	}
	api := a.Handler()
	if a.cluster != nil {
		a.cluster.serve(api)
	}
	srv := &http.Server{
		Handler: api, ConnContext: httpapi.ConnContext,
		// Bounds on what a client can hold: request reading, idle
		// keep-alives, header size. Streams and long polls bound their own
		// writes, so there is no WriteTimeout.
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stopReload := a.watchReload(reload)
	defer stopReload()
	if cfg.PprofListen != "" {
		_, stopPprof, err := a.startPprof(cfg.PprofListen)
		if err != nil {
			log.Error().Err(err).Msg("pprof not served")
		} else {
			defer stopPprof()
		}
	}
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w)
	}
	log.Info().Str("listen", ln.Addr().String()).Msg("serving")

	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("stopping")
	case <-a.Failed():
		runErr = a.Err()
		log.Error().Err(runErr).Msg("stopping: the supervision tree gave up")
	case err := <-served:
		runErr = fmt.Errorf("http server: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := a.stop(stopCtx, srv, api); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		log.Info().Msg("stopped")
	}
	return runErr
}

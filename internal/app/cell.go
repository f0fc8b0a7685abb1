package app

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/phonefsm"
	"github.com/bsc-sim/bsc/internal/sup"
)

// cell is one instance of the book's bsc tree: overload, frequency and
// phones under rest_for_one, each with its current incarnation. A single
// node has one, cell 0, whose tree is the service's "bsc" tree; a cluster
// node runs one for each cell it owns, as a "cell:N" subtree of its own
// "bsc" tree (docs/cluster.md).
type cell struct {
	a     *App
	id    int
	epoch uint64 // cluster mode: the epoch of this node's lease on the cell
	name  string // the cell's supervisor: "bsc", or "cell:N"
	names *names
	// handingOff: cluster mode, the cell is being given to another node;
	// it admits no new call or phone.
	handingOff atomic.Bool
	metrics    cellMetrics
	pool       atomic.Pointer[[]int] // set for this cell (PUT ?cell=N); nil: the node's
}

// cellMetrics are a cell's series (cell="N"), made when the cell starts on
// the node and shared by the incarnations of its processes.
type cellMetrics struct {
	freq     *frequency.CellMetrics
	overload *overload.CellMetrics
	phones   *phonefsm.CellMetrics
}

// newCell makes a cell of a's, and its series.
func newCell(a *App, id int, epoch uint64, name string) *cell {
	return &cell{a: a, id: id, epoch: epoch, name: name, names: newNames(), metrics: cellMetrics{
		freq: a.freqMetrics.Cell(id), overload: a.overloadMetrics.Cell(id), phones: a.phoneMetrics.Cell(id),
	}}
}

// deleteMetrics removes the cell's series once it no longer runs here
// (handed off, taken elsewhere, or the node stopping): its gauges would
// otherwise stay, and a sum over the nodes count the cell twice. A later
// owner here starts them again from zero.
func (c *cell) deleteMetrics() {
	c.a.freqMetrics.DeleteCell(c.id)
	c.metrics.overload.Delete()
	c.a.phoneMetrics.DeleteCell(c.id)
}

// supName is the name of one of the cell's supervisors in reports and
// metrics: the cell's own, or a child such as its phones supervisor.
func (c *cell) supName(child string) string {
	if c.name == rootName {
		return child
	}
	return c.name + "/" + child
}

// rootName is the name of a node's top supervisor, and of the single
// node's one cell.
const rootName = "bsc"

// spec is the book's bsc_sup: rest_for_one, 2 restarts in an hour.
func (c *cell) spec() sup.Spec {
	return sup.Spec{
		Name: c.name, Strategy: sup.RestForOne, MaxRestarts: 2, MaxSeconds: 3600, Reporter: c.a.reporter,
		Children: []sup.ChildSpec{
			{Name: "overload", Kind: sup.Worker, Restart: sup.Permanent, Start: c.startOverload},
			{Name: "frequency", Kind: sup.Worker, Restart: sup.Permanent, Start: c.startFrequency},
			{Name: "phones", Kind: sup.SupervisorKind, Restart: sup.Permanent, Shutdown: 5 * time.Second,
				Start: sup.Supervise(c.phonesSpec(), c.phonesStarted)},
		},
	}
}

// childSpec is a cluster node's cell:N child of its bsc tree.
func (c *cell) childSpec() sup.ChildSpec {
	return sup.ChildSpec{Name: c.name, Kind: sup.SupervisorKind, Restart: sup.Permanent,
		Shutdown: 10 * time.Second, Start: sup.Supervise(c.spec(), nil)}
}

func (c *cell) phonesSpec() sup.Spec {
	return sup.Spec{
		Name: c.supName("phones"), Strategy: sup.SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 3600, Reporter: c.a.reporter,
		Template: sup.ChildSpec{Name: "phone", Kind: sup.Worker, Restart: sup.Transient, Shutdown: 2 * time.Second},
	}
}

func (c *cell) startOverload(ctx context.Context, exit sup.ExitFunc) (sup.Proc, error) {
	cfg := overload.Config{Log: c.a.log, Metrics: c.metrics.overload, History: c.a.store, LogTarget: c.a.OverloadLog}
	if c.a.cluster != nil {
		// The node's cells share its database: each keeps and reads its
		// own alarm history there.
		id := c.id
		cfg.Cell, cfg.Node = &id, c.a.cluster.Node()
	}
	m := overload.New(cfg)
	p, err := m.Start(ctx, exit)
	if err == nil {
		c.a.publishOverload(c, m)
	}
	return p, err
}

// startFrequency starts the cell's allocator with its pool: its own, if
// one was set for it here, else the node's. A pool change waits until the
// allocator is registered (poolMu), so that it is read here or applied to
// the allocator started, never to the one before only.
func (c *cell) startFrequency(ctx context.Context, exit sup.ExitFunc) (sup.Proc, error) {
	c.a.poolMu.Lock()
	defer c.a.poolMu.Unlock()
	pool := c.pool.Load()
	if pool == nil {
		pool = c.a.pool.Load()
	}
	f := frequency.New(frequency.Config{Pool: *pool, Notifier: overload.NotifierFunc(c.notify),
		Metrics: c.metrics.freq, Log: c.a.log})
	p, err := f.Start(ctx, exit)
	if err == nil {
		c.names.frequency.register(f)
	}
	return p, err
}

// phonesStarted is the phones supervisor's onStart: a new incarnation.
func (c *cell) phonesStarted(s *sup.Supervisor) {
	cfg := phonefsm.Config{
		Freq: freqForPhones{c}, Records: recordsForPhones{a: c.a}, Metrics: c.metrics.phones, Log: c.a.log,
		OnDetach: c.a.phoneDetached, Cell: c.id, Epoch: c.epoch,
	}
	if c.a.cluster != nil {
		cfg.Exchange, cfg.Records = c.a.cluster.ex, clusterRecords{c}
	}
	c.names.phoneSet.register(phonefsm.New(s, cfg))
	c.names.phones.register(s)
}

// notify hands an event to the cell's current overload manager. While it
// is restarting there is none and the event is lost, as in the book.
func (c *cell) notify(e overload.Event) {
	if m := c.names.overload.whereis(); m != nil {
		m.Notify(e)
	}
}

// allocator is the cell's running frequency allocator.
func (c *cell) allocator() (*frequency.Allocator, error) { return c.names.frequency.get() }

// overloadManager is the cell's running overload manager.
func (c *cell) overloadManager() (*overload.Manager, error) { return c.names.overload.get() }

// phoneSet is the phones of the cell's current phones supervisor.
func (c *cell) phoneSet() (*phonefsm.Phones, error) { return c.names.phoneSet.get() }

func (c *cell) String() string { return fmt.Sprintf("cell %d", c.id) }

package app

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/frequency"
)

// Reloader reads the configuration again, with the same sources and
// precedence as at start (flag > env > file > default): a flag given at
// start still beats the file.
type Reloader func() (config.Config, error)

// watchReload applies, on SIGHUP, what can change at run time without
// dropping calls: the frequency pool and the log level. It returns the
// function that stops watching.
func (a *App) watchReload(load Reloader) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				a.reload(load)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

func (a *App) reload(load Reloader) {
	if load == nil {
		a.log.Warn().Msg("SIGHUP: this service was started without a way to reload its configuration")
		return
	}
	next, err := load()
	if err != nil {
		a.log.Error().Err(err).Msg("SIGHUP: config not reloaded")
		return
	}
	if err := a.SetPoolString(next.Frequencies); err != nil {
		a.log.Error().Err(err).Msg("SIGHUP: frequency pool not reloaded")
		return
	}
	zerolog.SetGlobalLevel(next.LogLevel)
	a.log.Info().Str("frequencies", next.Frequencies).Str("log_level", next.LogLevel.String()).Msg("config reloaded")
}

// SetPoolString replaces the frequency pool at run time (hot
// reconfiguration) and keeps it for the allocator's next restart.
func (a *App) SetPoolString(s string) error {
	pool, err := frequency.ParsePool(s)
	if err != nil {
		return err
	}
	return a.SetPool(pool)
}

// SetCellPool replaces the pool of one cell's running allocator (PUT
// /api/v1/frequencies/pool) and remembers it for that cell's restarts on
// this node. A cell that moves to another node starts there with that
// node's pool, and so does one that later comes back (forgetCellPool).
func (a *App) SetCellPool(id int, pool []int) error {
	if err := frequency.ValidatePool(pool); err != nil {
		return err
	}
	a.poolMu.Lock()
	defer a.poolMu.Unlock()
	// Looked up under the lock: a cell stopping meanwhile is either gone
	// here or forgets this pool after it is stored.
	c, err := a.cell(id)
	if err != nil {
		return err
	}
	a.cellPools.Store(id, pool)
	if f := c.names.frequency.whereis(); f != nil {
		_, err = f.SetPool(pool)
	}
	return err
}

// forgetCellPool drops the pool set for cell id, which has stopped on
// this node (handed off, taken elsewhere): an owner in between may have
// been given another one, so a pool kept here would be stale when the
// cell comes back.
func (a *App) forgetCellPool(id int) {
	a.poolMu.Lock()
	a.cellPools.Delete(id)
	a.poolMu.Unlock()
}

// poolOf is the pool a cell's allocator starts with: its own, if one was
// set for it, else the node's.
func (a *App) poolOf(id int) []int {
	if p, ok := a.cellPools.Load(id); ok {
		return p.([]int)
	}
	return *a.pool.Load()
}

// SetPool replaces the pool of the running allocators (every cell's, the
// pools set for one cell included) and remembers it for their restarts.
// The pool is checked first, so that a bad one changes no cell.
func (a *App) SetPool(pool []int) error {
	if err := frequency.ValidatePool(pool); err != nil {
		return err
	}
	// Remembered first: a cell restarting meanwhile starts from this one,
	// not from what it replaces. One change at a time: a pool set for one
	// cell in between would be stored for its restarts, and then replaced
	// in its running allocator by this one.
	a.poolMu.Lock()
	defer a.poolMu.Unlock()
	a.cellPools.Clear()
	a.pool.Store(&pool)
	var errs []error
	a.eachCell(func(c *cell) {
		if f := c.names.frequency.whereis(); f != nil {
			if _, err := f.SetPool(pool); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

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
// /api/v1/frequencies/pool) and keeps it for that cell's restarts on this
// node. It is the cell's while it runs here: a cell that moves to another
// node starts there with that node's pool, and so does one that later
// comes back (a new cell).
func (a *App) SetCellPool(id int, pool []int) error {
	if err := frequency.ValidatePool(pool); err != nil {
		return err
	}
	a.poolMu.Lock()
	defer a.poolMu.Unlock()
	c, err := a.cell(id)
	if err != nil {
		return err
	}
	c.pool.Store(&pool)
	return setRunningPool(c, pool)
}

// SetPool replaces the pool of the running allocators (every cell's, the
// pools set for one cell included) and remembers it for their restarts.
// The pool is checked first, so that a bad one changes no cell.
func (a *App) SetPool(pool []int) error {
	if err := frequency.ValidatePool(pool); err != nil {
		return err
	}
	// One change at a time, and none while an allocator starts
	// (startFrequency): a pool is stored, then applied to the allocator
	// running, or read by the one starting.
	a.poolMu.Lock()
	defer a.poolMu.Unlock()
	a.pool.Store(&pool)
	var errs []error
	a.eachCell(func(c *cell) {
		c.pool.Store(nil)
		if err := setRunningPool(c, pool); err != nil {
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}

// setRunningPool applies pool, stored for c already, to c's allocator. An
// allocator that has stopped (its restart has not registered the next
// yet) is not an error: the next one reads the stored pool as it starts,
// which it cannot do while the caller holds poolMu.
func setRunningPool(c *cell, pool []int) error {
	f := c.names.frequency.whereis()
	if f == nil {
		return nil
	}
	if _, err := f.SetPool(pool); err != nil && !errors.Is(err, frequency.ErrUnavailable) {
		return err
	}
	return nil
}

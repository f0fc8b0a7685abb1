package overload

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/bsc-sim/bsc/internal/store"
)

// Counters returns the counters handler's counts by event key, such as
// "set_alarm:no_frequency".
func (m *Manager) Counters(ctx context.Context) (map[string]uint64, error) {
	var out map[string]uint64
	var err error
	if cerr := m.call(ctx, "counters", func() {
		var c *counters
		if c, err = installed[*counters](m, HandlerCounters); err == nil {
			out = c.snapshot()
		}
	}); cerr != nil {
		return nil, cerr
	}
	return out, err
}

// ActiveAlarms returns the alarms handler's active alarms, oldest first.
func (m *Manager) ActiveAlarms(ctx context.Context) ([]Alarm, error) {
	var out []Alarm
	var err error
	if cerr := m.call(ctx, "active_alarms", func() {
		var a *alarms
		if a, err = installed[*alarms](m, HandlerAlarms); err == nil {
			out = a.list()
		}
	}); cerr != nil {
		return nil, cerr
	}
	return out, err
}

// History returns the page q selects of the alarm raises and clears of the
// manager's cell (q.Cell is ignored: on a cluster node, where several
// cells share the history store, a cell reads only its own records; on a
// single node every record is the one cell's). It reads the history store
// directly, so it works while the manager is restarting. It first waits
// for the raises and clears already handled to be written, so the history
// agrees with ActiveAlarms; when the database is stuck it stops waiting
// after historyTimeout and serves what is stored.
func (m *Manager) History(ctx context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error) {
	wait, cancel := context.WithTimeout(ctx, historyTimeout)
	err := m.writer.caughtUp(wait)
	cancel()
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	q.Cell = m.writer.cell
	return m.history.AlarmHistory(ctx, q)
}

// Handlers lists the installed handlers in the order events reach them.
// A logger's file target is shown by its name: clients name files in the
// service's log directory, never paths, and the path is no reader's
// business.
func (m *Manager) Handlers(ctx context.Context) ([]HandlerInfo, error) {
	var out []HandlerInfo
	if err := m.call(ctx, "handlers", func() {
		out = make([]HandlerInfo, 0, len(m.handlers))
		for _, h := range m.handlers {
			info := HandlerInfo{Name: h.Name()}
			if t, ok := h.(targeted); ok {
				info.Target = shownTarget(t.Target())
			}
			out = append(out, info)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// AddHandler installs the built-in handler name (counters, logger, alarms)
// after the installed ones; target is the logger's ("stdout" or a file).
func (m *Manager) AddHandler(ctx context.Context, name, target string) error {
	var err error
	if cerr := m.call(ctx, "add_handler", func() {
		if err = m.add(name, target); err == nil {
			m.logChange("overload handler added", m.handlers[len(m.handlers)-1])
		}
	}); cerr != nil {
		return cerr
	}
	return err
}

// AddHandlerValue installs a handler of the caller's making after the
// installed ones.
func (m *Manager) AddHandlerValue(ctx context.Context, h Handler) error {
	var err error
	if cerr := m.call(ctx, "add_handler", func() {
		if err = m.install(h); err == nil {
			m.logChange("overload handler added", h)
		}
	}); cerr != nil {
		return cerr
	}
	return err
}

// DeleteHandler removes a handler; events no longer reach it.
func (m *Manager) DeleteHandler(ctx context.Context, name string) error {
	var err error
	if cerr := m.call(ctx, "delete_handler", func() { err = m.remove(name) }); cerr != nil {
		return cerr
	}
	return err
}

// SwapHandler replaces the built-in handler name by a new one (a logger with
// target) that continues the old one's state, in the same place. It happens
// between two events, so none is lost.
func (m *Manager) SwapHandler(ctx context.Context, name, target string) error {
	var err error
	if cerr := m.call(ctx, "swap_handler", func() { err = m.swap(name, target) }); cerr != nil {
		return cerr
	}
	return err
}

// The rest runs inside the loop (or in Start, before it).

func (m *Manager) find(name string) int {
	return slices.IndexFunc(m.handlers, func(h Handler) bool { return h.Name() == name })
}

// installed finds handler name, of the built-in type T.
func installed[T Handler](m *Manager, name string) (T, error) {
	if i := m.find(name); i >= 0 {
		if h, ok := m.handlers[i].(T); ok {
			return h, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("%w: %s", ErrNotInstalled, name)
}

func (m *Manager) add(name, target string) error {
	if m.find(name) >= 0 {
		return fmt.Errorf("%w: %s", ErrAlreadyInstalled, name)
	}
	h, err := m.build(name, target)
	if err != nil {
		return err
	}
	return m.install(h)
}

func (m *Manager) install(h Handler) error {
	if m.find(h.Name()) >= 0 {
		return fmt.Errorf("%w: %s", ErrAlreadyInstalled, h.Name())
	}
	m.handlers = append(m.handlers, h)
	m.dirty = true
	return nil
}

func (m *Manager) remove(name string) error {
	i := m.find(name)
	if i < 0 {
		return fmt.Errorf("%w: %s", ErrNotInstalled, name)
	}
	h := m.handlers[i]
	m.handlers = slices.Delete(m.handlers, i, i+1)
	m.dirty = true
	m.terminate(h)
	m.logChange("overload handler deleted", h)
	return nil
}

func (m *Manager) swap(name, target string) error {
	if !slices.Contains(builtinNames, name) {
		return unknownHandler(name)
	}
	i := m.find(name)
	if i < 0 {
		return fmt.Errorf("%w: %s", ErrNotInstalled, name)
	}
	next, err := m.build(name, target)
	if err != nil {
		return err // the old handler stays
	}
	next.resume(m.terminate(m.handlers[i]))
	m.handlers[i] = next
	m.dirty = true
	m.logChange("overload handler swapped", next)
	return nil
}

// build makes a fresh built-in handler.
func (m *Manager) build(name, target string) (builtin, error) {
	switch {
	case !slices.Contains(builtinNames, name):
		return nil, unknownHandler(name)
	case name == HandlerLogger:
		return openLogger(target)
	case target != "":
		return nil, fmt.Errorf("%w: the %s handler takes no target", ErrInvalidTarget, name)
	case name == HandlerCounters:
		return newCounters(), nil
	}
	return &alarms{log: m.log, logs: newAlarmLog(m.log, m.alarmLogBurst, m.alarmLogPeriod),
		metrics: m.metrics, history: m.writer, active: map[alarmKey]Alarm{}}, nil
}

func unknownHandler(name string) error {
	return fmt.Errorf("%w: %q (known: %s, %s, %s)", ErrUnknownHandler, name, HandlerCounters, HandlerLogger, HandlerAlarms)
}

// logChange reports a change asked for at run time; the defaults installed
// at start are not news.
func (m *Manager) logChange(msg string, h Handler) {
	ev := m.log.Info().Str("handler", h.Name())
	if t, ok := h.(targeted); ok {
		ev = ev.Str("target", t.Target())
	}
	ev.Msg(msg)
}

// shownTarget is a logger target as the API and introspection show it:
// stdout, or the file's name without its directory.
func shownTarget(target string) string {
	if target == "" || target == "stdout" {
		return target
	}
	return filepath.Base(target)
}

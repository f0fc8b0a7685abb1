package overload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/sup"
)

// Errors of the manager's calls; the codes are api.md's.
var (
	ErrUnavailable      = errcode.New(errcode.Unavailable, "overload manager is not running")
	ErrAlreadyInstalled = errcode.New(errcode.AlreadyInstalled, "handler already installed")
	ErrNotInstalled     = errcode.New(errcode.NotInstalled, "handler not installed")
	ErrUnknownHandler   = errcode.New(errcode.InvalidRequest, "unknown handler")
	ErrInvalidTarget    = errcode.New(errcode.InvalidRequest, "invalid handler target")
	ErrInvalidEvent     = errcode.New(errcode.InvalidRequest, "invalid overload event")
)

// What the rest of the service relies on.
var (
	_ Notifier      = (*Manager)(nil)
	_ sup.Inspector = (*Manager)(nil)
	_ sup.Tracer    = (*Manager)(nil)
	_ sup.StartFunc = (*Manager)(nil).Start
)

// DefaultMailbox is the mailbox size when Config.Mailbox is not set.
const DefaultMailbox = 4096

// Config is what every (re)started Manager is built from.
type Config struct {
	Log     zerolog.Logger
	Metrics *CellMetrics // the cell's series; nil: no metrics
	History HistoryStore // nil: the alarm history is kept in memory only
	Mailbox int          // events and calls that can wait; 0 means DefaultMailbox
	// LogTarget is where the default logger handler writes: "stdout" (also
	// when empty) or a file path.
	LogTarget string
	// The alarms handler logs the first AlarmLogBurst raises and clears of
	// an alarm in each AlarmLogPeriod, then one summary (0: the defaults).
	AlarmLogBurst  int
	AlarmLogPeriod time.Duration
	// Cell and Node are cluster mode's: the cell the manager is part of
	// and the node running it. The history records it writes carry them,
	// and it reads only its cell's: the cells of a node share its
	// HistoryStore. Nil and "" on a single node.
	Cell *int
	Node string
}

// Manager is one run of the overload event manager (the book's
// freq_overload): a goroutine owning a bounded mailbox and the installed
// handlers, which runs every event through the handlers one at a time, in
// the order they were added. A restart is a new Manager, so handler state
// such as the counters starts afresh; the durable alarm history lives in
// Config.History and outlives it. A second goroutine, the history writer,
// writes that history, so a slow database never holds up the events.
type Manager struct {
	*sup.Stats

	log     zerolog.Logger
	metrics *CellMetrics
	history HistoryStore
	writer  *historyWriter
	target  string
	// The alarm log limit of every alarms handler the manager builds.
	alarmLogBurst  int
	alarmLogPeriod time.Duration

	mailbox  *sup.Mailbox[message] // closed by end
	overflow overflow              // alarm events waiting for room in the mailbox
	lossLog  zerolog.Logger        // sampled: losses come in floods
	proc     sup.Proc              // the goroutine, once started
	started  atomic.Bool
	dropped  atomic.Uint64
	summary  atomic.Pointer[string] // handlers and active alarms, for Inspect

	// Owned by the loop goroutine (by Start before the loop runs).
	handlers []Handler
	dirty    bool // the summary needs rebuilding
}

// message is an event (call nil) or a call run inside the loop.
type message struct {
	event Event
	call  func()
	what  string        // the call's name, for the process log
	done  chan struct{} // closed once handled; nil for Notify
}

// New builds a Manager; Start runs it. Events notified before Start wait in
// the mailbox.
func New(cfg Config) *Manager {
	size := cfg.Mailbox
	if size <= 0 {
		size = DefaultMailbox
	}
	history := cfg.History
	if history == nil {
		history = newMemHistory(memHistorySize)
	}
	m := &Manager{
		Stats:   sup.NewStats("overload", cfg.Log),
		log:     cfg.Log,
		metrics: cfg.Metrics,
		history: history,
		writer:  newHistoryWriter(history, cfg.Cell, cfg.Node, cfg.Metrics, cfg.Log),
		target:  cfg.LogTarget,
		mailbox: sup.NewMailbox[message](size),
		lossLog: lossLog(cfg.Log),
	}
	// newAlarmLog applies the default burst; the flush ticker needs the period.
	m.alarmLogBurst, m.alarmLogPeriod = cfg.AlarmLogBurst, cfg.AlarmLogPeriod
	if m.alarmLogPeriod <= 0 {
		m.alarmLogPeriod = DefaultAlarmLogPeriod
	}
	notStarted := "not started"
	m.summary.Store(&notStarted)
	return m
}

// Start installs the default handlers (counters, logger, alarms) and starts
// the manager's goroutines: the history writer, and the manager itself, a
// goroutine process (sup.Go). It is a sup.StartFunc; a Manager starts once.
func (m *Manager) Start(ctx context.Context, exit sup.ExitFunc) (sup.Proc, error) {
	if !m.started.CompareAndSwap(false, true) {
		return nil, errors.New("overload: manager already started; a restart is a new Manager")
	}
	go m.writer.run()
	for _, name := range builtinNames {
		target := ""
		if name == HandlerLogger {
			target = m.target
		}
		if err := m.add(name, target); err != nil {
			m.end()
			return nil, fmt.Errorf("overload: install %s handler: %w", name, err)
		}
	}
	m.refreshSummary()
	proc, err := sup.Go(func(ctx context.Context, ready func()) error {
		// The history is flushed before the exit is reported, so that a
		// restarted manager's follows this one's.
		defer m.end()
		ready()
		return m.loop(ctx)
	})(ctx, exit)
	if err != nil {
		return nil, err
	}
	m.proc = proc
	return m, nil
}

// Stop asks the manager to end; it reports sup.ErrShutdown. Events still in
// the mailbox are dropped, like a gen_event's on stop; the alarm history
// already queued is written first (see historyWriter.close).
func (m *Manager) Stop() { m.proc.Stop() }

// Crash makes the manager's goroutine panic, for fault injection: it ends
// with a *sup.PanicError, as a real crash would.
func (m *Manager) Crash() { m.mailbox.Crash() }

func (m *Manager) loop(ctx context.Context) error {
	// The alarm log limit's periods end on this clock, too, when no alarm
	// event comes to end them: a summary is at most a quarter period late.
	flush := time.NewTicker(max(m.alarmLogPeriod/4, time.Millisecond))
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.mailbox.CrashRequested():
			panic("overload: crash requested (fault injection)")
		case now := <-flush.C:
			m.flushLogs(now)
		case msg := <-m.mailbox.Receive():
			m.handle(msg)
			if m.overflow.waiting.Load() {
				m.refill()
			}
		}
	}
}

// logFlusher is a handler whose log lines wait for the end of a period
// (the alarms handler).
type logFlusher interface {
	flushLogs(now time.Time)
}

func (m *Manager) flushLogs(now time.Time) {
	for _, h := range m.handlers {
		if f, ok := h.(logFlusher); ok {
			f.flushLogs(now)
		}
	}
}

// end terminates the handlers (closing the logger's file, taking alarms out
// of the gauge), flushes the alarm history and makes every call from now on
// fail with ErrUnavailable. The flush comes before the exit is reported, so
// the history of a restarted manager follows this one's.
func (m *Manager) end() {
	for _, h := range m.handlers {
		m.terminate(h)
	}
	m.handlers = nil
	m.writer.close()
	m.mailbox.Close()
}

func (m *Manager) handle(msg message) {
	if msg.call != nil {
		m.Handled("call", msg.what)
		msg.call()
		m.Sent("reply", msg.what)
	} else {
		m.Handled(msg.event.Kind.String(), msg.event.ID)
		m.metrics.event(msg.event.Kind)
		m.dispatch(msg.event)
		// A set or clear may change the active alarms the summary shows.
		m.dirty = m.dirty || msg.event.Kind != Notice
	}
	if m.dirty {
		m.refreshSummary()
	}
	if msg.done != nil {
		close(msg.done)
	}
}

// dispatch runs e through every handler in order. A handler that panics or
// fails is removed and reported, and e goes on to the handlers after it.
func (m *Manager) dispatch(e Event) {
	for i := 0; i < len(m.handlers); {
		h := m.handlers[i]
		err := sup.Protect(func() error { return h.Handle(e) })
		if err == nil {
			i++
			continue
		}
		m.handlers = slices.Delete(m.handlers, i, i+1)
		m.dirty = true
		m.terminate(h)
		m.metrics.handlerRemoved(h.Name())
		ev := m.log.Error().Str("handler", h.Name()).Str("event", e.Key()).Err(err)
		var p *sup.PanicError
		if errors.As(err, &p) {
			ev = ev.Bytes("stack", p.Stack)
		}
		ev.Msg("overload handler removed")
	}
}

// terminate ends h; a handler that panics on its way out loses its state
// but cannot take the manager with it.
func (m *Manager) terminate(h Handler) (state any) {
	err := sup.Protect(func() error {
		state = h.Terminate()
		return nil
	})
	if err != nil {
		m.log.Error().Str("handler", h.Name()).Err(err).Msg("overload handler terminate failed")
	}
	return state
}

// Notify hands e to the manager without ever blocking. Once the manager has
// ended, e is dropped and counted. A notice that finds the mailbox full is
// dropped and counted too, and so is one sent while alarm events wait for
// room, so that the room the loop makes goes to them first. An alarm event
// that finds the mailbox full waits in the overflow, which may cancel it
// out with an earlier one or drop it as a repeat (see overflow).
func (m *Manager) Notify(e Event) {
	if !e.valid() {
		m.log.Warn().Str("event", e.Key()).Msg("invalid overload event ignored")
		return
	}
	stamp(&e)
	if m.mailbox.Ended() {
		m.drop()
		return
	}
	if e.Kind == Notice {
		if m.overflow.waiting.Load() || m.mailbox.TryPost(message{event: e}) != nil {
			m.drop()
		}
		return
	}
	m.notifyAlarm(e)
}

func (m *Manager) notifyAlarm(e Event) {
	o := &m.overflow
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.has(e.ID) && m.mailbox.TryPost(message{event: e}) == nil {
		return
	}
	switch o.add(e) {
	case duplicate:
		m.drop()
	case full:
		m.drop()
		m.lossLog.Error().Str("event", e.Key()).Int("alarm_ids_waiting", maxOverflowIDs).
			Msg("alarm event dropped: too many distinct alarms wait for room in the overload mailbox")
	}
}

func (m *Manager) drop() {
	m.dropped.Add(1)
	m.metrics.drop()
}

// SyncNotify hands e to the manager and returns once every handler has run.
// It waits for room in the mailbox rather than using the overflow, so it
// is for callers that can wait: one that also used Notify for the same
// alarm while the mailbox was full could see its events reordered.
func (m *Manager) SyncNotify(ctx context.Context, e Event) error {
	if !e.valid() {
		return fmt.Errorf("%w: %q", ErrInvalidEvent, e.Key())
	}
	stamp(&e)
	return m.send(ctx, message{event: e, done: make(chan struct{})})
}

// stamp gives an event its time of arrival when the sender gave none.
func stamp(e *Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
}

// call runs fn inside the manager loop and waits for it. fn's results are
// only read after call returned nil: if ctx ends first, fn may still run
// later, writing results nobody reads.
func (m *Manager) call(ctx context.Context, what string, fn func()) error {
	return m.send(ctx, message{call: fn, what: what, done: make(chan struct{})})
}

func (m *Manager) send(ctx context.Context, msg message) error {
	err := m.mailbox.Post(ctx, msg)
	if err == nil {
		_, err = sup.Await(ctx, msg.done, m.mailbox.Done())
	}
	if errors.Is(err, sup.ErrDead) {
		return ErrUnavailable
	}
	return err
}

// Inspect reports the process status (sup.Inspector).
func (m *Manager) Inspect() sup.Info {
	info := m.Stats.Info(fmt.Sprintf("%s; dropped: %d", *m.summary.Load(), m.dropped.Load()))
	if m.mailbox.Ended() {
		info.Status = "stopped"
	}
	return info
}

// refreshSummary rebuilds the state text Inspect shows; the loop calls it
// when handlers or active alarms changed, so Inspect never waits on it.
func (m *Manager) refreshSummary() {
	m.dirty = false
	names := make([]string, 0, len(m.handlers))
	active := "none"
	for _, h := range m.handlers {
		name := h.Name()
		if t, ok := h.(targeted); ok {
			name += "(" + shownTarget(t.Target()) + ")"
		}
		names = append(names, name)
		if a, ok := h.(*alarms); ok && len(a.active) > 0 {
			var ids []string
			for _, al := range a.list() {
				ids = append(ids, al.ID+"("+al.Severity+")")
			}
			active = strings.Join(ids, ", ")
		}
	}
	s := fmt.Sprintf("handlers: %s; active alarms: %s", strings.Join(names, ", "), active)
	m.summary.Store(&s)
}

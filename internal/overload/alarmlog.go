package overload

import (
	"time"

	"github.com/rs/zerolog"
)

// Defaults of the alarm log limit: per alarm, the first lines of each
// minute are logged.
const (
	DefaultAlarmLogBurst  = 10
	DefaultAlarmLogPeriod = time.Minute
)

// alarmLog rate-limits the "alarm raised" and "alarm cleared" lines. Under
// load no_frequency may be set and cleared hundreds of times a minute, and
// a line for each drowns every other line. Per alarm, the first burst lines
// of a period are logged and the rest only counted; once the period is
// over, one summary line says how many raises and clears were left out and
// whether the alarm is active at the end. Only the lines are limited:
// every raise and clear is still counted, stored in the alarm history and
// visible in bsc_alarm_active.
//
// Periods are measured on the events' own times and on the times flush is
// called with, so tests drive it with a fake clock.
type alarmLog struct {
	log     zerolog.Logger
	burst   int
	period  time.Duration
	windows map[string]*alarmLogWindow // by alarm id
}

// alarmLogWindow is one alarm's current period.
type alarmLogWindow struct {
	start    time.Time
	logged   int
	raises   int // left out
	clears   int // left out
	severity string
	active   bool // after the last raise or clear
}

func newAlarmLog(log zerolog.Logger, burst int, period time.Duration) *alarmLog {
	if burst <= 0 {
		burst = DefaultAlarmLogBurst
	}
	if period <= 0 {
		period = DefaultAlarmLogPeriod
	}
	return &alarmLog{log: log, burst: burst, period: period, windows: map[string]*alarmLogWindow{}}
}

// allow tells whether the line of a raise (or a clear) of al at time at is
// to be logged, and counts it if not. An earlier period of the alarm that
// is over is summarised first.
func (l *alarmLog) allow(al Alarm, raise bool, at time.Time) bool {
	w := l.windows[al.ID]
	if w != nil && !at.Before(w.start.Add(l.period)) {
		l.summarise(al.ID, w)
		w = nil
	}
	if w == nil {
		w = &alarmLogWindow{start: at}
		l.windows[al.ID] = w
	}
	w.severity, w.active = al.Severity, raise
	if w.logged < l.burst {
		w.logged++
		return true
	}
	if raise {
		w.raises++
	} else {
		w.clears++
	}
	return false
}

// flush ends the periods that are over at now: it summarises those that
// left lines out and forgets them all, so quiet alarms hold no memory.
func (l *alarmLog) flush(now time.Time) {
	for id, w := range l.windows {
		if !now.Before(w.start.Add(l.period)) {
			l.summarise(id, w)
			delete(l.windows, id)
		}
	}
}

// flushAll summarises every period at once, when the handler leaves the
// manager: no count of left-out lines goes unreported.
func (l *alarmLog) flushAll() {
	for id, w := range l.windows {
		l.summarise(id, w)
		delete(l.windows, id)
	}
}

// summarise writes the summary line of a period that left lines out.
func (l *alarmLog) summarise(id string, w *alarmLogWindow) {
	if w.raises+w.clears == 0 {
		return
	}
	l.log.Warn().Str("alarm", id).Str("severity", w.severity).
		Int("suppressed", w.raises+w.clears).Int("suppressed_raises", w.raises).Int("suppressed_clears", w.clears).
		Bool("active", w.active).Dur("period", l.period).
		Msg("alarm log lines suppressed")
}

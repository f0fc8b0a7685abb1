package overload

import (
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/store"
)

// The alarms the service raises (operations.md, Alarms).
const (
	AlarmNoFrequency       = "no_frequency"
	AlarmFrequencyPoolHigh = "frequency_pool_high"
	AlarmRestartStorm      = "restart_storm"
	AlarmOverloaded        = "overloaded"
	AlarmStorageFailed     = "storage_failed"
	AlarmNodeDown          = "node_down"
	AlarmCellUnowned       = "cell_unowned"
)

// Severities, most severe first.
const (
	SeverityCritical = "critical"
	SeverityMajor    = "major"
	SeverityMinor    = "minor"
	SeverityWarning  = "warning"
)

type alarmKind struct {
	severity, description string
}

var catalogue = map[string]alarmKind{
	AlarmNoFrequency:       {SeverityMajor, "no free frequency left in the pool"},
	AlarmFrequencyPoolHigh: {SeverityMinor, "80 % or more of the frequency pool is allocated"},
	AlarmRestartStorm:      {SeverityMajor, "a supervisor restarts children faster than half its intensity allows"},
	AlarmOverloaded:        {SeverityMajor, "load regulation is shedding requests"},
	AlarmStorageFailed:     {SeverityCritical, "the database cannot be written: records wait in memory, new calls are shed"},
	AlarmNodeDown:          {SeverityMajor, "a cluster node is missing"},
	AlarmCellUnowned:       {SeverityCritical, "a cell has no owner: its phones cannot be served"},
}

// describe gives an alarm's severity and description; an id outside the
// catalogue is still tracked, as a warning.
func describe(id string) alarmKind {
	if k, ok := catalogue[id]; ok {
		return k
	}
	return alarmKind{SeverityWarning, "unknown alarm"}
}

// Alarm is an active alarm.
type Alarm struct {
	ID          string    `json:"id"`
	Severity    string    `json:"severity"`
	Source      string    `json:"source"`
	RaisedAt    time.Time `json:"raised_at"`
	Description string    `json:"description"`
}

// alarmKey names an active alarm: its id and its source. One id may be
// raised by several sources at once (cell_unowned for two cells,
// restart_storm for two supervisors), each cleared on its own.
type alarmKey struct{ id, source string }

// alarms keeps the active alarms; its state, handed on by a swap, is the
// active set. Raises and clears change the set, the gauge and the counters
// at once; their history records go to the manager's history writer; their
// log lines go through a rate limit (alarmLog).
type alarms struct {
	log     zerolog.Logger
	logs    *alarmLog
	metrics *CellMetrics
	history *historyWriter
	active  map[alarmKey]Alarm
}

func (a *alarms) Name() string { return HandlerAlarms }

func (a *alarms) Handle(e Event) error {
	switch e.Kind {
	case SetAlarm:
		key := alarmKey{e.ID, e.Source}
		if _, on := a.active[key]; on {
			return nil // already raised: not a new raise
		}
		k := describe(e.ID)
		al := Alarm{ID: e.ID, Severity: k.severity, Source: e.Source, RaisedAt: e.At, Description: k.description}
		a.active[key] = al
		a.metrics.setActive(al, true)
		if a.logs.allow(al, true, e.At) {
			a.log.Warn().Str("alarm", al.ID).Str("severity", al.Severity).Str("source", al.Source).
				Str("description", al.Description).Msg("alarm raised")
		}
		a.record(store.ActionSet, al, e)
	case ClearAlarm:
		// With a source, that source's alarm; without (the book's
		// clear_alarm{id}), every source's, oldest first so that the
		// history's order is stable.
		if e.Source != "" {
			key := alarmKey{e.ID, e.Source}
			if al, ok := a.active[key]; ok {
				a.clear(key, al, e)
			}
			break
		}
		for _, al := range a.list() {
			if al.ID == e.ID {
				a.clear(alarmKey{al.ID, al.Source}, al, e)
			}
		}
	}
	return nil
}

func (a *alarms) clear(key alarmKey, al Alarm, e Event) {
	delete(a.active, key)
	a.metrics.setActive(al, false)
	if a.logs.allow(al, false, e.At) {
		a.log.Info().Str("alarm", al.ID).Str("severity", al.Severity).Str("source", al.Source).
			Dur("active_for", e.At.Sub(al.RaisedAt)).Msg("alarm cleared")
	}
	a.record(store.ActionClear, al, e)
}

// record counts a raise or clear and queues it for the history.
func (a *alarms) record(action string, al Alarm, e Event) {
	a.metrics.transition(al.ID, action)
	a.history.add(store.AlarmRecord{
		Alarm: al.ID, Action: action, Severity: al.Severity, Source: al.Source,
		Description: al.Description, At: e.At,
	})
}

// Terminate takes the alarms out of the gauge: once the handler is gone
// nobody would clear them. A successor puts them back in resume. The
// counts of log lines left out are reported now.
func (a *alarms) Terminate() any {
	for _, al := range a.active {
		a.metrics.setActive(al, false)
	}
	a.logs.flushAll()
	return a.active
}

// flushLogs ends the log limit's periods that are over at now.
func (a *alarms) flushLogs(now time.Time) { a.logs.flush(now) }

func (a *alarms) resume(state any) {
	if active, ok := state.(map[alarmKey]Alarm); ok {
		a.active = active
		for _, al := range active {
			a.metrics.setActive(al, true)
		}
	}
}

// list is the active alarms, oldest raise first.
func (a *alarms) list() []Alarm {
	out := make([]Alarm, 0, len(a.active))
	for _, al := range a.active {
		out = append(out, al)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RaisedAt.Equal(out[j].RaisedAt) {
			return out[i].RaisedAt.Before(out[j].RaisedAt)
		}
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Source < out[j].Source
	})
	return out
}

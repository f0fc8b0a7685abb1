package app

import (
	"sync"

	"github.com/bsc-sim/bsc/internal/overload"
)

// storms is the restart storms in progress, by supervisor, behind the one
// restart_storm alarm: raised when a first supervisor enters a storm,
// cleared when the last one leaves it, so the alarm is up exactly while
// some supervisor storms and its raises and clears alternate.
//
// It is the App's, not the overload manager's: a manager's active alarms
// die with it, and bsc reports a storm before restarting its children, so
// when overload's own crashes cause the storm, the report reaches the dead
// manager. publishOverload raises the alarm again on the new one.
type storms struct {
	mu     sync.Mutex
	active map[string]bool
	source string // the supervisor whose storm raised the alarm
}

// report records that supervisor entered (active) or left a storm, and
// raises or clears the alarm through notify when that changes it.
func (s *storms) report(supervisor string, active bool, notify func(overload.Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := len(s.active) > 0
	if active {
		if s.active == nil {
			s.active = map[string]bool{}
		}
		s.active[supervisor] = true
	} else {
		delete(s.active, supervisor)
	}
	switch on := len(s.active) > 0; {
	case on && !was:
		s.source = supervisor
		notify(overload.Event{Kind: overload.SetAlarm, ID: overload.AlarmRestartStorm, Source: supervisor})
	case was && !on:
		// Under the source it was raised with: the first storming
		// supervisor, not the last to calm down.
		notify(overload.Event{Kind: overload.ClearAlarm, ID: overload.AlarmRestartStorm, Source: s.source})
	}
}

// raiseOn raises the alarm on n if a storm goes on; s.mu is held.
func (s *storms) raiseOn(n overload.Notifier) {
	if len(s.active) > 0 {
		n.Notify(overload.Event{Kind: overload.SetAlarm, ID: overload.AlarmRestartStorm, Source: s.source})
	}
}

// publishOverload makes m the manager a.notify reaches and raises on it the
// alarms the App keeps itself (restart_storm, overloaded, storage_failed),
// which died with the previous manager. It holds the locks those alarms are reported under,
// so one that changes meanwhile reaches m exactly once: before the switch
// it went to the old manager and is raised here, after it goes to m.
func (a *App) publishOverload(c *cell, m *overload.Manager) {
	a.storms.mu.Lock()
	defer a.storms.mu.Unlock()
	a.overloaded.mu.Lock()
	defer a.overloaded.mu.Unlock()
	a.storage.mu.Lock()
	defer a.storage.mu.Unlock()
	// The App's alarms are raised before m is published, so that whoever
	// finds m finds them (its calls queue behind them); the cluster's
	// after, since clusterAlarms notifies through the published manager
	// under a lock of its own.
	a.storms.raiseOn(m)
	a.overloaded.raiseOn(m)
	a.storage.raiseOn(m)
	c.names.overload.register(m)
	a.clusterAlarms.raiseOn(c, m)
}

package app

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/bsc-sim/bsc/internal/overload"
)

// storageAlarm is storage_failed (critical), raised while the database
// cannot be written (store.Health says when), and the readiness it takes
// away. Like the restart storms, it outlives the overload manager:
// publishOverload raises it again on a new one.
type storageAlarm struct {
	notify func(overload.Event)

	down atomic.Bool // failed != nil, read without the lock on every call

	mu     sync.Mutex
	failed error // why, while raised
}

// change is store.Health's onChange: err is the first fault, or nil once
// every writer works again.
func (s *storageAlarm) change(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.failed != nil
	s.failed = err
	s.down.Store(err != nil)
	switch {
	case err != nil && !was:
		s.notify(overload.Event{Kind: overload.SetAlarm, ID: overload.AlarmStorageFailed, Source: "database"})
	case err == nil && was:
		s.notify(overload.Event{Kind: overload.ClearAlarm, ID: overload.AlarmStorageFailed, Source: "database"})
	}
}

// err is why the database cannot be written, nil while it can: readiness.
func (s *storageAlarm) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("the database cannot be written: %w", s.failed)
	}
	return nil
}

// raiseOn raises the alarm on n if it is up; s.mu is held.
func (s *storageAlarm) raiseOn(n overload.Notifier) {
	if s.failed != nil {
		n.Notify(overload.Event{Kind: overload.SetAlarm, ID: overload.AlarmStorageFailed, Source: "database"})
	}
}

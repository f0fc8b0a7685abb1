package app

import (
	"sync"
	"time"

	"github.com/bsc-sim/bsc/internal/overload"
)

// overloadedQuiet is how long without a shed request before the
// overloaded alarm clears.
const overloadedQuiet = 5 * time.Second

// overloadAlarm raises "overloaded" on the first shed request and clears
// it once nothing was shed for overloadedQuiet (operations.md: the alarm is
// active while load regulation is shedding). Like the restart storms, its
// state outlives the overload manager: publishOverload raises it again on
// a new one.
type overloadAlarm struct {
	notify func(overload.Event)
	quiet  time.Duration

	mu     sync.Mutex
	raised bool
	source string // who shed the request that raised it
	last   time.Time
	timer  *time.Timer // owned here; stopped by stop
}

// shed notes one shed request; it never blocks.
func (o *overloadAlarm) shed(source string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.last = time.Now()
	if o.raised {
		return
	}
	o.raised = true
	o.source = source
	o.notify(overload.Event{Kind: overload.SetAlarm, ID: overload.AlarmOverloaded, Source: source})
	o.timer = time.AfterFunc(o.quiet, o.check)
}

// check clears the alarm after a quiet period, or waits for the rest of it.
func (o *overloadAlarm) check() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.raised {
		return
	}
	if left := o.quiet - time.Since(o.last); left > 0 {
		o.timer.Reset(left)
		return
	}
	o.raised = false
	o.notify(overload.Event{Kind: overload.ClearAlarm, ID: overload.AlarmOverloaded, Source: o.source})
}

// raiseOn raises the alarm on n if it is up; o.mu is held.
func (o *overloadAlarm) raiseOn(n overload.Notifier) {
	if o.raised {
		n.Notify(overload.Event{Kind: overload.SetAlarm, ID: overload.AlarmOverloaded, Source: o.source})
	}
}

func (o *overloadAlarm) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.timer != nil {
		o.timer.Stop()
	}
}

package frequency

import "github.com/bsc-sim/bsc/internal/overload"

const (
	source           = "frequency"
	alarmNoFrequency = "no_frequency"
	alarmPoolHigh    = "frequency_pool_high"
)

// The frequency_pool_high thresholds, in tenths of the pool: raised at 80 %
// in use, cleared below 70 % so that a pool hovering near the line does not
// flap.
const (
	highRaise = 8
	highClear = 7
)

// changed brings the alarms and gauges in line with the state after a
// change. Deriving the alarms from the state, rather than from what the
// operation was, is what keeps set and clear strictly alternating whatever
// path changed the free list. The caller holds the lock, so the events leave
// in the order of the changes; Notify never blocks.
func (a *Allocator) changed() {
	if empty := len(a.free) == 0; empty != a.noFreq {
		a.noFreq = empty
		a.emit(alarmKind(empty), alarmNoFrequency)
	}
	used, total := a.allocated*10, len(a.free)+a.allocated
	if !a.high && used >= highRaise*total || a.high && used < highClear*total {
		a.high = !a.high
		a.emit(alarmKind(a.high), alarmPoolHigh)
	}
	a.report()
}

// emit sends one event. It reads the clock itself because events are rare
// and a clock read is not: the hot path only pays for one, in Allocate.
func (a *Allocator) emit(kind overload.Kind, id string) {
	a.notifier.Notify(overload.Event{Kind: kind, ID: id, Source: source, At: a.now()})
	a.Sent(kind.String(), id)
}

func alarmKind(raise bool) overload.Kind {
	if raise {
		return overload.SetAlarm
	}
	return overload.ClearAlarm
}

// Package frequency is the cell's radio-frequency allocator (domain.md §1):
// head-of-list allocation, last-in-first-out release, owners and leases, hot
// reconfiguration, and the no_frequency and frequency_pool_high alarms it
// sends to the overload manager.
//
// The book's allocator is a gen_server. Here callers run the operations
// themselves under a mutex, because a goroutine server costs a channel round
// trip per call and the allocator has to beat the book's throughput. It is
// still a supervised process: Start, Stop and Crash give it the life cycle the
// supervisor expects, and a dead instance answers ErrUnavailable.
package frequency

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/sup"
)

// The allocator's errors, by their API code. Deallocate wraps them with the
// frequency concerned.
var (
	ErrNoFrequency  = errcode.New(errcode.NoFrequency, "no frequency available")
	ErrNotAllocated = errcode.New(errcode.NotAllocated, "frequency not allocated")
	ErrNotOwner     = errcode.New(errcode.NotOwner, "frequency allocated to another owner")
	ErrUnavailable  = errcode.New(errcode.Unavailable, "frequency allocator not running")
)

var errStarted = errors.New("frequency: allocator already started")

var (
	_ sup.Proc      = (*Allocator)(nil)
	_ sup.Inspector = (*Allocator)(nil)
	_ sup.Tracer    = (*Allocator)(nil)
)

// Config is what an allocator instance is made from. The server keeps one
// Config and builds a fresh Allocator from it at every (re)start.
type Config struct {
	Pool     []int
	Notifier overload.Notifier // nil drops the events
	Metrics  *CellMetrics      // the cell's series; nil records nothing
	Log      zerolog.Logger
	Now      func() time.Time // nil means time.Now
}

type life uint8

const (
	created life = iota
	running
	dead
)

// Allocator is one instance of the frequency allocator. Every method is safe
// for concurrent use.
type Allocator struct {
	*sup.Stats
	notifier overload.Notifier
	metrics  *CellMetrics
	reported counts // this instance's share of the gauges
	log      zerolog.Logger
	now      func() time.Time
	invalid  error // a bad Config.Pool, reported by Start

	mu     sync.Mutex
	life   life
	exit   sup.ExitFunc
	reason error // why it died

	pool   []int
	slots  []slot
	index  map[int]int32    // frequency → slot, for every slot not retired
	free   []int32          // the free list as a stack: its head is the last element
	owners map[string]int32 // owner → its most recently allocated slot
	leases []int32          // min-heap of leased slots by expiry
	timer  *time.Timer      // the lease reaper, armed for the earliest lease
	leaseN uint64           // lease counter, breaks ties between equal expiries

	allocated int // allocated slots still in the pool
	blocked   int // allocated slots removed from the pool
	noFreq    bool
	high      bool
}

// New builds an allocator whose free list is cfg.Pool in order. It serves
// nothing until Start.
func New(cfg Config) *Allocator {
	a := &Allocator{
		Stats:    sup.NewStats("frequency", cfg.Log),
		notifier: cfg.Notifier,
		metrics:  cfg.Metrics,
		log:      cfg.Log,
		now:      cfg.Now,
		invalid:  ValidatePool(cfg.Pool),
	}
	if a.notifier == nil {
		a.notifier = overload.NotifierFunc(func(overload.Event) {})
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.invalid == nil {
		a.rebuild(slices.Clone(cfg.Pool))
	}
	return a
}

// Start makes the allocator a running supervised process, which is also its
// own Proc. It fails if the pool is invalid or the instance was started
// before: a restart builds a new instance.
func (a *Allocator) Start(_ context.Context, exit sup.ExitFunc) (sup.Proc, error) {
	if a.invalid != nil {
		return nil, a.invalid
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.life != created {
		return nil, errStarted
	}
	a.life, a.exit = running, exit
	a.report()
	return a, nil
}

// report puts the pool's state into the gauges while the instance runs;
// a.mu is held.
func (a *Allocator) report() {
	if a.life != running {
		return
	}
	a.reported = a.metrics.gauges(a.reported, counts{len(a.free), a.allocated, a.blocked})
}

// Stop ends the allocator normally.
func (a *Allocator) Stop() { a.die(sup.ErrShutdown) }

// Crash kills the allocator as a panic would, for fault injection.
func (a *Allocator) Crash() {
	a.die(sup.Protect(func() error { panic("injected crash") }))
}

// die ends a running instance and reports reason, once, whatever the race
// between Stop, Crash and the reaper.
func (a *Allocator) die(reason error) {
	a.mu.Lock()
	if a.life != running {
		a.mu.Unlock()
		return
	}
	a.life, a.reason = dead, reason
	if a.timer != nil {
		a.timer.Stop()
	}
	// The overload manager outlives this instance and the next one starts
	// with every frequency free, so our alarms must go with us or the next
	// raise would set no_frequency twice.
	if a.noFreq {
		a.noFreq = false
		a.emit(overload.ClearAlarm, alarmNoFrequency)
	}
	if a.high {
		a.high = false
		a.emit(overload.ClearAlarm, alarmPoolHigh)
	}
	a.reported = a.metrics.gauges(a.reported, counts{}) // its share goes with it
	exit := a.exit
	a.mu.Unlock()
	exit(reason)
}

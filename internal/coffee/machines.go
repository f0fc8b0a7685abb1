package coffee

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

var (
	ErrInvalidID = errcode.New(errcode.InvalidRequest, "a machine id is 1 to 64 characters of A-Z, a-z, 0-9, _ and -")
	ErrExists    = errcode.New(errcode.AlreadyExists, "coffee machine already exists")
	ErrNotFound  = errcode.New(errcode.NotFound, "no such coffee machine")
	ErrTooMany   = errcode.New(errcode.Overloaded, "too many coffee machines")

	ErrInvalidTimeout = errcode.New(errcode.InvalidRequest, "a payment timeout cannot be negative")
)

// MaxMachines bounds the registry: each machine keeps a hardware log of up
// to hw.CoffeeLogSize calls.
const MaxMachines = 1000

var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID tells whether id can name a machine.
func ValidID(id string) bool { return validID.MatchString(id) }

// Machines is the registry of coffee machines, each a dynamic child of a
// simple_one_for_one supervisor (transient children: a crashed machine is
// restarted, a removed one is not). A machine's hardware stub belongs to
// its entry, so every incarnation drives the same hardware, and each
// incarnation publishes itself here: lookups reach the current one.
type Machines struct {
	opts  Options
	newHW func() recordingHW // a seam for tests to hold a restart midway

	mu   sync.Mutex
	sup  *sup.Supervisor // nil until attached
	byID map[string]*entry
	last int // last generated id number
}

// recordingHW is hardware that keeps the log the API shows.
type recordingHW interface {
	hw.CoffeeHW
	Ops() []hw.HWOp
}

type entry struct {
	dev     recordingHW
	child   uint64
	started bool // the supervisor has given the child id
	removed bool // being removed, or dropped by Attach
	current *Machine
}

// NewMachines makes a registry starting machines under s (which may be nil
// until Attach) with opts as every machine's defaults.
func NewMachines(s *sup.Supervisor, opts Options) *Machines {
	return &Machines{
		opts:  opts,
		newHW: func() recordingHW { return hw.NewCoffeeStub() },
		sup:   s,
		byID:  make(map[string]*entry),
	}
}

// Attach hands the registry a new incarnation of its supervisor; it fits
// sup.Supervise's onStart. The machines of the previous incarnation died
// with it (returning the money paid), so the registry forgets them.
func (ms *Machines) Attach(s *sup.Supervisor) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, e := range ms.byID {
		e.removed = true
	}
	ms.sup, ms.byID = s, make(map[string]*entry)
}

// Create starts a machine. An empty id is generated ("m1", "m2", ...); a
// zero timeout means the registry's default. It returns the new machine's
// status.
func (ms *Machines) Create(ctx context.Context, id string, timeout time.Duration) (Status, error) {
	if timeout < 0 {
		return Status{}, fmt.Errorf("%w: %v", ErrInvalidTimeout, timeout)
	}
	ms.mu.Lock()
	s := ms.sup
	switch {
	case s == nil:
		ms.mu.Unlock()
		return Status{}, ErrUnavailable
	case id == "":
		id = ms.generateID()
	case !validID.MatchString(id):
		ms.mu.Unlock()
		return Status{}, fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	if _, ok := ms.byID[id]; ok {
		ms.mu.Unlock()
		return Status{}, fmt.Errorf("%w: %s", ErrExists, id)
	}
	if len(ms.byID) >= MaxMachines {
		ms.mu.Unlock()
		return Status{}, ErrTooMany
	}
	// Reserved before starting, so that a concurrent Create of the same id
	// fails; lookups ignore it until started.
	e := &entry{dev: ms.newHW()}
	ms.byID[id] = e
	ms.mu.Unlock()

	opts := ms.opts
	if timeout > 0 {
		opts.Timeout = timeout
	}
	child, err := s.StartChild(ctx, ms.startFunc(id, e, opts))

	ms.mu.Lock()
	defer ms.mu.Unlock()
	if err != nil {
		if ms.byID[id] == e {
			delete(ms.byID, id)
		}
		return Status{}, err
	}
	if e.removed { // Attach dropped it meanwhile; the old supervisor stops it
		return Status{}, ErrUnavailable
	}
	e.child, e.started = child, true
	return e.current.Status(), nil
}

// startFunc starts an incarnation of machine id; the supervisor calls it
// again, with the same entry and so the same hardware, on a restart.
func (ms *Machines) startFunc(id string, e *entry, opts Options) sup.StartFunc {
	return func(ctx context.Context, exit sup.ExitFunc) (sup.Proc, error) {
		m, err := Start(ctx, id, e.dev, opts, exit)
		if err != nil {
			return nil, err
		}
		ms.mu.Lock()
		removed := e.removed
		if !removed {
			e.current = m
		}
		ms.mu.Unlock()
		// A restart that lands after the machine was removed (TerminateChild
		// finds no child between a crash and its restart) ends at once,
		// normally, so it is not restarted again.
		if removed {
			m.Stop()
		}
		return m, nil
	}
}

// generateID finds the next free "mN". Called with ms.mu held.
func (ms *Machines) generateID() string {
	for {
		ms.last++
		id := "m" + strconv.Itoa(ms.last)
		if _, taken := ms.byID[id]; !taken {
			return id
		}
	}
}

// Get returns the current incarnation of machine id, for events,
// introspection (Inspect, SetTrace) and fault injection (Crash).
func (ms *Machines) Get(id string) (*Machine, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	e, ok := ms.byID[id]
	if !ok || !e.started || e.removed {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return e.current, nil
}

// Status is machine id's status.
func (ms *Machines) Status(id string) (Status, error) {
	m, err := ms.Get(id)
	if err != nil {
		return Status{}, err
	}
	return m.Status(), nil
}

// Send has machine id handle ev; see Machine.Send. Bad input is refused
// before the machine is looked up, so it never changes anything.
func (ms *Machines) Send(ctx context.Context, id string, ev Event) (Status, error) {
	if err := ev.Validate(); err != nil {
		return Status{}, err
	}
	m, err := ms.Get(id)
	if err != nil {
		return Status{}, err
	}
	return m.Send(ctx, ev)
}

// Hardware is the log of machine id's hardware calls, across restarts.
func (ms *Machines) Hardware(id string) ([]hw.HWOp, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	e, ok := ms.byID[id]
	if !ok || !e.started || e.removed {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return e.dev.Ops(), nil
}

// List is every machine's status, by id.
func (ms *Machines) List() []Status {
	ms.mu.Lock()
	machines := make([]*Machine, 0, len(ms.byID))
	for _, e := range ms.byID {
		if e.started && !e.removed {
			machines = append(machines, e.current)
		}
	}
	ms.mu.Unlock()
	out := make([]Status, len(machines))
	for i, m := range machines {
		out[i] = m.Status()
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Remove stops machine id normally (returning the money paid if it was in
// payment), waits for it to end, and forgets it; it is not restarted.
func (ms *Machines) Remove(ctx context.Context, id string) error {
	ms.mu.Lock()
	e, ok := ms.byID[id]
	if !ok || !e.started || e.removed {
		ms.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	e.removed = true
	s, child := ms.sup, e.child
	ms.mu.Unlock()

	err := s.TerminateChild(ctx, child)
	ms.mu.Lock()
	if errors.Is(err, sup.ErrNoChild) {
		// Between a crash and its restart the supervisor has no such child.
		// An incarnation published before removed was set is stopped here,
		// a later one stops itself (see startFunc); a fresh machine holds
		// no money, so there is nothing to wait for.
		e.current.Stop()
		err = nil
	}
	if ms.byID[id] == e {
		delete(ms.byID, id)
	}
	ms.mu.Unlock()
	// Even when ctx ended first, the stop was asked for: the machine is on
	// its way out and no longer registered.
	return err
}

package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/phonefsm"
	"github.com/bsc-sim/bsc/internal/store"
)

// The phones side of the app: each incarnation of the phones supervisor
// gets a fresh phonefsm.Phones (and so an empty attachment registry); the
// subscribers, the device hub and the call-record writer outlive it.

// phones finds the cell phone m is in, and its phone set: cell 0 on a
// single node, the HLR location's in cluster mode. A phone attached
// nowhere is not_attached.
func (a *App) phones(ctx context.Context, m hlr.MSISDN) (*cell, *phonefsm.Phones, error) {
	id := 0
	if a.cluster != nil {
		var ok bool
		var err error
		if id, ok, err = a.cluster.PhoneCell(ctx, m); err != nil {
			return nil, nil, err
		} else if !ok {
			return nil, nil, fmt.Errorf("%w: %s", phonefsm.ErrNotAttached, m)
		}
	}
	c, err := a.cell(id)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.phoneSet()
	return c, p, err
}

// Attach provisions (if allowed) and attaches a phone in cell (-1: its
// home cell). In cluster mode the phone's location is written for the
// whole cluster before the attach is answered.
func (a *App) Attach(ctx context.Context, m hlr.MSISDN, spec hw.DeviceSpec, cellID int) (phonefsm.Status, error) {
	if cellID < 0 {
		cellID = a.homeCell(m)
	}
	if a.cluster != nil {
		if at, ok, err := a.cluster.PhoneCell(ctx, m); err != nil {
			return phonefsm.Status{}, err
		} else if ok && at != cellID {
			return phonefsm.Status{}, fmt.Errorf("%w: %s, in cell %d", hlr.ErrAlreadyAttached, m, at)
		}
	}
	c, err := a.cell(cellID)
	if err != nil {
		return phonefsm.Status{}, err
	}
	if c.handingOff.Load() {
		return phonefsm.Status{}, errHandingOff
	}
	p, err := c.phoneSet()
	if err != nil {
		return phonefsm.Status{}, err
	}
	if a.attachedCount() >= a.cfg.MaxPhones {
		a.shed()
		c.metrics.phones.AttachFailed(phonefsm.ErrOverloaded)
		return phonefsm.Status{}, fmt.Errorf("%w: %d phones attached, the most this service takes", phonefsm.ErrOverloaded, a.cfg.MaxPhones)
	}
	if err := a.subs.EnsureProvisioned(ctx, m, a.cfg.AutoProvision); err != nil {
		c.metrics.phones.AttachFailed(err)
		return phonefsm.Status{}, err
	}
	st, err := a.attachIn(ctx, c, p, m, spec)
	if err != nil {
		return phonefsm.Status{}, err
	}
	if a.cluster != nil {
		if err := a.cluster.attached(ctx, m, c); err != nil {
			_, _ = p.Detach(context.WithoutCancel(ctx), m)
			return phonefsm.Status{}, err
		}
	}
	a.subs.Touch(m, true, time.Now())
	return a.located(st, c), nil
}

// attachIn starts m's controller in c with its device.
func (a *App) attachIn(ctx context.Context, c *cell, p *phonefsm.Phones, m hlr.MSISDN, spec hw.DeviceSpec) (phonefsm.Status, error) {
	var opts []hw.DeviceOption
	if spec.Auto != nil {
		auto, err := hw.NewAuto(*spec.Auto, phoneActions{a, m}, seeded(spec.Seed), a.log)
		if err != nil {
			return phonefsm.Status{}, err
		}
		opts = append(opts, hw.WithAuto(auto))
	}
	dev := a.hub.Device(m.String(), opts...)
	st, err := p.Attach(ctx, m, dev)
	if err != nil && !errors.Is(err, hlr.ErrAlreadyAttached) {
		a.hub.Remove(m.String())
	}
	return st, err
}

// attachedCount is how many phones this node has attached.
func (a *App) attachedCount() int {
	n := 0
	a.eachCell(func(c *cell) {
		if p := c.names.phoneSet.whereis(); p != nil {
			n += p.Count()
		}
	})
	return n
}

// homeCell is the cell of a phone attached without naming one.
func (a *App) homeCell(m hlr.MSISDN) int {
	if a.cluster == nil {
		return 0
	}
	return a.cluster.HomeCell(m)
}

// located adds the phone's cell and node in cluster mode.
func (a *App) located(st phonefsm.Status, c *cell) phonefsm.Status {
	if a.cluster != nil {
		id := c.id
		st.Cell, st.Node = &id, a.cfg.Node
	}
	return st
}

// Act performs a user action on a phone. A new call is shed when its
// record could not be kept (recordsForPhones.Reserve); releasing actions
// never are.
func (a *App) Act(ctx context.Context, m hlr.MSISDN, act phonefsm.Action, to hlr.MSISDN) (phonefsm.Status, phonefsm.Commit, error) {
	c, p, err := a.phones(ctx, m)
	if err != nil {
		return phonefsm.Status{}, phonefsm.Commit{}, err
	}
	if act == phonefsm.ActCall && a.cluster != nil && p.Idle(m) {
		// The controller reads the HLR location from this node's copy,
		// which a callee attached on another node a moment ago may not
		// have reached: the lookup asks the cluster and fills the copy.
		// A phone already in a call is answered by its controller
		// (409 busy), not refused for now: a client trying again a
		// call whose answer it missed learns that it is calling, and can
		// hang up, which a handoff waits for.
		at, ok, err := a.cluster.PhoneCell(ctx, to)
		if err != nil {
			return phonefsm.Status{}, phonefsm.Commit{}, err
		}
		if c.handingOff.Load() || ok && a.cluster.handingOff(at) {
			return phonefsm.Status{}, phonefsm.Commit{}, errHandingOff
		}
		if node, _ := a.cluster.CellOwner(at); ok && node == "" {
			return phonefsm.Status{}, phonefsm.Commit{}, errCalleeUnowned
		}
	}
	st, commit, err := p.Act(ctx, m, act, to)
	return a.located(st, c), commit, err
}

// Detach ends a phone's call (for its peer) and detaches it; in cluster
// mode its location goes once its controller has.
func (a *App) Detach(ctx context.Context, m hlr.MSISDN) (phonefsm.Commit, error) {
	_, p, err := a.phones(ctx, m)
	if err != nil {
		return phonefsm.Commit{}, err
	}
	commit, err := p.Detach(ctx, m)
	if err == nil && a.cluster != nil {
		err = a.cluster.detached(ctx, m, commit)
	}
	return commit, err
}

// phoneSets is the node's phones as the API reads them: a phone by its
// number, whatever its cell, and a cell's list.
type phoneSets struct{ a *App }

func (s phoneSets) Get(m hlr.MSISDN) (phonefsm.Status, error) {
	c, p, err := s.a.phones(context.Background(), m)
	if err != nil {
		return phonefsm.Status{}, err
	}
	st, err := p.Get(m)
	return s.a.located(st, c), err
}

func (s phoneSets) List(cell int, after hlr.MSISDN, limit int, state *phonefsm.State) ([]phonefsm.Status, hlr.MSISDN) {
	c, err := s.a.cell(cell)
	if err != nil {
		return nil, 0
	}
	p, err := c.phoneSet()
	if err != nil {
		return nil, 0
	}
	page, resume := p.List(after, limit, state)
	for i := range page {
		page[i] = s.a.located(page[i], c)
	}
	return page, resume
}

// phoneDetached is told when a controller stopped normally.
func (a *App) phoneDetached(m hlr.MSISDN) {
	a.hub.Remove(m.String())
	a.subs.Touch(m, false, time.Now())
}

// phoneProcessByMSISDN finds phone:MSISDN for introspection.
func (a *App) phoneProcessByMSISDN(id string) (Process, error) {
	m, err := hlr.ParseMSISDN(id)
	if err != nil {
		return nil, errNoProcess
	}
	_, p, err := a.phones(context.Background(), m)
	if err != nil {
		return nil, errNoProcess
	}
	c, err := p.Lookup(m)
	if err != nil {
		return nil, errNoProcess
	}
	return c, nil
}

// freqForPhones gives controllers their cell's current allocator; the
// caller of a call owns its frequency.
type freqForPhones struct{ c *cell }

func (f freqForPhones) Allocate(owner string) (int, error) {
	alloc, err := f.c.allocator()
	if err != nil {
		return 0, err
	}
	al, err := alloc.Allocate(owner, 0)
	return al.Frequency, err
}

func (f freqForPhones) Release(owner string, fr int) {
	if alloc, err := f.c.allocator(); err == nil {
		_ = alloc.Deallocate(owner, fr)
	}
}

// recordsForPhones hands finished calls to the batching writer.
type recordsForPhones struct {
	phonefsm.NoNotes
	a *App
}

// Reserve keeps room for a new call's record. New calls are shed while
// the database cannot be written (by any writer), and when the queue is
// full, which is load regulation shedding the call.
func (r recordsForPhones) Reserve() error {
	if r.a.storage.down.Load() {
		return fmt.Errorf("%w: new calls are refused until it can", store.ErrStorage)
	}
	err := r.a.writer.Reserve()
	if errors.Is(err, calls.ErrOverloaded) {
		r.a.shed()
	}
	return err
}

// Record queues rec in its reserved place. It can fail only once the
// writer is closed, after the phones stopped, or for a record the table
// would refuse: a bug, logged at most once a second, not once per record.
func (r recordsForPhones) Record(rec calls.Record) calls.Ticket {
	t, err := r.a.writer.Append(rec)
	if err != nil {
		r.a.lostLog.Error().Err(err).Stringer("caller", rec.Caller).Stringer("callee", rec.Callee).Msg("call record lost")
	}
	return t
}

func (r recordsForPhones) Wait(ctx context.Context, t calls.Ticket) error {
	return r.a.writer.Wait(ctx, t)
}

// phoneActions lets an auto device act on its own phone, whichever
// controller incarnation serves it now.
type phoneActions struct {
	a *App
	m hlr.MSISDN
}

func (p phoneActions) Act(ctx context.Context, action string) error {
	act, ok := phonefsm.ParseAction(action)
	if !ok {
		return phonefsm.ErrInvalidState
	}
	_, c, err := p.a.Act(ctx, p.m, act, 0)
	if err != nil {
		return err
	}
	return c.Wait(ctx)
}

// seeded is the random source of an auto device: reproducible when a seed
// is given.
func seeded(seed uint64) rand.Source {
	if seed == 0 {
		return nil
	}
	return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
}

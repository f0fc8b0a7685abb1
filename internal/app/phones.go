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

// Phones is the current phone set.
func (a *App) Phones() (*phonefsm.Phones, error) {
	c, err := a.cell(0)
	if err != nil {
		return nil, err
	}
	return c.phoneSet()
}

// Attach provisions (if allowed) and attaches a phone.
func (a *App) Attach(ctx context.Context, m hlr.MSISDN, spec hw.DeviceSpec) (phonefsm.Status, error) {
	p, err := a.Phones()
	if err != nil {
		return phonefsm.Status{}, err
	}
	if p.Count() >= a.cfg.MaxPhones {
		a.shed()
		a.phoneMetrics.AttachFailed(phonefsm.ErrOverloaded)
		return phonefsm.Status{}, fmt.Errorf("%w: %d phones attached, the most this service takes", phonefsm.ErrOverloaded, a.cfg.MaxPhones)
	}
	if err := a.subs.EnsureProvisioned(ctx, m, a.cfg.AutoProvision); err != nil {
		a.phoneMetrics.AttachFailed(err)
		return phonefsm.Status{}, err
	}
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
	if err != nil {
		if !errors.Is(err, hlr.ErrAlreadyAttached) {
			a.hub.Remove(m.String())
		}
		return phonefsm.Status{}, err
	}
	a.subs.Touch(m, true, time.Now())
	return st, nil
}

// Act performs a user action on a phone. A new call is shed when its
// record could not be kept (recordsForPhones.Reserve); releasing actions
// never are.
func (a *App) Act(ctx context.Context, m hlr.MSISDN, act phonefsm.Action, to hlr.MSISDN) (phonefsm.Status, phonefsm.Commit, error) {
	p, err := a.Phones()
	if err != nil {
		return phonefsm.Status{}, phonefsm.Commit{}, err
	}
	return p.Act(ctx, m, act, to)
}

// Detach ends a phone's call (for its peer) and detaches it.
func (a *App) Detach(ctx context.Context, m hlr.MSISDN) (phonefsm.Commit, error) {
	p, err := a.Phones()
	if err != nil {
		return phonefsm.Commit{}, err
	}
	return p.Detach(ctx, m)
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
	p, err := a.Phones()
	if err != nil {
		return nil, err
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
type recordsForPhones struct{ a *App }

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
		r.a.lostLog.Error().Err(err).Str("caller", rec.Caller).Str("callee", rec.Callee).Msg("call record lost")
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

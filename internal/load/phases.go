package load

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// phaseTraffic is the phase in which call attempts are made.
const phaseTraffic = "traffic"

// phaseValue is the run's current phase, for the progress display.
type phaseValue struct{ v atomic.Value }

func (p *phaseValue) set(s string) { p.v.Store(s) }

func (p *phaseValue) get() string {
	s, _ := p.v.Load().(string)
	return s
}

func phonePath(msisdn string) string { return "/api/v1/phones/" + msisdn }

// setupConcurrency bounds the attaches and detaches at once: the server's
// gate works on 16 requests per CPU and sheds those that wait past 20 ms
// (503), and a phone whose attach is shed is left out of the run. The
// setup is not what a run measures.
const setupConcurrency = 32

// forEach runs f on every phone of phones, with as many at once as the
// driver may have requests in flight (at most setupConcurrency), and
// returns when all are done or ctx ended.
func (d *driver) forEach(ctx context.Context, phones []*phone, f func(*phone)) {
	work := make(chan *phone)
	var wg sync.WaitGroup
	for range min(d.cfg.Concurrency, setupConcurrency, len(phones)) {
		wg.Add(1)
		if !d.g.Go(func() {
			defer wg.Done()
			for ph := range work {
				f(ph)
			}
		}) {
			wg.Done()
		}
	}
feed:
	for _, ph := range phones {
		select {
		case work <- ph:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

// attachAll attaches the population as manual phones (attachBody): the
// driver is their user. A phone an earlier, killed run left attached is
// detached and attached again, so it starts idle. Phones that fail to
// attach are left out (their errors are counted); fewer than two is the
// end of the run.
func (d *driver) attachAll(ctx context.Context) error {
	d.forEach(ctx, d.pop.phones, func(ph *phone) {
		a := d.c.act(ctx, d.target(ph), opAttach, time.Now(), http.MethodPost, "/api/v1/phones", d.attachBody(ph))
		if a.code == "already_attached" {
			d.c.act(ctx, d.target(ph), opDetach, time.Now(), http.MethodDelete, phonePath(ph.msisdn), nil)
			a = d.c.act(ctx, d.target(ph), opAttach, time.Now(), http.MethodPost, "/api/v1/phones", d.attachBody(ph))
		}
		if a.ok() {
			d.mu.Lock()
			d.pop.attach(ph)
			d.mu.Unlock()
		}
	})
	d.mu.Lock()
	n := len(d.pop.attached)
	d.mu.Unlock()
	if n < 2 && ctx.Err() == nil {
		d.st.mu.Lock()
		defer d.st.mu.Unlock()
		return fmt.Errorf("attach: %d of %d phones attached (errors: %s)", n, len(d.pop.phones), counts(d.st.codes))
	}
	return nil
}

func (d *driver) attachedAny() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pop.attached) > 0
}

// detachAll detaches every phone the driver attached. It runs after
// stopActions, so nothing else acts on the phones any more.
func (d *driver) detachAll(ctx context.Context) {
	d.mu.Lock()
	var phones []*phone
	for _, ph := range d.pop.attached {
		if ph.state != stAbsent {
			phones = append(phones, ph)
		}
	}
	d.mu.Unlock()
	d.forEach(ctx, phones, func(ph *phone) {
		a := d.c.act(ctx, d.target(ph), opDetach, time.Now(), http.MethodDelete, phonePath(ph.msisdn), nil)
		if a.ok() || a.code == "not_attached" {
			d.mu.Lock()
			d.pop.set(ph, stAbsent, false, "")
			d.mu.Unlock()
		}
	})
}

// traffic makes the call attempts: on the open model's schedule, or as
// fast as the closed model's workers find idle phones.
func (d *driver) traffic(ctx context.Context) {
	if d.cfg.openModel() {
		d.open(ctx)
		return
	}
	if d.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.cfg.Duration)
		defer cancel()
	}
	d.closed(ctx)
}

// open sends each attempt at its intended time, whatever happened to the
// ones before, from a caller idle at that time. With no idle phone the
// attempt is skipped and counted: the population, not the server, is the
// limit then.
func (d *driver) open(ctx context.Context) {
	sched := newSchedule(d.cfg.Rate, d.cfg.Ramp, d.cfg.Seed)
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := 0; d.cfg.Duration > 0 || n < d.cfg.Calls; n++ {
		off := sched.next()
		if d.cfg.Duration > 0 && off >= d.cfg.Duration {
			return
		}
		intended := start.Add(off)
		if wait := time.Until(intended); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		ph, token := d.reserve()
		if ph == nil {
			d.st.add(&d.st.skipped, 1)
			d.mu.Unlock()
			continue
		}
		d.busy++
		d.mu.Unlock()
		d.goAction(func() { d.dial(d.actx, ph, token, intended) })
	}
}

// closed runs the workers, each dialling from an idle phone as soon as one
// is idle and its previous call request was answered. Workers join one by
// one over the ramp.
func (d *driver) closed(ctx context.Context) {
	left := int64(math.MaxInt64)
	if d.cfg.Duration == 0 {
		left = int64(d.cfg.Calls)
	}
	var wg sync.WaitGroup
	for i := range d.cfg.Workers {
		wg.Add(1)
		if !d.g.Go(func() {
			defer wg.Done()
			d.worker(ctx, workerStart(i, d.cfg.Workers, d.cfg.Ramp), &left)
		}) {
			wg.Done()
		}
	}
	wg.Wait()
}

func (d *driver) worker(ctx context.Context, after time.Duration, left *int64) {
	t := time.NewTimer(after)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return
	}
	for ctx.Err() == nil {
		d.mu.Lock()
		if *left <= 0 {
			d.mu.Unlock()
			return
		}
		ph, token := d.reserve()
		if ph == nil {
			wake := d.pop.wake
			d.mu.Unlock()
			select {
			case <-wake:
			case <-ctx.Done():
			}
			continue
		}
		*left--
		d.busy++
		d.mu.Unlock()
		d.dial(d.actx, ph, token, time.Now())
		d.actionDone()
	}
}

// startWorkers starts the goroutines that send the actions of the open
// model and of the users' timers, as many as requests may be in flight,
// until ctx ends. Long-lived workers rather than a goroutine per action: a
// new goroutine grows its stack anew through the HTTP client on every
// request, and was a tenth of the driver's CPU.
func (d *driver) startWorkers(ctx context.Context) {
	d.work = make(chan func(), d.cfg.Concurrency)
	d.workersDone = ctx.Done()
	for range d.cfg.Concurrency {
		d.g.Go(func() {
			for {
				select {
				case f := <-d.work:
					f()
				case <-ctx.Done():
					return
				}
			}
		})
	}
}

// goAction has a worker run an action counted in d.busy. It waits while
// every worker is busy and the queue is full: the action is late then,
// which its lag shows.
func (d *driver) goAction(f func()) {
	select {
	case d.work <- func() { f(); d.actionDone() }:
	case <-d.workersDone:
		d.actionDone()
	}
}

func (d *driver) actionDone() {
	d.mu.Lock()
	d.busy--
	d.pop.notify()
	d.mu.Unlock()
}

// drainWait bounds the wait for the calls in progress to end by
// themselves: the longest answer and talk, plus a resync of a lost reply.
func (d *driver) drainWait() time.Duration {
	return d.callWait() + d.talkWait() + 2*d.cfg.Timeout
}

// drain waits until every call is over and no action is on its way, or
// the bound, or ctx.
func (d *driver) drain(ctx context.Context) {
	bound := time.NewTimer(d.drainWait())
	defer bound.Stop()
	d.waitQuiet(ctx, bound.C)
}

// waitQuiet waits until no phone is in a call and no action is on its
// way, or ctx ends, or timeout fires.
func (d *driver) waitQuiet(ctx context.Context, timeout <-chan time.Time) bool {
	for {
		d.mu.Lock()
		quiet := d.busy == 0 && (d.pop.active == 0 || d.stopping)
		wake := d.pop.wake
		d.mu.Unlock()
		if quiet {
			return true
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		case <-timeout:
			return false
		}
	}
}

// stopActions plans nothing more, lets the actions on their way finish
// within a request's timeout, then abandons the rest. Attempts still
// undecided are counted as unfinished.
func (d *driver) stopActions() {
	d.mu.Lock()
	d.stopping = true
	for _, ph := range d.pop.phones {
		if ph.timer != nil {
			ph.timer.Stop()
			ph.timer = nil
		}
	}
	d.mu.Unlock()
	bound := time.NewTimer(d.cfg.Timeout + time.Second)
	defer bound.Stop()
	d.waitQuiet(d.dead, bound.C)
	d.abandon()
	d.mu.Lock()
	for _, ph := range d.pop.phones {
		d.finish(ph, outUnfinished)
	}
	d.mu.Unlock()
}

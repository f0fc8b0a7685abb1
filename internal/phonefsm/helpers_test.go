package phonefsm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// freqs adapts the real allocator to what controllers need.
type freqs struct{ a *frequency.Allocator }

func (f freqs) Allocate(owner string) (int, error) {
	al, err := f.a.Allocate(owner, 0)
	return al.Frequency, err
}

func (f freqs) Release(owner string, fr int) { _ = f.a.Deallocate(owner, fr) }

// records collects call records; each gets the ticket of its position
// (from 1). Reserve and Wait fail with reserveErr and waitErr when set,
// and Wait notes the tickets it was asked for.
type records struct {
	NoNotes
	mu         sync.Mutex
	list       []calls.Record
	waited     []calls.Ticket
	reserveErr error
	waitErr    error
}

func (r *records) Reserve() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reserveErr
}

func (r *records) Record(rec calls.Record) calls.Ticket {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rec)
	return calls.Ticket(len(r.list))
}

func (r *records) Wait(_ context.Context, t calls.Ticket) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waited = append(r.waited, t)
	return r.waitErr
}

// waits are the tickets Wait was asked for since the last call.
func (r *records) waits() []calls.Ticket {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.waited
	r.waited = nil
	return w
}

func (r *records) all() []calls.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

// alarms counts no_frequency set/clear events from the allocator.
type alarms struct {
	mu         sync.Mutex
	set, clear int
}

func (a *alarms) Notify(e overload.Event) {
	if e.ID != "no_frequency" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e.Kind {
	case overload.SetAlarm:
		a.set++
	case overload.ClearAlarm:
		a.clear++
	}
}

func (a *alarms) balance() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.set - a.clear
}

// world is a phones supervisor with its phones, a real allocator and a
// real device hub.
type world struct {
	t      testing.TB
	sup    *sup.Supervisor
	phones *Phones
	// A split world's phones are in two cells on two "nodes" joined by an
	// in-process network: phone 1 in cell 0, the others in cell 1.
	split   map[hlr.MSISDN]*Phones
	alloc   *frequency.Allocator
	hub     *hw.Hub
	records *records
	alarms  *alarms
	net     *fakeNet // a split world's
}

func newWorld(t testing.TB, pool []int) *world {
	t.Helper()
	w := &world{t: t, hub: hw.NewHub(hw.HubConfig{}), records: &records{}, alarms: &alarms{}}
	w.alloc = frequency.New(frequency.Config{Pool: pool, Notifier: w.alarms, Log: zerolog.Nop()})
	if _, err := w.alloc.Start(context.Background(), func(error) {}); err != nil {
		t.Fatal(err)
	}
	s, err := sup.Start(context.Background(), sup.Spec{Name: "phones", Strategy: sup.SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 3600,
		Template: sup.ChildSpec{Name: "phone", Restart: sup.Transient, Shutdown: 2 * time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.sup = s
	w.phones = New(s, Config{Freq: freqs{w.alloc}, Records: w.records, Log: zerolog.Nop(),
		OnDetach: func(m hlr.MSISDN) { w.hub.Remove(m.String()) }})
	t.Cleanup(func() {
		s.Stop()
		<-s.Done()
		w.alloc.Stop()
	})
	return w
}

// newSplitWorld is a world whose phone 1 is on one node and the others
// on another: every event between 1 and them goes through the exchanges
// and the network, as between cluster nodes.
func newSplitWorld(t testing.TB, pool []int) *world {
	t.Helper()
	w := newWorld(t, pool)
	net := newFakeNet(t)
	w.net = net
	w.split = map[hlr.MSISDN]*Phones{}
	for cell, numbers := range [][]string{{"1"}, {"2", "3", "4"}} {
		s, err := sup.Start(context.Background(), sup.Spec{Name: "phones", Strategy: sup.SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 3600,
			Template: sup.ChildSpec{Name: "phone", Restart: sup.Transient, Shutdown: 2 * time.Second}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ex := net.exchange(fmt.Sprint("n", cell+1))
		p := New(s, Config{Freq: freqs{w.alloc}, Records: w.records, Log: zerolog.Nop(),
			OnDetach: func(m hlr.MSISDN) { w.hub.Remove(m.String()) }, Exchange: ex, Cell: cell, Epoch: 1})
		net.own(cell, ex)
		for _, n := range numbers {
			m := w.m(n)
			w.split[m] = p
			net.locate(m, cell)
		}
		t.Cleanup(func() {
			s.Stop()
			<-s.Done()
		})
	}
	return w
}

// set is the phone set phone m is in.
func (w *world) set(m hlr.MSISDN) *Phones {
	if p := w.split[m]; p != nil {
		return p
	}
	return w.phones
}

// fakeNet carries envelopes between exchanges on a goroutine of its own,
// asynchronously, as NATS does between nodes.
type fakeNet struct {
	mu       sync.Mutex
	where    map[hlr.MSISDN]int
	owners   map[int]*Exchange
	nodes    map[string]*Exchange // by name, where acks go
	q        chan Envelope
	protocol int
	sent     map[[2]bool]int // envelopes sent, by (version 2, has SentAt)
	transits int
}

func newFakeNet(t testing.TB) *fakeNet {
	n := &fakeNet{where: map[hlr.MSISDN]int{}, owners: map[int]*Exchange{}, nodes: map[string]*Exchange{}, q: make(chan Envelope, 1024),
		protocol: EnvelopeV1, sent: map[[2]bool]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for env := range n.q {
			n.mu.Lock()
			ex := n.nodes[env.Dest()]
			if ex == nil {
				ex = n.owners[int(env.To.Cell)]
			}
			n.mu.Unlock()
			if ex != nil {
				ex.Receive(env)
			}
		}
	}()
	t.Cleanup(func() { close(n.q); <-done })
	return n
}

// exchange is the exchange of node on n.
func (n *fakeNet) exchange(node string) *Exchange {
	ex := NewExchange(node, n, nil, zerolog.Nop())
	n.mu.Lock()
	n.nodes[node] = ex
	n.mu.Unlock()
	return ex
}

func (n *fakeNet) own(cell int, ex *Exchange) {
	n.mu.Lock()
	n.owners[cell] = ex
	n.mu.Unlock()
}

func (n *fakeNet) locate(m hlr.MSISDN, cell int) {
	n.mu.Lock()
	n.where[m] = cell
	n.mu.Unlock()
}

func (n *fakeNet) Locate(m hlr.MSISDN) (int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.where[m]
	return c, ok
}

func (n *fakeNet) CellOwner(cell int) (string, uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ex := n.owners[cell]; ex != nil {
		return ex.node, 1
	}
	return "", 0
}

func (n *fakeNet) Protocol() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.protocol
}

func (n *fakeNet) Transit(time.Duration) {
	n.mu.Lock()
	n.transits++
	n.mu.Unlock()
}

func (n *fakeNet) Send(env Envelope) bool {
	n.mu.Lock()
	n.sent[[2]bool{env.V == EnvelopeV2, env.SentAt != 0}]++
	n.mu.Unlock()
	select {
	case n.q <- env:
		return true
	default:
		return false
	}
}

func (w *world) m(s string) hlr.MSISDN {
	m, err := hlr.ParseMSISDN(s)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

func (w *world) attach(numbers ...string) {
	for _, n := range numbers {
		if _, err := w.set(w.m(n)).Attach(context.Background(), w.m(n), w.hub.Device(n)); err != nil {
			w.t.Fatalf("attach %s: %v", n, err)
		}
	}
}

func (w *world) act(who string, a Action, to string) error {
	var callee hlr.MSISDN
	if to != "" {
		callee = w.m(to)
	}
	return w.actOn(w.m(who), a, callee)
}

// actOn acts on m and waits for the action's commit, as the service does
// before it answers.
func (w *world) actOn(m hlr.MSISDN, a Action, to hlr.MSISDN) error {
	_, c, err := w.set(m).Act(context.Background(), m, a, to)
	if err != nil {
		return err
	}
	return c.Wait(context.Background())
}

// detach detaches who and waits for the commit of its call's record.
func (w *world) detach(who string) error {
	c, err := w.set(w.m(who)).Detach(context.Background(), w.m(who))
	if err != nil {
		return err
	}
	return c.Wait(context.Background())
}

func (w *world) mustAct(who string, a Action, to string) {
	w.t.Helper()
	if err := w.act(who, a, to); err != nil {
		w.t.Fatalf("%s %s %s: %v", who, a, to, err)
	}
}

func (w *world) state(who string) string {
	st, err := w.set(w.m(who)).Get(w.m(who))
	if err != nil {
		return "detached"
	}
	return st.State
}

// replies are the reply types a phone's device got, as strings ("inbound:123").
func (w *world) replies(who string) []string {
	items, _, err := w.hub.Events(context.Background(), who, 0, 0)
	if err != nil {
		w.t.Fatalf("events of %s: %v", who, err)
	}
	var out []string
	for _, r := range items {
		s := r.Type.String()
		if r.From != "" {
			s += ":" + r.From
		}
		out = append(out, s)
	}
	return out
}

func (w *world) waitReplies(who string, want ...string) {
	w.t.Helper()
	testutil.Eventually(w.t, 5*time.Second, who+" replies "+joined(want), func() bool {
		return slices.Equal(w.replies(who), want)
	})
}

func (w *world) waitState(who, state string) {
	w.t.Helper()
	testutil.Eventually(w.t, 5*time.Second, who+" in "+state, func() bool { return w.state(who) == state })
}

func (w *world) allocated() int { return len(w.alloc.View().Allocated) }

func joined(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

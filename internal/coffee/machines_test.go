package coffee

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

func sendTo(t *testing.T, ms *Machines, id string, ev Event) {
	t.Helper()
	if _, err := ms.Send(t.Context(), id, ev); err != nil {
		t.Fatalf("Send(%s, %+v): %v", id, ev, err)
	}
}

func newMachines(t *testing.T) (*Machines, *sup.Supervisor) {
	t.Helper()
	s := startSup(t)
	return NewMachines(s, Options{}), s
}

func TestMachinesCreateAndLookUp(t *testing.T) {
	ms, s := newMachines(t)
	st, err := ms.Create(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "m1" || st.State != Selection || st.Display != "Make Your Selection" {
		t.Fatalf("created %+v", st)
	}
	if _, err := ms.Create(t.Context(), "m2", 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := ms.Create(t.Context(), "", 0); st.ID != "m3" {
		t.Fatalf("generated %q, want m3 (m2 is taken)", st.ID)
	}
	if _, err := ms.Create(t.Context(), "lobby_2nd-floor", 0); err != nil {
		t.Fatal(err)
	}
	if n := s.CountChildren(); n != 4 {
		t.Fatalf("%d supervised children, want 4", n)
	}

	st, err = ms.Send(t.Context(), "m2", Event{Kind: "select", Drink: "tea"})
	if err != nil || st.ID != "m2" || st.State != Payment {
		t.Fatalf("Send: %+v, %v", st, err)
	}
	if st, err := ms.Status("m2"); err != nil || st.State != Payment {
		t.Fatalf("Status: %+v, %v", st, err)
	}
	hwOps, err := ms.Hardware("m2")
	if err != nil || len(hwOps) != 3 || hwOps[2].Arg != "Please pay:100" {
		t.Fatalf("Hardware: %+v, %v", hwOps, err)
	}
	m, err := ms.Get("m2")
	if err != nil || m.Inspect().Name != "coffee:m2" {
		t.Fatalf("Get: %v, %v", m, err)
	}
	var ids []string
	for _, st := range ms.List() {
		ids = append(ids, st.ID)
	}
	if got := strings.Join(ids, ","); got != "lobby_2nd-floor,m1,m2,m3" {
		t.Fatalf("List ids %s", got)
	}
}

func TestMachinesRefuseBadRequests(t *testing.T) {
	ms, s := newMachines(t)
	if _, err := ms.Create(t.Context(), "m1", 0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a b", "m/1", "café", strings.Repeat("x", 65), "../m1"} {
		_, err := ms.Create(t.Context(), id, 0)
		wantCode(t, err, "invalid_request")
	}
	if _, err := ms.Create(t.Context(), strings.Repeat("x", 64), 0); err != nil {
		t.Fatalf("64-character id: %v", err)
	}
	_, err := ms.Create(t.Context(), "m1", 0)
	wantCode(t, err, "already_exists")
	_, err = ms.Create(t.Context(), "m9", -1)
	wantCode(t, err, "invalid_request")

	_, err = ms.Get("nope")
	wantCode(t, err, "not_found")
	_, err = ms.Status("nope")
	wantCode(t, err, "not_found")
	_, err = ms.Hardware("nope")
	wantCode(t, err, "not_found")
	_, err = ms.Send(t.Context(), "nope", Event{Kind: "cancel"})
	wantCode(t, err, "not_found")
	wantCode(t, ms.Remove(t.Context(), "nope"), "not_found")

	// Validation comes before the machine: bad input changes nothing.
	_, err = ms.Send(t.Context(), "m1", Event{Kind: "pay", Coin: -1})
	wantCode(t, err, "invalid_coin")
	if hw, _ := ms.Hardware("m1"); len(hw) != 2 {
		t.Fatalf("hardware log after a bad event: %+v", hw)
	}
	if n := s.CountChildren(); n != 2 {
		t.Fatalf("%d supervised children, want 2", n)
	}
}

func TestMachinesPerMachineTimeout(t *testing.T) {
	ms, _ := newMachines(t)
	if _, err := ms.Create(t.Context(), "quick", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.Send(t.Context(), "quick", Event{Kind: "select", Drink: "tea"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the short payment timeout", func() bool {
		st, _ := ms.Status("quick")
		return st.State == Selection
	})
}

// A crash in payment returns the money, then the supervisor restarts the
// machine fresh, on the same hardware, reachable under the same id.
func TestMachinesCrashRestartsFresh(t *testing.T) {
	ms, s := newMachines(t)
	if _, err := ms.Create(t.Context(), "m1", 0); err != nil {
		t.Fatal(err)
	}
	sendTo(t, ms, "m1", Event{Kind: "select", Drink: "cappuccino"})
	sendTo(t, ms, "m1", Event{Kind: "pay", Coin: 100})
	old, _ := ms.Get("m1")
	old.Crash()

	// The supervisor counts the restart once the start has returned,
	// which may be after the new machine is reachable.
	waitFor(t, "the restarted machine", func() bool {
		m, err := ms.Get("m1")
		return err == nil && m != old && s.Tree().Restarts == 1
	})
	st, _ := ms.Status("m1")
	if st.State != Selection || st.Display != "Make Your Selection" || st.Paid != nil {
		t.Fatalf("restarted as %+v", st)
	}
	hwOps, _ := ms.Hardware("m1")
	wantOps(t, render(hwOps), []string{
		"reboot", "display Make Your Selection",
		"display Please pay:150", "display Please pay:50",
		"return_change 100",
		"reboot", "display Make Your Selection",
	})
	if n := s.CountChildren(); n != 1 {
		t.Fatalf("%d supervised children, want 1", n)
	}
	if st, err := ms.Send(t.Context(), "m1", Event{Kind: "select", Drink: "tea"}); err != nil || st.State != Payment {
		t.Fatalf("restarted machine: %+v, %v", st, err)
	}
	if tree := s.Tree(); tree.Restarts != 1 {
		t.Fatalf("supervisor counted %d restarts, want 1", tree.Restarts)
	}
}

// Removing a machine stops it normally, money first, and it stays down.
func TestMachinesRemoveRefundsAndDoesNotRestart(t *testing.T) {
	ms, s := newMachines(t)
	if _, err := ms.Create(t.Context(), "m1", 0); err != nil {
		t.Fatal(err)
	}
	sendTo(t, ms, "m1", Event{Kind: "select", Drink: "tea"})
	sendTo(t, ms, "m1", Event{Kind: "pay", Coin: 50})
	dev := ms.byID["m1"].dev
	m, _ := ms.Get("m1")

	if err := ms.Remove(t.Context(), "m1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.mb.Done():
	default:
		t.Fatal("Remove returned before the machine ended")
	}
	got := render(dev.Ops())
	if last := got[len(got)-1]; last != "return_change 50" {
		t.Fatalf("last hardware call %q, want the refund", last)
	}
	if n := s.CountChildren(); n != 0 {
		t.Fatalf("%d supervised children after Remove", n)
	}
	_, err := ms.Get("m1")
	wantCode(t, err, "not_found")
	wantCode(t, ms.Remove(t.Context(), "m1"), "not_found")
	if tree := s.Tree(); tree.Restarts != 0 {
		t.Fatalf("supervisor restarted %d children", tree.Restarts)
	}
	// The id is free again, on new hardware.
	if _, err := ms.Create(t.Context(), "m1", 0); err != nil {
		t.Fatal(err)
	}
	if hw, _ := ms.Hardware("m1"); len(hw) != 2 {
		t.Fatalf("new machine's hardware log: %+v", hw)
	}
}

// rebootGate holds every reboot after the first until the gate opens, so a
// test can act while a restart is midway.
type rebootGate struct {
	*hw.CoffeeStub
	reboots atomic.Int32
	entered chan struct{}
	gate    chan struct{}
}

func (g *rebootGate) Reboot() {
	if g.reboots.Add(1) > 1 {
		g.entered <- struct{}{}
		<-g.gate
	}
	g.CoffeeStub.Reboot()
}

// A machine removed between its crash and its restart does not come back.
func TestMachinesRemoveDuringRestart(t *testing.T) {
	ms, s := newMachines(t)
	g := &rebootGate{CoffeeStub: hw.NewCoffeeStub(), entered: make(chan struct{}, 1), gate: make(chan struct{})}
	ms.newHW = func() recordingHW { return g }
	if _, err := ms.Create(t.Context(), "m1", 0); err != nil {
		t.Fatal(err)
	}
	m, _ := ms.Get("m1")
	m.Crash()
	<-g.entered // the restart is starting, its machine not yet running

	if err := ms.Remove(t.Context(), "m1"); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	waitFor(t, "the restarted machine to stop", func() bool { return s.CountChildren() == 0 && s.Tree().Restarts > 0 })
	if tree := s.Tree(); tree.Restarts != 1 {
		t.Fatalf("supervisor counted %d restarts, want the crash's only", tree.Restarts)
	}
	_, err := ms.Get("m1")
	wantCode(t, err, "not_found")
}

func TestMachinesAttachForgetsTheOldSupervisorsMachines(t *testing.T) {
	ms, old := newMachines(t)
	if _, err := ms.Create(t.Context(), "m1", 0); err != nil {
		t.Fatal(err)
	}
	old.Stop()
	<-old.Done()
	ms.Attach(startSup(t))
	_, err := ms.Get("m1")
	wantCode(t, err, "not_found")
	if _, err := ms.Create(t.Context(), "m1", 0); err != nil {
		t.Fatal(err)
	}
}

func TestMachinesWithoutSupervisor(t *testing.T) {
	ms := NewMachines(nil, Options{})
	_, err := ms.Create(t.Context(), "", 0)
	wantCode(t, err, "unavailable")
}

package coffee

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

func TestStopInPaymentRefunds(t *testing.T) {
	s := startMachine(t, Options{})
	send(t, s.m, Event{Kind: "select", Drink: "americano"})
	send(t, s.m, Event{Kind: "pay", Coin: 120})
	s.m.Stop()
	if err := s.waitExit(t); !sup.IsNormal(err) {
		t.Fatalf("exit reason %v, want a normal exit", err)
	}
	wantOps(t, <-s.opsAtExit, []string{
		"reboot", "display Make Your Selection",
		"display Please pay:150", "display Please pay:30",
		"return_change 120",
	})
}

func TestStopOutsidePaymentReturnsNothing(t *testing.T) {
	s := startMachine(t, Options{})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "pay", Coin: 100})
	log := ops(s.stub)
	s.m.Stop()
	s.waitExit(t)
	wantOps(t, ops(s.stub), log)
}

// The crash is reported only after the money was returned.
func TestCrashInPaymentRefundsBeforeExit(t *testing.T) {
	s := startMachine(t, Options{})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "pay", Coin: 60})
	s.m.Crash()
	err := s.waitExit(t)
	var pe *sup.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("exit reason %v, want a *sup.PanicError", err)
	}
	wantOps(t, <-s.opsAtExit, []string{
		"reboot", "display Make Your Selection",
		"display Please pay:100", "display Please pay:40",
		"return_change 60",
	})
}

func TestSendToEndedMachine(t *testing.T) {
	s := startMachine(t, Options{})
	s.m.Stop()
	s.waitExit(t)
	_, err := s.m.Send(t.Context(), Event{Kind: "cancel"})
	wantCode(t, err, "unavailable")
}

func TestBadInputChangesNothing(t *testing.T) {
	cases := []struct {
		ev   Event
		code string
	}{
		{Event{Kind: "select", Drink: "mocha"}, "unknown_drink"},
		{Event{Kind: "select"}, "unknown_drink"},
		{Event{Kind: "pay", Coin: 0}, "invalid_coin"},
		{Event{Kind: "pay", Coin: -50}, "invalid_coin"},
		{Event{Kind: "dance"}, "unknown_event"},
		{Event{}, "unknown_event"},
		{Event{Kind: "Cancel"}, "unknown_event"},
	}
	s := startMachine(t, Options{})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	before := send(t, s.m, Event{Kind: "pay", Coin: 10})
	log := ops(s.stub)
	in := s.m.Inspect().MessagesIn
	for _, c := range cases {
		_, err := s.m.Send(t.Context(), c.ev)
		wantCode(t, err, c.code)
	}
	if after := s.m.Status(); !sameStatus(before, after) {
		t.Fatalf("status changed from %+v to %+v", before, after)
	}
	wantOps(t, ops(s.stub), log)
	if got := s.m.Inspect().MessagesIn; got != in {
		t.Fatalf("the machine handled %d bad events", got-in)
	}
}

// gatedHW holds the machine inside a Display until the test opens the gate.
type gatedHW struct {
	*hw.CoffeeStub
	gate    chan struct{}
	entered chan struct{}
}

func (g gatedHW) Display(text string) {
	if strings.HasPrefix(text, "Please pay") {
		g.entered <- struct{}{}
		<-g.gate
	}
	g.CoffeeStub.Display(text)
}

func TestFullMailboxSheds(t *testing.T) {
	dev := gatedHW{hw.NewCoffeeStub(), make(chan struct{}), make(chan struct{}, 1)}
	m, err := Start(t.Context(), "m1", dev, Options{}, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		m.Stop()
		<-m.mb.Done()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	gateOpen := sync.OnceFunc(func() { close(dev.gate) })
	defer gateOpen()

	wg.Go(func() { m.Send(context.Background(), Event{Kind: "select", Drink: "tea"}) })
	<-dev.entered // the machine is busy with the selection
	for range MailboxSize {
		wg.Go(func() { m.Send(context.Background(), Event{Kind: "cancel"}) })
	}
	waitFor(t, "the mailbox to fill", func() bool { return len(m.mb.Receive()) == MailboxSize })

	_, err = m.Send(t.Context(), Event{Kind: "cancel"})
	wantCode(t, err, "overloaded")
	gateOpen()
}

func TestInspect(t *testing.T) {
	s := startMachine(t, Options{})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "pay", Coin: 50})
	info := s.m.Inspect()
	if info.Name != "coffee:m1" || info.State != "payment drink=tea price=100 paid=50" {
		t.Fatalf("Inspect = %+v", info)
	}
	if info.MessagesIn != 2 || info.MessagesOut != 4 { // reboot and 3 displays
		t.Fatalf("messages in %d out %d, want 2 and 4", info.MessagesIn, info.MessagesOut)
	}
	if len(info.Log) != 2 || info.Log[0].Kind != "select" || info.Log[0].Detail != "tea" ||
		info.Log[1].Kind != "pay" || info.Log[1].Detail != "50" {
		t.Fatalf("event log %+v", info.Log)
	}
	s.m.SetTrace(true)
	if !s.m.Inspect().Trace {
		t.Fatal("trace not switched on")
	}
	var _ sup.Inspector = s.m
	var _ sup.Tracer = s.m
	var _ sup.Proc = s.m
}

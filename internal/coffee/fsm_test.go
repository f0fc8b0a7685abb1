package coffee

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The book's session (chapter 6), with the exact hardware log.
func TestBookSession(t *testing.T) {
	s := startMachine(t, Options{})
	wantOps(t, ops(s.stub), []string{"reboot", "display Make Your Selection"})
	if st := s.m.Status(); st.State != Selection || st.Display != "Make Your Selection" {
		t.Fatalf("started as %+v", st)
	}

	steps := []struct {
		ev      Event
		state   State
		display string
		hw      []string // calls this event makes
	}{
		{Event{Kind: "cancel"}, Selection, "Make Your Selection", nil},
		{Event{Kind: "select", Drink: "tea"}, Payment, "Please pay:100", []string{"display Please pay:100"}},
		{Event{Kind: "cancel"}, Selection, "Make Your Selection", []string{"display Make Your Selection", "return_change 0"}},
		{Event{Kind: "select", Drink: "americano"}, Payment, "Please pay:150", []string{"display Please pay:150"}},
		{Event{Kind: "pay", Coin: 100}, Payment, "Please pay:50", []string{"display Please pay:50"}},
		{Event{Kind: "pay", Coin: 100}, Remove, "Remove Drink.", []string{
			"display Preparing Drink.", "return_change 50", "drop_cup", "prepare americano", "display Remove Drink.",
		}},
		{Event{Kind: "pay", Coin: 50}, Remove, "Remove Drink.", []string{"return_change 50"}},
		{Event{Kind: "cup_removed"}, Selection, "Make Your Selection", []string{"display Make Your Selection"}},
	}
	want := ops(s.stub)
	for _, step := range steps {
		st := send(t, s.m, step.ev)
		if st.ID != "m1" || st.State != step.state || st.Display != step.display {
			t.Fatalf("after %+v: %+v, want state %s display %q", step.ev, st, step.state, step.display)
		}
		want = append(want, step.hw...)
		wantOps(t, ops(s.stub), want)
	}
}

func TestStatusShowsPaymentOnlyInPayment(t *testing.T) {
	s := startMachine(t, Options{})
	st := send(t, s.m, Event{Kind: "select", Drink: "espresso"})
	st = send(t, s.m, Event{Kind: "pay", Coin: 20})
	if st.Drink != "espresso" || st.Price == nil || *st.Price != 150 || st.Paid == nil || *st.Paid != 20 {
		t.Fatalf("in payment: %+v", st)
	}
	st = send(t, s.m, Event{Kind: "pay", Coin: 130})
	if st.State != Remove || st.Drink != "" || st.Price != nil || st.Paid != nil {
		t.Fatalf("after paying: %+v", st)
	}
	if got := s.m.Status(); got.State != Remove || got.Display != "Remove Drink." {
		t.Fatalf("Status() = %+v", got)
	}
}

func TestIgnoredEvents(t *testing.T) {
	cases := []struct {
		name  string
		setup []Event
		ev    Event
	}{
		{"cup_removed in selection", nil, Event{Kind: "cup_removed"}},
		{"close in selection", nil, Event{Kind: "close"}},
		{"open in payment", []Event{{Kind: "select", Drink: "tea"}}, Event{Kind: "open"}},
		{"cup_removed in payment", []Event{{Kind: "select", Drink: "tea"}}, Event{Kind: "cup_removed"}},
		{"select in remove", []Event{{Kind: "select", Drink: "tea"}, {Kind: "pay", Coin: 100}}, Event{Kind: "select", Drink: "tea"}},
		{"cancel in remove", []Event{{Kind: "select", Drink: "tea"}, {Kind: "pay", Coin: 100}}, Event{Kind: "cancel"}},
		{"open in remove", []Event{{Kind: "select", Drink: "tea"}, {Kind: "pay", Coin: 100}}, Event{Kind: "open"}},
		{"select in service", []Event{{Kind: "open"}}, Event{Kind: "select", Drink: "tea"}},
		{"cancel in service", []Event{{Kind: "open"}}, Event{Kind: "cancel"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startMachine(t, Options{})
			var before Status
			for _, ev := range c.setup {
				before = send(t, s.m, ev)
			}
			if c.setup == nil {
				before = s.m.Status()
			}
			log := ops(s.stub)
			after := send(t, s.m, c.ev)
			if !sameStatus(before, after) {
				t.Fatalf("status changed from %+v to %+v", before, after)
			}
			wantOps(t, ops(s.stub), log)
		})
	}
}

func sameStatus(a, b Status) bool {
	deref := func(p *int) int {
		if p == nil {
			return -1
		}
		return *p
	}
	return a.ID == b.ID && a.State == b.State && a.Drink == b.Drink && a.Display == b.Display &&
		deref(a.Price) == deref(b.Price) && deref(a.Paid) == deref(b.Paid)
}

func TestCoinReturnedWhenNotTakingPayment(t *testing.T) {
	s := startMachine(t, Options{})
	st := send(t, s.m, Event{Kind: "pay", Coin: 20})
	if st.State != Selection {
		t.Fatalf("state %s", st.State)
	}
	wantOps(t, ops(s.stub), []string{"reboot", "display Make Your Selection", "return_change 20"})
}

func TestService(t *testing.T) {
	s := startMachine(t, Options{})
	if st := send(t, s.m, Event{Kind: "open"}); st.State != Service {
		t.Fatalf("open: state %s", st.State)
	}
	if st := send(t, s.m, Event{Kind: "pay", Coin: 10}); st.State != Service {
		t.Fatalf("pay in service: state %s", st.State)
	}
	st := send(t, s.m, Event{Kind: "close"})
	if st.State != Selection || st.Display != "Make Your Selection" {
		t.Fatalf("close: %+v", st)
	}
	wantOps(t, ops(s.stub), []string{
		"reboot", "display Make Your Selection",
		"return_change 10",
		"reboot", "display Make Your Selection",
	})
	if st := send(t, s.m, Event{Kind: "select", Drink: "tea"}); st.State != Payment {
		t.Fatalf("select after close: state %s", st.State)
	}
}

func TestTimeoutInPaymentRefunds(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startMachine(t, Options{Timeout: 500 * time.Millisecond, Metrics: NewMetrics(reg)}) // long enough for two sends on a loaded machine
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "pay", Coin: 30})
	waitFor(t, "the payment to time out", func() bool { return s.m.Status().State == Selection })
	if st := s.m.Status(); st.Display != "Make Your Selection" {
		t.Fatalf("after timeout: %+v", st)
	}
	wantOps(t, ops(s.stub), []string{
		"reboot", "display Make Your Selection",
		"display Please pay:100", "display Please pay:70",
		"display Make Your Selection", "return_change 30",
	})
	wantMetric(t, reg, 1, "bsc_coffee_refunds_total", "reason", "timeout")
	wantMetric(t, reg, 30, "bsc_coffee_refunded_money_total", "reason", "timeout")
}

// A new selection during payment is ignored: the drink stays and the timer
// fires at the deadline set by the first selection. The book's gen_fsm
// dropped the timeout on ignored events; the spec keeps it.
func TestReselectionKeepsDrinkAndDeadline(t *testing.T) {
	clock := &fakeClock{}
	s := startMachine(t, Options{Timeout: 10 * time.Second, NewTimer: clock.NewTimer})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	if n := clock.Advance(6 * time.Second); n != 0 {
		t.Fatalf("%d timers fired 6 s in", n)
	}
	st := send(t, s.m, Event{Kind: "select", Drink: "cappuccino"})
	if st.State != Payment || st.Drink != "tea" || *st.Price != 100 || st.Display != "Please pay:100" {
		t.Fatalf("after a second selection: %+v", st)
	}
	if n := clock.armed(); n != 1 {
		t.Fatalf("%d timers armed, want the first selection's only", n)
	}
	if n := clock.Advance(4 * time.Second); n != 1 {
		t.Fatalf("%d timers fired at the first selection's deadline, want 1", n)
	}
	waitFor(t, "the timeout to be handled", func() bool { return s.m.Status().State == Selection })
	wantOps(t, ops(s.stub), []string{
		"reboot", "display Make Your Selection",
		"display Please pay:100",
		"display Make Your Selection", "return_change 0",
	})
}

// A coin is activity: the inactivity timer starts again from it.
func TestCoinRestartsTheTimer(t *testing.T) {
	clock := &fakeClock{}
	s := startMachine(t, Options{Timeout: 10 * time.Second, NewTimer: clock.NewTimer})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	clock.Advance(6 * time.Second)
	send(t, s.m, Event{Kind: "pay", Coin: 40})
	if n := clock.Advance(4 * time.Second); n != 0 {
		t.Fatalf("%d timers fired at the selection's deadline after a coin", n)
	}
	if n := clock.Advance(6 * time.Second); n != 1 {
		t.Fatalf("%d timers fired 10 s after the coin, want 1", n)
	}
	waitFor(t, "the timeout to be handled", func() bool { return s.m.Status().State == Selection })
	log := ops(s.stub)
	if last := log[len(log)-1]; last != "return_change 40" {
		t.Fatalf("last hardware call %q, want the refund", last)
	}
}

// Leaving payment stops the timer: a later payment gets its own deadline.
func TestServedDrinkStopsTheTimer(t *testing.T) {
	clock := &fakeClock{}
	s := startMachine(t, Options{Timeout: 10 * time.Second, NewTimer: clock.NewTimer})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "pay", Coin: 100})
	if n := clock.Advance(time.Minute); n != 0 {
		t.Fatalf("%d timers fired after the drink was served", n)
	}
}

package coffee

import (
	"fmt"

	"github.com/bsc-sim/bsc/internal/hw"
)

// State is where a machine is in its cycle.
type State string

const (
	Selection State = "selection"
	Payment   State = "payment"
	Remove    State = "remove"
	Service   State = "service"
)

const welcome = "Make Your Selection"

// timerAction is what a transition asks of the payment timer. It is explicit
// rather than derived from the states because staying in payment may or may
// not re-arm it: a coin does, an ignored event (a new selection) must not.
type timerAction int

const (
	keepTimer timerAction = iota
	armTimer
	stopTimer
)

// fsm is one machine's state and transitions (domain.md §6). It is not safe
// for concurrent use: only the machine's goroutine touches it.
type fsm struct {
	hw      hw.CoffeeHW
	metrics *Metrics

	state   State
	drink   string // payment only
	price   int    // payment only
	paid    int    // payment only
	display string // last text shown
}

// start is the book's init: the hardware reboots into the selection screen.
func (f *fsm) start() {
	f.hw.Reboot()
	f.show(welcome)
	f.enter(Selection)
}

// handle applies a validated event.
func (f *fsm) handle(ev Event) timerAction {
	switch f.state {
	case Selection:
		return f.selection(ev)
	case Payment:
		return f.payment(ev)
	case Remove:
		return f.remove(ev)
	case Service:
		return f.service(ev)
	}
	return keepTimer
}

func (f *fsm) selection(ev Event) timerAction {
	switch ev.Kind {
	case evSelect:
		price, _ := Price(ev.Drink)
		f.show(fmt.Sprintf("Please pay:%d", price))
		f.enter(Payment)
		f.drink, f.price = ev.Drink, price
		return armTimer
	case evPay:
		f.hw.ReturnChange(ev.Coin)
	case evOpen:
		f.enter(Service)
	}
	return keepTimer
}

func (f *fsm) payment(ev Event) timerAction {
	switch ev.Kind {
	case evPay:
		// Compared against what is due rather than summed, so that no coin,
		// however large, can overflow.
		due := f.price - f.paid
		if ev.Coin < due {
			f.paid += ev.Coin
			f.show(fmt.Sprintf("Please pay:%d", due-ev.Coin))
			return armTimer
		}
		drink, price := f.drink, f.price
		f.show("Preparing Drink.")
		f.hw.ReturnChange(ev.Coin - due)
		f.hw.DropCup()
		f.hw.Prepare(drink)
		f.show("Remove Drink.")
		f.metrics.served(drink, price)
		f.enter(Remove)
		return stopTimer
	case evCancel:
		f.giveUp(reasonCancel)
		return stopTimer
	}
	return keepTimer
}

// timeout is the payment timer firing: the same as a cancel.
func (f *fsm) timeout() {
	if f.state == Payment {
		f.giveUp(reasonTimeout)
	}
}

func (f *fsm) remove(ev Event) timerAction {
	switch ev.Kind {
	case evCupRemoved:
		f.show(welcome)
		f.enter(Selection)
	case evPay:
		f.hw.ReturnChange(ev.Coin)
	}
	return keepTimer
}

// service is the book's upgrade: the machine is open for maintenance. A coin
// is handed back, as in every state that is not taking payment, rather than
// swallowed.
func (f *fsm) service(ev Event) timerAction {
	switch ev.Kind {
	case evClose:
		f.hw.Reboot()
		f.show(welcome)
		f.enter(Selection)
	case evPay:
		f.hw.ReturnChange(ev.Coin)
	}
	return keepTimer
}

// giveUp abandons a payment, returning what was paid.
func (f *fsm) giveUp(reason string) {
	paid := f.paid
	f.show(welcome)
	f.hw.ReturnChange(paid)
	f.metrics.refunded(reason, paid)
	f.enter(Selection)
}

// terminate is the book's terminate/3: a machine that stops or crashes while
// taking payment returns the money paid. It leaves the state at selection so
// that it can never refund twice.
func (f *fsm) terminate(reason string) (refunded int, ok bool) {
	if f.state != Payment {
		return 0, false
	}
	paid := f.paid
	f.hw.ReturnChange(paid)
	f.metrics.refunded(reason, paid)
	f.enter(Selection)
	return paid, true
}

func (f *fsm) show(text string) {
	f.display = text
	f.hw.Display(text)
}

// enter changes state, clearing the payment data that only payment has.
func (f *fsm) enter(s State) {
	f.state, f.drink, f.price, f.paid = s, "", 0, 0
}

// status is the machine as the API shows it.
func (f *fsm) status(id string) Status {
	st := Status{ID: id, State: f.state, Display: f.display}
	if f.state == Payment {
		price, paid := f.price, f.paid
		st.Drink, st.Price, st.Paid = f.drink, &price, &paid
	}
	return st
}

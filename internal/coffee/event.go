// Package coffee is the book's coffee machine: a state machine per machine
// (selection, payment, remove, service) driving the stubbed hardware of
// internal/hw, each machine a supervised process, kept in a registry that
// always reaches a machine's current incarnation.
package coffee

import (
	"fmt"
	"strconv"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// Validation errors: the event is refused before it reaches the machine, so
// bad input never changes a machine.
var (
	ErrUnknownDrink = errcode.New(errcode.UnknownDrink, "unknown drink")
	ErrUnknownEvent = errcode.New(errcode.UnknownEvent, "unknown event")
	ErrInvalidCoin  = errcode.New(errcode.InvalidCoin, "a coin must be positive")
)

// Event names, as the API spells them.
const (
	evSelect     = "select"
	evPay        = "pay"
	evCancel     = "cancel"
	evCupRemoved = "cup_removed"
	evOpen       = "open"
	evClose      = "close"
)

// Event is something done to a machine: select{drink}, pay{coin}, cancel,
// cup_removed, open or close.
type Event struct {
	Kind  string `json:"event"`
	Drink string `json:"drink,omitempty"`
	Coin  int    `json:"coin,omitempty"`
}

// drinks are the book's drinks, prices in the smallest currency unit. A
// slice keeps the order stable for metrics and listings.
var drinks = []struct {
	name  string
	price int
}{{"tea", 100}, {"espresso", 150}, {"americano", 150}, {"cappuccino", 150}}

// Price is what a drink costs, and false for a drink the machine does not make.
func Price(drink string) (int, bool) {
	for _, d := range drinks {
		if d.name == drink {
			return d.price, true
		}
	}
	return 0, false
}

// Validate checks an event on its own, whatever the machine's state.
func (ev Event) Validate() error {
	switch ev.Kind {
	case evSelect:
		if _, ok := Price(ev.Drink); !ok {
			return fmt.Errorf("%w: %q", ErrUnknownDrink, ev.Drink)
		}
	case evPay:
		if ev.Coin <= 0 {
			return fmt.Errorf("%w: %d", ErrInvalidCoin, ev.Coin)
		}
	case evCancel, evCupRemoved, evOpen, evClose:
	default:
		return fmt.Errorf("%w: %q", ErrUnknownEvent, ev.Kind)
	}
	return nil
}

// detail is the event's argument for the process log.
func (ev Event) detail() string {
	switch ev.Kind {
	case evSelect:
		return ev.Drink
	case evPay:
		return strconv.Itoa(ev.Coin)
	}
	return ""
}

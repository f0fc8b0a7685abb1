package phonefsm

import (
	"github.com/bsc-sim/bsc/internal/errcode"
)

// State is a controller's state (domain.md §3).
type State uint8

const (
	Idle State = iota
	Calling
	Receiving
	Connected
)

// States lists every state, for metrics and validation.
var States = [...]State{Idle, Calling, Receiving, Connected}

func (s State) String() string {
	return [...]string{"idle", "calling", "receiving", "connected"}[s]
}

// ParseState reads a state name.
func ParseState(name string) (State, bool) {
	for _, s := range States {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// Role is a phone's part in the call it is in: the caller keeps the call
// (its record and its frequency), the callee does not.
type Role uint8

const (
	NoRole Role = iota
	Caller
	Callee
)

// Action is what the user of a phone does.
type Action uint8

const (
	ActCall Action = iota + 1
	ActAccept
	ActReject
	ActHangup
)

func (a Action) String() string {
	return [...]string{"", "call", "accept", "reject", "hangup"}[a]
}

// ParseAction reads an action name.
func ParseAction(name string) (Action, bool) {
	for a := ActCall; a <= ActHangup; a++ {
		if a.String() == name {
			return a, true
		}
	}
	return 0, false
}

// Errors of phone actions, with the codes of api.md.
var (
	ErrNotAttached   = errcode.New(errcode.NotAttached, "phone not attached")
	ErrInvalidNumber = errcode.New(errcode.InvalidNumber, "the called number is not attached")
	ErrBusy          = errcode.New(errcode.Busy, "the phone is already in a call")
	ErrInvalidState  = errcode.New(errcode.InvalidState, "action not valid in the phone's state")
	ErrOverloaded    = errcode.New(errcode.Overloaded, "the phone's controller is overloaded")
	ErrUnavailable   = errcode.New(errcode.Unavailable, "the phone's controller is restarting")
)

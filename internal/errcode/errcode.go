// Package errcode gives domain errors a stable machine-readable code.
//
// Domain packages declare their sentinel errors with New and one of the
// codes below, and wrap them with fmt.Errorf("%w: detail", ErrX) when they
// have more to say. The HTTP layer reads the code back with Of and maps it
// to a status; the domain packages never know about HTTP.
package errcode

import (
	"errors"
	"strconv"
)

// Code is one of the stable error codes of the API (api/openapi.yaml,
// Problem.code). It is not a string so that a misspelt code cannot
// compile: New takes one of the constants below.
type Code uint8

// None is the code of an error that has none: not one of the API's codes.
const None Code = 0

// The API's codes, grouped by the HTTP status they are served with.
const (
	InvalidRequest Code = iota + 1
	InvalidMSISDN
	UnknownDrink
	UnknownEvent
	InvalidCoin

	Unauthorized
	NotOwner

	NotFound
	UnknownSubscriber
	NotAttached
	InvalidNumber
	NotAllocated
	NotInstalled

	MethodNotAllowed
	NotAcceptable

	AlreadyExists
	AlreadyAttached
	AlreadyInstalled
	Attached
	Busy
	InvalidState
	NoFrequency

	TooLarge
	UnsupportedMediaType

	Internal
	Unavailable
	Overloaded

	end // one past the last code
)

// names are the codes as clients see them.
var names = [end]string{
	InvalidRequest: "invalid_request",
	InvalidMSISDN:  "invalid_msisdn",
	UnknownDrink:   "unknown_drink",
	UnknownEvent:   "unknown_event",
	InvalidCoin:    "invalid_coin",

	Unauthorized: "unauthorized",
	NotOwner:     "not_owner",

	NotFound:          "not_found",
	UnknownSubscriber: "unknown_subscriber",
	NotAttached:       "not_attached",
	InvalidNumber:     "invalid_number",
	NotAllocated:      "not_allocated",
	NotInstalled:      "not_installed",

	MethodNotAllowed: "method_not_allowed",
	NotAcceptable:    "not_acceptable",

	AlreadyExists:    "already_exists",
	AlreadyAttached:  "already_attached",
	AlreadyInstalled: "already_installed",
	Attached:         "attached",
	Busy:             "busy",
	InvalidState:     "invalid_state",
	NoFrequency:      "no_frequency",

	TooLarge:             "too_large",
	UnsupportedMediaType: "unsupported_media_type",

	Internal:    "internal",
	Unavailable: "unavailable",
	Overloaded:  "overloaded",
}

// All lists every code of the API, in a fixed order.
func All() []Code {
	all := make([]Code, 0, end-1)
	for c := None + 1; c < end; c++ {
		all = append(all, c)
	}
	return all
}

// String is the code as clients see it, such as "no_frequency"; "" for
// None.
func (c Code) String() string {
	if c < end {
		return names[c]
	}
	return "errcode.Code(" + strconv.Itoa(int(c)) + ")"
}

// Error is a domain error with a stable code.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// New declares a sentinel error with a code and a human message.
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Of returns the code of the first *Error in err's chain, or None if there
// is none.
func Of(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return None
}

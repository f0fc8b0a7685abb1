// Package errcode gives domain errors a stable machine-readable code.
//
// Domain packages declare their sentinel errors with New and wrap them with
// fmt.Errorf("%w: detail", ErrX) when they have more to say. The HTTP layer
// reads the code back with Of and maps it to a status; the domain packages
// never know about HTTP.
package errcode

import "errors"

// Error is a domain error with a stable code such as "no_frequency".
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// New declares a sentinel error with a code and a human message.
func New(code, message string) *Error { return &Error{Code: code, Message: message} }

// Of returns the code of the first *Error in err's chain, or "" if none.
func Of(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

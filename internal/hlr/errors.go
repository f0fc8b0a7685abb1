package hlr

import (
	"fmt"

	"github.com/bsc-sim/bsc/internal/errcode"
)

var (
	ErrInvalidMSISDN     = errcode.New(errcode.InvalidMSISDN, "invalid MSISDN")
	ErrInvalidRequest    = errcode.New(errcode.InvalidRequest, "invalid request")
	ErrAlreadyExists     = errcode.New(errcode.AlreadyExists, "subscriber already exists")
	ErrUnknownSubscriber = errcode.New(errcode.UnknownSubscriber, "unknown subscriber")
	ErrAlreadyAttached   = errcode.New(errcode.AlreadyAttached, "already attached")
	ErrNotAttached       = errcode.New(errcode.NotAttached, "not attached")
	ErrClosed            = errcode.New(errcode.Unavailable, "HLR subscribers are closed")
)

// ItemError is a bulk request refused because of one of its items; nothing
// of the request was written. Its code is the wrapped error's
// (invalid_request).
type ItemError struct {
	Index int // the item's position in the request, from 0
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

func (e *ItemError) Unwrap() error { return e.Err }

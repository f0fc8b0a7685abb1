package hlr

import (
	"fmt"

	"github.com/bsc-sim/bsc/internal/errcode"
)

var (
	ErrInvalidMSISDN     = errcode.New("invalid_msisdn", "invalid MSISDN")
	ErrInvalidRequest    = errcode.New("invalid_request", "invalid request")
	ErrAlreadyExists     = errcode.New("already_exists", "subscriber already exists")
	ErrUnknownSubscriber = errcode.New("unknown_subscriber", "unknown subscriber")
	ErrAlreadyAttached   = errcode.New("already_attached", "already attached")
	ErrNotAttached       = errcode.New("not_attached", "not attached")
	ErrClosed            = errcode.New("unavailable", "HLR subscribers are closed")
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

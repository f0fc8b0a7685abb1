// Package calls keeps the call detail records: one durable record per call
// attempt that left idle (domain.md §3), written by a single batching writer
// so that phone controllers never wait on the database, and read back by id
// or as filtered, keyset-paged lists.
//
// The records' meaning is this package's (Record, Outcome, the writer's
// queue, group commit, reservations, retries, health); their SQL is the
// store's (store.CallRow, store.CallInserter, Store.ListCalls): a Record
// becomes a store.CallRow when it is appended, and a row read back becomes
// a Record here.
package calls

import (
	"fmt"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/store"
)

// Errors of the package.
var (
	ErrNotFound   = errcode.New(errcode.NotFound, "no such call record")
	ErrOverloaded = errcode.New(errcode.Overloaded, "call record queue is full")
	ErrClosed     = errcode.New(errcode.Unavailable, "call record writer is closed")
	ErrInvalid    = errcode.New(errcode.InvalidRequest, "invalid call record")
	ErrLost       = errcode.New(errcode.Internal, "call records were lost")
	// ErrNotCommitted: the record was not committed within the writer's
	// WaitTimeout; it stays queued and will be.
	ErrNotCommitted = errcode.New(errcode.Unavailable, "the call record is not committed yet")
)

// Outcome is how a call ended. The zero value is no outcome: a Filter
// without one matches every call.
type Outcome uint8

// The outcomes. The numbers are stored in the database: never renumber.
const (
	Answered    Outcome = 1
	Rejected    Outcome = 2
	Busy        Outcome = 3
	NoFrequency Outcome = 4
	Cancelled   Outcome = 5 // the caller hung up before an answer
	Dropped     Outcome = 6 // a controller stopped or crashed mid-call
)

var outcomeNames = [...]string{
	Answered: "answered", Rejected: "rejected", Busy: "busy",
	NoFrequency: "no_frequency", Cancelled: "cancelled", Dropped: "dropped",
}

func (o Outcome) valid() bool { return o >= Answered && o <= Dropped }

// String is the outcome's api.md name, such as "no_frequency".
func (o Outcome) String() string {
	if !o.valid() {
		return fmt.Sprintf("Outcome(%d)", uint8(o))
	}
	return outcomeNames[o]
}

// ParseOutcome reads an outcome's name.
func ParseOutcome(s string) (Outcome, bool) {
	for o := Answered; o <= Dropped; o++ {
		if outcomeNames[o] == s {
			return o, true
		}
	}
	return 0, false
}

// MarshalText writes the name, so JSON shows "answered", not 1.
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.valid() {
		return nil, fmt.Errorf("%w: outcome %d", ErrInvalid, uint8(o))
	}
	return []byte(outcomeNames[o]), nil
}

// UnmarshalText reads a name.
func (o *Outcome) UnmarshalText(b []byte) error {
	v, ok := ParseOutcome(string(b))
	if !ok {
		return fmt.Errorf("%w: unknown outcome %q", ErrInvalid, b)
	}
	*o = v
	return nil
}

// The sides that can end a call, as Record.EndedBy spells them.
const (
	EndedByCaller = "caller"
	EndedByCallee = "callee"
	EndedBySystem = "system"
)

// endedByCode is EndedBy as stored (see migration 0003_calls.sql); 0 is
// not a side.
func endedByCode(s string) uint8 {
	switch s {
	case EndedByCaller:
		return 1
	case EndedByCallee:
		return 2
	case EndedBySystem:
		return 3
	}
	return 0
}

var endedByNames = [...]string{1: EndedByCaller, 2: EndedByCallee, 3: EndedBySystem}

// Record is one call detail record. ID is given by the database when the
// record is written (Append ignores it); ids grow in the order records are
// committed, so paging by id never skips a record committed later.
// Frequency 0 is none; a zero AnsweredAt is never answered.
type Record struct {
	ID         int64      `json:"id"`
	Caller     hlr.MSISDN `json:"caller"`
	Callee     hlr.MSISDN `json:"callee"`
	Frequency  int        `json:"frequency,omitzero"`
	Outcome    Outcome    `json:"outcome"`
	EndedBy    string     `json:"ended_by"`
	SetupAt    time.Time  `json:"setup_at"`
	AnsweredAt time.Time  `json:"answered_at,omitzero"`
	EndedAt    time.Time  `json:"ended_at"`
	// Cluster mode: the call's cell, and the node that wrote the record
	// with its epoch of ownership of the cell.
	Cell  *int   `json:"cell,omitempty"`
	Node  string `json:"node,omitempty"`
	Epoch uint64 `json:"epoch,omitempty"`
}

// validate refuses a record the table would, since one bad record must not
// fail the batch of thousands it would be written with, and one that makes
// no sense.
func (r *Record) validate() error {
	switch {
	case !r.Caller.Valid() || !r.Callee.Valid():
		return fmt.Errorf("%w: caller and callee are required MSISDNs", ErrInvalid)
	case !r.Outcome.valid():
		return fmt.Errorf("%w: outcome %d", ErrInvalid, uint8(r.Outcome))
	case endedByCode(r.EndedBy) == 0:
		return fmt.Errorf("%w: ended_by %q is not caller, callee or system", ErrInvalid, r.EndedBy)
	case r.Frequency < 0:
		return fmt.Errorf("%w: frequency %d", ErrInvalid, r.Frequency)
	case r.SetupAt.IsZero() || r.EndedAt.IsZero():
		return fmt.Errorf("%w: setup and end times are required", ErrInvalid)
	}
	return nil
}

// row is r as stored, for a valid r (see validate).
func (r *Record) row() store.CallRow {
	row := store.CallRow{
		Caller: r.Caller.String(), Callee: r.Callee.String(), Frequency: int64(r.Frequency),
		Outcome: uint8(r.Outcome), EndedBy: endedByCode(r.EndedBy),
		SetupAt: r.SetupAt.UnixNano(), EndedAt: r.EndedAt.UnixNano(),
	}
	if !r.AnsweredAt.IsZero() {
		row.AnsweredAt = r.AnsweredAt.UnixNano()
	}
	if r.Cell != nil {
		row.Cell, row.Node, row.Epoch = int64(*r.Cell), r.Node, int64(r.Epoch)
	}
	return row
}

// recordOf reads a stored row, refusing codes this binary does not know.
func recordOf(row store.CallRow) (Record, error) {
	o := Outcome(row.Outcome)
	if !o.valid() || row.EndedBy < 1 || int(row.EndedBy) >= len(endedByNames) {
		return Record{}, fmt.Errorf("calls: record %d: outcome %d, ended_by %d: not known to this binary", row.ID, row.Outcome, row.EndedBy)
	}
	caller, err := hlr.ParseMSISDN(row.Caller)
	if err != nil {
		return Record{}, fmt.Errorf("calls: record %d: caller: %w", row.ID, err)
	}
	callee, err := hlr.ParseMSISDN(row.Callee)
	if err != nil {
		return Record{}, fmt.Errorf("calls: record %d: callee: %w", row.ID, err)
	}
	r := Record{
		ID: row.ID, Caller: caller, Callee: callee, Frequency: int(row.Frequency),
		Outcome: o, EndedBy: endedByNames[row.EndedBy],
		SetupAt: fromNanos(row.SetupAt), EndedAt: fromNanos(row.EndedAt),
	}
	if row.AnsweredAt != 0 {
		r.AnsweredAt = fromNanos(row.AnsweredAt)
	}
	if row.Node != "" {
		cell := int(row.Cell)
		r.Cell, r.Node, r.Epoch = &cell, row.Node, uint64(row.Epoch)
	}
	return r, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

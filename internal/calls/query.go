package calls

import (
	"context"
	"fmt"
	"time"

	"github.com/bsc-sim/bsc/internal/store"
)

// Filter selects records; a zero field selects everything.
type Filter struct {
	MSISDN  string    // the caller or the callee
	Outcome Outcome   // how the call ended
	Since   time.Time // set up at or after
}

// ScanLimit bounds the ids one List walks when it tests records one by one
// (a filter on the parties or on Since): see store.CallScanLimit.
const ScanLimit = store.CallScanLimit

// ScanLimitError is what List returns, beside the matches it found, when it
// walked ScanLimit ids without filling the page. Nothing failed: every
// match up to After is in the records, and the listing goes on with a List
// after After, which is therefore the cursor of the next page. It is an
// error so that a caller unaware of it fails rather than taking the short
// page for the last, and so that it passes unchanged through wrappers that
// return List's results as they are (the app's call store).
type ScanLimitError struct{ After int64 }

func (e *ScanLimitError) Error() string {
	return fmt.Sprintf("calls: list: walked %d ids without filling the page; it goes on after id %d", ScanLimit, e.After)
}

// List returns up to store.PageLimit(limit) records of st matching f with
// an id above afterID, by id: the last one's id is the cursor of the next
// page.
//
// Records are read in id order from afterID until the page is full.
// Outcome and recent Since narrow this walk through indexes; the parties
// and Since are tested on each record read, so that walk stops after
// ScanLimit ids: a page short of limit then comes with a *ScanLimitError,
// which tells where the listing goes on.
func List(ctx context.Context, st *store.Store, f Filter, afterID int64, limit int) ([]Record, error) {
	if f.Outcome != 0 && !f.Outcome.valid() {
		return nil, fmt.Errorf("%w: outcome %d", ErrInvalid, uint8(f.Outcome))
	}
	rows, stoppedAt, err := st.ListCalls(ctx, store.CallFilter{Party: f.MSISDN, Outcome: uint8(f.Outcome), Since: f.Since}, afterID, limit)
	if err != nil {
		return nil, err
	}
	recs := make([]Record, len(rows))
	for i, row := range rows {
		if recs[i], err = recordOf(row); err != nil {
			return nil, err
		}
	}
	if stoppedAt != 0 {
		return recs, &ScanLimitError{After: stoppedAt}
	}
	return recs, nil
}

// Get returns record id of st, or ErrNotFound.
func Get(ctx context.Context, st *store.Store, id int64) (Record, error) {
	row, ok, err := st.Call(ctx, id)
	switch {
	case err != nil:
		return Record{}, err
	case !ok:
		return Record{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return recordOf(row)
}

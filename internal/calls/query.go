package calls

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bsc-sim/bsc/internal/store"
)

// Filter selects records; a zero field selects everything.
type Filter struct {
	MSISDN  string    // the caller or the callee
	Outcome Outcome   // how the call ended
	Since   time.Time // set up at or after
}

const selectColumns = `SELECT id, caller, callee, frequency, outcome, ended_by, setup_at, answered_at, ended_at, cell, node, epoch FROM calls`

// ScanLimit bounds the ids one List walks when it tests records one by one
// (a filter on the parties or on Since): there is no index on the parties
// (see migration 0003_calls.sql), so a number with few calls in a large
// table would otherwise cost a walk of the whole table per page.
const ScanLimit = 20000

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

// List returns up to store.PageLimit(limit) records matching f with an id
// above afterID, by id: the last one's id is the cursor of the next page.
//
// Records are read in id order from afterID until the page is full.
// Outcome and recent Since narrow this walk through indexes; the parties
// and Since are tested on each record read, so that walk stops after
// ScanLimit ids: a page short of limit then comes with a *ScanLimitError,
// which tells where the listing goes on.
func List(ctx context.Context, db *sql.DB, f Filter, afterID int64, limit int) ([]Record, error) {
	if f.Outcome != 0 && !f.Outcome.valid() {
		return nil, fmt.Errorf("%w: outcome %d", ErrInvalid, uint8(f.Outcome))
	}
	limit = store.PageLimit(limit)
	// The walk starts after start: the greater of the cursor and, for
	// Since, the floor.
	start, startArgs := `?`, []any{afterID}
	var where []string
	var args []any
	tested := false // records are tested one by one
	if !f.Since.IsZero() {
		since := unixNano(f.Since)
		start, startArgs = `max(?, `+sinceFloor+`)`, append(startArgs, since)
		where, args, tested = append(where, `setup_at >= ?`), append(args, since), true
	}
	if f.MSISDN != "" {
		where, args, tested = append(where, `(caller = ? OR callee = ?)`), append(args, f.MSISDN, f.MSISDN), true
	}
	if f.Outcome != 0 {
		where, args = append(where, `outcome = ?`), append(args, int64(f.Outcome))
	}
	if !tested {
		// Every record read matches: the page fills as fast as they are read.
		return query(ctx, db, append(where, `id > ?`), append(args, afterID), limit)
	}

	// The last id before the walk and the last id there is, read first. No
	// id up to top can be committed later (SQLite has one write transaction
	// at a time and AUTOINCREMENT ids only grow), so a walk that stops below
	// top goes on from there without missing a record committed meanwhile.
	var from, top int64
	err := db.QueryRowContext(ctx, `SELECT max(0, `+start+`), coalesce((SELECT max(id) FROM calls), 0)`, startArgs...).
		Scan(&from, &top)
	if err != nil {
		return nil, fmt.Errorf("calls: list: %w", err)
	}
	if from >= top {
		return []Record{}, nil
	}
	to := top
	if top-from > ScanLimit {
		to = from + ScanLimit
	}
	recs, err := query(ctx, db, append(where, `id > ? AND id <= ?`), append(args, from, to), limit)
	if err == nil && len(recs) < limit && to < top {
		err = &ScanLimitError{After: to}
	}
	return recs, err
}

// query reads up to limit records by id that meet every condition of where.
func query(ctx context.Context, db *sql.DB, where []string, args []any, limit int) ([]Record, error) {
	q := selectColumns + ` WHERE ` + strings.Join(where, ` AND `) + ` ORDER BY id LIMIT ?`
	rows, err := db.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("calls: list: %w", err)
	}
	defer rows.Close()
	recs := []Record{}
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("calls: list: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("calls: list: %w", err)
	}
	return recs, nil
}

// sinceFloor is an id below every call set up at or after ?, for the walk
// by id to start there rather than at the oldest record. Such a call also
// ended at or after ?, and ended_at is indexed (setup_at is not, see the
// migration). When fewer than sinceProbe calls ended since then, the floor
// is just below the least of their ids, or above every id if there are
// none. With more, it is 0: finding the least through the index could cost
// as much as the walk it would shorten.
const sinceFloor = `(SELECT CASE count(*) WHEN 0 THEN 9223372036854775807 WHEN ` + sinceProbe + ` THEN 0 ELSE min(id) - 1 END
	FROM (SELECT id FROM calls WHERE ended_at >= ? LIMIT ` + sinceProbe + `))`

const sinceProbe = "10000"

// unixNano is t in unix nanoseconds, clamped to what they can tell apart:
// UnixNano itself is undefined outside about 1678 to 2262.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var minTime, maxTime = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// Get returns record id, or ErrNotFound.
func Get(ctx context.Context, db *sql.DB, id int64) (Record, error) {
	r, err := scan(db.QueryRowContext(ctx, selectColumns+` WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Record{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	case err != nil:
		return Record{}, fmt.Errorf("calls: get %d: %w", id, err)
	}
	return r, nil
}

func scan(row interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var freq, answered, cell, epoch sql.NullInt64
	var node sql.NullString
	var outcome, endedBy, setup, ended int64
	if err := row.Scan(&r.ID, &r.Caller, &r.Callee, &freq, &outcome, &endedBy, &setup, &answered, &ended, &cell, &node, &epoch); err != nil {
		return Record{}, err
	}
	if cell.Valid {
		c := int(cell.Int64)
		r.Cell, r.Node, r.Epoch = &c, node.String, uint64(epoch.Int64)
	}
	if endedBy < 1 || endedBy >= int64(len(endedByNames)) || outcome < int64(Answered) || outcome > int64(Dropped) {
		return Record{}, fmt.Errorf("record %d: outcome %d, ended_by %d: not known to this binary", r.ID, outcome, endedBy)
	}
	r.Frequency = int(freq.Int64)
	r.Outcome = Outcome(outcome)
	r.EndedBy = endedByNames[endedBy]
	r.SetupAt = time.Unix(0, setup).UTC()
	if answered.Valid {
		r.AnsweredAt = time.Unix(0, answered.Int64).UTC()
	}
	r.EndedAt = time.Unix(0, ended).UTC()
	return r, nil
}

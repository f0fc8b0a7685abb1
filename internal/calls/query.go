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

const selectColumns = `SELECT id, caller, callee, frequency, outcome, ended_by, setup_at, answered_at, ended_at FROM calls`

// List returns up to store.PageLimit(limit) records matching f with an id
// above afterID, by id: the last one's id is the cursor of the next page.
//
// Records are read in id order from afterID until the page is full, the
// filters tested on each: there is no index on the parties (see migration
// 0003_calls.sql), so a number with few calls in a large table costs a
// long walk. Outcome and recent Since narrow the walk through indexes.
func List(ctx context.Context, db *sql.DB, f Filter, afterID int64, limit int) ([]Record, error) {
	if f.Outcome != 0 && !f.Outcome.valid() {
		return nil, fmt.Errorf("%w: outcome %d", ErrInvalid, uint8(f.Outcome))
	}
	// One bound on id, so that the walk by id starts at the greater of the
	// cursor and, for Since, the floor.
	where, args := []string{`id > ?`}, []any{afterID}
	if !f.Since.IsZero() {
		since := unixNano(f.Since)
		where = []string{`id > max(?, ` + sinceFloor + `)`, `setup_at >= ?`}
		args = append(args, since, since)
	}
	if f.MSISDN != "" {
		where = append(where, `(caller = ? OR callee = ?)`)
		args = append(args, f.MSISDN, f.MSISDN)
	}
	if f.Outcome != 0 {
		where = append(where, `outcome = ?`)
		args = append(args, int64(f.Outcome))
	}
	q := selectColumns + ` WHERE ` + strings.Join(where, ` AND `) + ` ORDER BY id LIMIT ?`
	args = append(args, store.PageLimit(limit))

	rows, err := db.QueryContext(ctx, q, args...)
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
	var freq, answered sql.NullInt64
	var outcome, endedBy, setup, ended int64
	if err := row.Scan(&r.ID, &r.Caller, &r.Callee, &freq, &outcome, &endedBy, &setup, &answered, &ended); err != nil {
		return Record{}, err
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

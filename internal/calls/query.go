package calls

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	var q strings.Builder
	q.WriteString(selectColumns + ` WHERE id > ?`)
	args := []any{afterID}
	if !f.Since.IsZero() {
		// One bound on id, so that the walk by id starts at the greater.
		since := f.Since.UnixNano()
		q.Reset()
		q.WriteString(selectColumns + ` WHERE id > max(?, ` + sinceFloor + `) AND setup_at >= ?`)
		args = append(args, since, since)
	}
	if f.MSISDN != "" {
		q.WriteString(` AND (caller = ? OR callee = ?)`)
		args = append(args, f.MSISDN, f.MSISDN)
	}
	if f.Outcome != 0 {
		q.WriteString(` AND outcome = ?`)
		args = append(args, int64(f.Outcome))
	}
	q.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, store.PageLimit(limit))

	rows, err := db.QueryContext(ctx, q.String(), args...)
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

// sinceFloor is an id below every call set up at or after ?, to start the
// walk by id there rather than at the oldest record. Such a call also
// ended at or after ?, and ended_at is indexed (setup_at is not: calls last
// seconds, so new setup times land all over the last seconds' index pages,
// where new end times are appended). When fewer than sinceProbe calls
// ended since then, the floor is just below the least of their ids, or
// above every id if there are none; with more, the index would cost more
// than it saves and the floor is 0.
const sinceFloor = `(SELECT CASE count(*) WHEN 0 THEN 9223372036854775807 WHEN ` + sinceProbe + ` THEN 0 ELSE min(id) - 1 END
	FROM (SELECT id FROM calls WHERE ended_at >= ? LIMIT ` + sinceProbe + `))`

const sinceProbe = "10000"

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

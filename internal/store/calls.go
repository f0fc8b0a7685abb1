package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"
)

// CallRow is a row of the calls table as stored (migrations 0003_calls.sql
// and 0005_cluster.sql). What its codes mean is the calls package's:
// Outcome is a calls.Outcome, EndedBy 1 caller, 2 callee, 3 system. Times
// are unix nanoseconds; 0 in Frequency and AnsweredAt is NULL, none. Cell,
// Node and Epoch are a cluster node's: NULL all three when Node is "".
type CallRow struct {
	ID         int64 // given by the database; Insert ignores it
	Caller     string
	Callee     string
	Frequency  int64
	Outcome    uint8
	EndedBy    uint8
	SetupAt    int64
	AnsweredAt int64
	EndedAt    int64
	Cell       int64
	Node       string
	Epoch      int64
}

// CallFilter selects call rows; a zero field selects every row.
type CallFilter struct {
	Party   string    // the caller or the callee
	Outcome uint8     // the outcome code
	Since   time.Time // set up at or after
}

// CallScanLimit bounds the ids one ListCalls walks when it tests rows one
// by one (a filter on the parties or on Since): there is no index on the
// parties (see migration 0003_calls.sql), so a number with few calls in a
// large table would otherwise cost a walk of the whole table per page.
const CallScanLimit = 20000

const selectCalls = `SELECT id, caller, callee, frequency, outcome, ended_by, setup_at, answered_at, ended_at, cell, node, epoch FROM calls`

// ListCalls returns up to PageLimit(limit) rows matching f with an id above
// afterID, by id: the last one's id is the cursor of the next page.
//
// Rows are read in id order from afterID until the page is full. Outcome
// and recent Since narrow this walk through indexes; the parties and Since
// are tested on each row read, so that walk stops after CallScanLimit ids.
// A page short of limit then comes with stoppedAt, the last id walked,
// where the listing goes on; stoppedAt is 0 when the walk was not cut.
func (s *Store) ListCalls(ctx context.Context, f CallFilter, afterID int64, limit int) (rows []CallRow, stoppedAt int64, err error) {
	limit = PageLimit(limit)
	// The walk starts after start: the greater of the cursor and, for
	// Since, the floor.
	start, startArgs := `?`, []any{afterID}
	var where []string
	var args []any
	tested := false // rows are tested one by one
	if !f.Since.IsZero() {
		since := unixNano(f.Since)
		start, startArgs = `max(?, `+sinceFloor+`)`, append(startArgs, since)
		where, args, tested = append(where, `setup_at >= ?`), append(args, since), true
	}
	if f.Party != "" {
		where, args, tested = append(where, `(caller = ? OR callee = ?)`), append(args, f.Party, f.Party), true
	}
	if f.Outcome != 0 {
		where, args = append(where, `outcome = ?`), append(args, int64(f.Outcome))
	}
	if !tested {
		// Every row read matches: the page fills as fast as they are read.
		rows, err := s.queryCalls(ctx, append(where, `id > ?`), append(args, afterID), limit)
		return rows, 0, err
	}

	// The last id before the walk and the last id there is, read first. No
	// id up to top can be committed later (SQLite has one write transaction
	// at a time and AUTOINCREMENT ids only grow), so a walk that stops below
	// top goes on from there without missing a row committed meanwhile.
	var from, top int64
	err = s.db.QueryRowContext(ctx, `SELECT max(0, `+start+`), coalesce((SELECT max(id) FROM calls), 0)`, startArgs...).
		Scan(&from, &top)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list calls: %w", err)
	}
	if from >= top {
		return []CallRow{}, 0, nil
	}
	to := top
	if top-from > CallScanLimit {
		to = from + CallScanLimit
	}
	rows, err = s.queryCalls(ctx, append(where, `id > ? AND id <= ?`), append(args, from, to), limit)
	if err == nil && len(rows) < limit && to < top {
		stoppedAt = to
	}
	return rows, stoppedAt, err
}

// queryCalls reads up to limit rows by id that meet every condition of
// where.
func (s *Store) queryCalls(ctx context.Context, where []string, args []any, limit int) ([]CallRow, error) {
	q := selectCalls + ` WHERE ` + strings.Join(where, ` AND `) + ` ORDER BY id LIMIT ?`
	rows, err := queryAll(ctx, s.db, scanCall, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: list calls: %w", err)
	}
	return rows, nil
}

// sinceFloor is an id below every call set up at or after ?, for the walk
// by id to start there rather than at the oldest row. Such a call also
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

// Call returns row id; ok is false if there is none.
func (s *Store) Call(ctx context.Context, id int64) (row CallRow, ok bool, err error) {
	row, ok, err = queryOne(ctx, s.db, scanCall, selectCalls+` WHERE id = ?`, id)
	if err != nil {
		return CallRow{}, false, fmt.Errorf("store: call %d: %w", id, err)
	}
	return row, ok, nil
}

func scanCall(row scanner) (CallRow, error) {
	var r CallRow
	var freq, answered, cell, epoch sql.NullInt64
	var node sql.NullString
	var outcome, endedBy int64
	if err := row.Scan(&r.ID, &r.Caller, &r.Callee, &freq, &outcome, &endedBy, &r.SetupAt, &answered, &r.EndedAt,
		&cell, &node, &epoch); err != nil {
		return CallRow{}, err
	}
	r.Cell, r.Node, r.Epoch = cell.Int64, node.String, epoch.Int64
	if outcome != int64(uint8(outcome)) || endedBy != int64(uint8(endedBy)) {
		return CallRow{}, fmt.Errorf("call %d: outcome %d, ended_by %d: not a code", r.ID, outcome, endedBy)
	}
	r.Frequency, r.AnsweredAt = freq.Int64, answered.Int64
	r.Outcome, r.EndedBy = uint8(outcome), uint8(endedBy)
	return r, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Page sizes of listings (api.md: ?limit= default 100, max 1000).
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// PageLimit turns a requested page size into the one served: the default
// when none (or a non-positive one) was asked, never more than the maximum.
func PageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageLimit
	case limit > MaxPageLimit:
		return MaxPageLimit
	}
	return limit
}

// Alarm actions.
const (
	ActionSet   = "set"
	ActionClear = "clear"
)

// AlarmRecord is one raise or clear of an alarm. ID is the record's own
// number, increasing, the cursor of keyset paging; Alarm is the alarm's id
// (such as "no_frequency"), which api.md calls "id". Cell and Node are
// cluster mode's: the cell whose overload manager raised or cleared the
// alarm and the node that ran it; nil and "" (and not shown) on a single
// node.
type AlarmRecord struct {
	ID          int64     `json:"seq"`
	Alarm       string    `json:"id"`
	Action      string    `json:"action"`
	Severity    string    `json:"severity"`
	Source      string    `json:"source,omitempty"`
	Description string    `json:"description,omitempty"`
	At          time.Time `json:"at"`
	Cell        *int      `json:"cell,omitempty"`
	Node        string    `json:"node,omitempty"`
}

// AlarmQuery selects a page of the alarm history: up to PageLimit(Limit)
// records, after the record AfterID in seq order, or ByTime after the
// record at (AfterAt, AfterID) in time order (at, then seq; a zero AfterAt
// is before every record). Cell, when set, keeps that cell's records only.
type AlarmQuery struct {
	Cell    *int
	ByTime  bool
	AfterAt time.Time
	AfterID int64
	Limit   int
}

// After is q moved on to the records after rec: the query of the next page.
func (q AlarmQuery) After(rec AlarmRecord) AlarmQuery {
	q.AfterAt, q.AfterID = rec.At, rec.ID
	return q
}

const insertAlarm = `INSERT INTO alarm_history (alarm, action, severity, source, description, at, cell, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// alarmArgs are rec's values for insertAlarm.
func alarmArgs(rec AlarmRecord) []any {
	var cell any // NULL
	if rec.Cell != nil {
		cell = *rec.Cell
	}
	return []any{rec.Alarm, rec.Action, rec.Severity, rec.Source, rec.Description, rec.At.UnixNano(), cell, rec.Node}
}

func checkAction(rec AlarmRecord) error {
	if rec.Action != ActionSet && rec.Action != ActionClear {
		return fmt.Errorf("store: alarm action %q is neither %q nor %q", rec.Action, ActionSet, ActionClear)
	}
	return nil
}

// AppendAlarm stores rec (its ID is ignored) and returns the ID given to it.
func (s *Store) AppendAlarm(ctx context.Context, rec AlarmRecord) (int64, error) {
	if err := checkAction(rec); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, insertAlarm, alarmArgs(rec)...)
	if err != nil {
		return 0, fmt.Errorf("store: append alarm: %w", err)
	}
	return res.LastInsertId()
}

// AppendAlarms stores recs in order (their IDs are ignored) in one
// transaction: one commit for a whole batch instead of one per record, and
// all or nothing.
func (s *Store) AppendAlarms(ctx context.Context, recs []AlarmRecord) (err error) {
	for _, rec := range recs {
		if err := checkAction(rec); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: append alarms: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	stmt, err := tx.PrepareContext(ctx, insertAlarm)
	if err != nil {
		return fmt.Errorf("store: append alarms: %w", err)
	}
	defer stmt.Close()
	for _, rec := range recs {
		if _, err := stmt.ExecContext(ctx, alarmArgs(rec)...); err != nil {
			return fmt.Errorf("store: append alarms: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: append alarms: %w", err)
	}
	return nil
}

// AlarmHistory returns the page q selects, oldest first; the last record
// is where the next page starts (q.After).
func (s *Store) AlarmHistory(ctx context.Context, q AlarmQuery) ([]AlarmRecord, error) {
	var where []string
	var args []any
	if q.Cell != nil {
		where, args = append(where, "cell = ?"), append(args, *q.Cell)
	}
	order := "id"
	if q.ByTime {
		where, args = append(where, "(at, id) > (?, ?)"), append(args, unixNano(q.AfterAt), q.AfterID)
		order = "at, id"
	} else {
		where, args = append(where, "id > ?"), append(args, q.AfterID)
	}
	args = append(args, PageLimit(q.Limit))
	recs, err := queryAll(ctx, s.db, scanAlarm,
		`SELECT id, alarm, action, severity, source, description, at, cell, node FROM alarm_history WHERE `+
			strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: alarm history: %w", err)
	}
	return recs, nil
}

func scanAlarm(row scanner) (AlarmRecord, error) {
	var r AlarmRecord
	var at int64
	var cell sql.NullInt64
	if err := row.Scan(&r.ID, &r.Alarm, &r.Action, &r.Severity, &r.Source, &r.Description, &at, &cell, &r.Node); err != nil {
		return AlarmRecord{}, err
	}
	r.At = time.Unix(0, at).UTC()
	if cell.Valid {
		c := int(cell.Int64)
		r.Cell = &c
	}
	return r, nil
}

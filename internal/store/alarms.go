package store

import (
	"context"
	"fmt"
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
// (such as "no_frequency"), which api.md calls "id".
type AlarmRecord struct {
	ID          int64     `json:"seq"`
	Alarm       string    `json:"id"`
	Action      string    `json:"action"`
	Severity    string    `json:"severity"`
	Source      string    `json:"source,omitempty"`
	Description string    `json:"description,omitempty"`
	At          time.Time `json:"at"`
}

const insertAlarm = `INSERT INTO alarm_history (alarm, action, severity, source, description, at) VALUES (?, ?, ?, ?, ?, ?)`

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
	res, err := s.db.ExecContext(ctx, insertAlarm,
		rec.Alarm, rec.Action, rec.Severity, rec.Source, rec.Description, rec.At.UnixNano())
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
		if _, err := stmt.ExecContext(ctx, rec.Alarm, rec.Action, rec.Severity, rec.Source, rec.Description, rec.At.UnixNano()); err != nil {
			return fmt.Errorf("store: append alarms: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: append alarms: %w", err)
	}
	return nil
}

// AlarmHistory returns up to PageLimit(limit) records with an ID greater than
// afterID, oldest first; the last one's ID is the cursor of the next page.
func (s *Store) AlarmHistory(ctx context.Context, afterID int64, limit int) ([]AlarmRecord, error) {
	recs, err := queryAll(ctx, s.db, scanAlarm,
		`SELECT id, alarm, action, severity, source, description, at FROM alarm_history WHERE id > ? ORDER BY id LIMIT ?`,
		afterID, PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: alarm history: %w", err)
	}
	return recs, nil
}

func scanAlarm(row scanner) (AlarmRecord, error) {
	var r AlarmRecord
	var at int64
	if err := row.Scan(&r.ID, &r.Alarm, &r.Action, &r.Severity, &r.Source, &r.Description, &at); err != nil {
		return AlarmRecord{}, err
	}
	r.At = time.Unix(0, at).UTC()
	return r, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// SubscriberTouch is a subscriber's last attach and detach times to
// store, unix nanoseconds, 0 for none.
type SubscriberTouch struct {
	MSISDN         string
	Attach, Detach int64
}

// touchChunk is how many subscribers one UPDATE statement touches.
const touchChunk = 64

// TouchSubscribers stores the times of rows in one transaction, keeping
// for each the later of the stored and the given time, so that updates
// written out of order never move a time back. A time of 0 (none) is
// never later, and an MSISDN that is no subscriber updates no row. Rows
// go touchChunk to a statement: one UPDATE per row took a whole core at a
// few hundred thousand attaches a second.
func (s *Store) TouchSubscribers(ctx context.Context, rows []SubscriberTouch) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: touch subscribers: %w", err)
	}
	defer tx.Rollback()
	var full *sql.Stmt
	for len(rows) > 0 {
		n := min(len(rows), touchChunk)
		var stmt *sql.Stmt
		if n == touchChunk && full != nil {
			stmt = full
		} else if stmt, err = tx.PrepareContext(ctx, touchSQL(n)); err != nil {
			return fmt.Errorf("store: touch subscribers: %w", err)
		} else if n == touchChunk {
			full = stmt
		} else {
			defer stmt.Close()
		}
		args := make([]any, 0, 3*n)
		for _, r := range rows[:n] {
			args = append(args, r.MSISDN, r.Attach, r.Detach)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: touch subscribers: %w", err)
		}
		rows = rows[n:]
	}
	if full != nil {
		defer full.Close()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: touch subscribers: %w", err)
	}
	return nil
}

// touchSQL updates n subscribers from a VALUES list of (msisdn, attach,
// detach).
func touchSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE subscribers SET
		last_attach_at = CASE WHEN v.column2 > coalesce(last_attach_at, 0) THEN v.column2 ELSE last_attach_at END,
		last_detach_at = CASE WHEN v.column3 > coalesce(last_detach_at, 0) THEN v.column3 ELSE last_detach_at END
		FROM (VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?)")
	}
	b.WriteString(`) AS v WHERE subscribers.msisdn = v.column1`)
	return b.String()
}

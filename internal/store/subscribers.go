package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// SubscriberRow is a row of the subscribers table as stored (migration
// 0002_subscribers.sql). The MSISDN is its digits, which the hlr package
// packs into an hlr.MSISDN. Times are unix nanoseconds; "" in IMSI and 0
// in the last attach and detach times are NULL, none.
type SubscriberRow struct {
	MSISDN       string
	IMSI         string
	CreatedAt    int64
	LastAttachAt int64
	LastDetachAt int64
}

// ErrIMSITaken is an insert that would give a subscriber the IMSI of
// another: IMSIs are unique.
var ErrIMSITaken = errors.New("store: the imsi belongs to another subscriber")

// RowError is a write of several rows refused because of one of them;
// nothing of the write was committed.
type RowError struct {
	Index int // the row's position in the write, from 0
	Err   error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Index, e.Err) }

func (e *RowError) Unwrap() error { return e.Err }

const selectSubscribers = `SELECT msisdn, imsi, created_at, last_attach_at, last_detach_at FROM subscribers`

// CountSubscribers is the number of subscribers.
func (s *Store) CountSubscribers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM subscribers`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count subscribers: %w", err)
	}
	return n, nil
}

// EachSubscriberMSISDN calls fn with the MSISDN of every subscriber, in
// no particular order, and stops at fn's first error, which it returns.
// The bytes are valid only until fn returns: no string is made per row,
// for a million rows are read at start.
func (s *Store) EachSubscriberMSISDN(ctx context.Context, fn func(msisdn []byte) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT msisdn FROM subscribers`)
	if err != nil {
		return fmt.Errorf("store: read subscribers: %w", err)
	}
	defer rows.Close()
	var raw sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return fmt.Errorf("store: read subscribers: %w", err)
		}
		if err := fn(raw); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read subscribers: %w", err)
	}
	return nil
}

// InsertSubscribers adds n rows, row(0) to row(n-1) (their last attach
// and detach times are ignored), in one transaction, all or nothing, and
// returns how many it created: a row whose MSISDN is a subscriber
// already, or repeats an earlier row's, is left out and leaves the
// subscriber as it is. A row that fails is a *RowError, wrapping
// ErrIMSITaken if its IMSI belongs to another subscriber.
//
// The rows are made by row as they are written, not handed over as a
// slice: a bulk of 100,000 is then never held whole a second time, and a
// batch costs no allocation more than its SQL.
func (s *Store) InsertSubscribers(ctx context.Context, n int, row func(i int) SubscriberRow) (created int, err error) {
	return s.insertSubscribers(ctx, n, row, true)
}

// TryInsertSubscribers is InsertSubscribers undone: what it would create,
// or the error it would meet, against the table as it is, with nothing
// written. The cluster checks a write this way before it logs it.
func (s *Store) TryInsertSubscribers(ctx context.Context, n int, row func(i int) SubscriberRow) (created int, err error) {
	return s.insertSubscribers(ctx, n, row, false)
}

func (s *Store) insertSubscribers(ctx context.Context, n int, row func(i int) SubscriberRow, commit bool) (created int, err error) {
	if n == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: insert subscribers: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (msisdn, imsi, created_at) VALUES (?, ?, ?) ON CONFLICT (msisdn) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("store: insert subscribers: %w", err)
	}
	defer stmt.Close()
	for i := range n {
		r := row(i)
		res, err := stmt.ExecContext(ctx, r.MSISDN, nullString(r.IMSI), r.CreatedAt)
		if imsiTaken(err) {
			err = fmt.Errorf("%w: %s", ErrIMSITaken, r.IMSI)
		}
		if err != nil {
			return 0, fmt.Errorf("store: insert subscribers: %w", &RowError{Index: i, Err: err})
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("store: insert subscribers: %w", &RowError{Index: i, Err: err})
		}
		created += int(k)
	}
	if !commit {
		return created, nil
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: insert subscribers: %w", err)
	}
	return created, nil
}

// imsiTaken recognises the insert that broke the IMSI's uniqueness: the
// MSISDN's conflict is absorbed by ON CONFLICT (msisdn) DO NOTHING, so the
// unique index on imsi is the only one an insert can break. A nil err is
// not looked into: errors.As would put e on the heap, once per row.
func imsiTaken(err error) bool {
	if err == nil {
		return false
	}
	var e sqlite3.Error
	return errors.As(err, &e) && e.ExtendedCode == sqlite3.ErrConstraintUnique
}

// nullString stores "", none, as NULL, which a UNIQUE constraint allows
// any number of times.
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// Subscriber reads the subscriber msisdn; ok is false if there is none.
func (s *Store) Subscriber(ctx context.Context, msisdn string) (row SubscriberRow, ok bool, err error) {
	row, ok, err = queryOne(ctx, s.db, scanSubscriber, selectSubscribers+` WHERE msisdn = ?`, msisdn)
	if err != nil {
		return SubscriberRow{}, false, fmt.Errorf("store: subscriber %s: %w", msisdn, err)
	}
	return row, ok, nil
}

// ListSubscribers returns up to PageLimit(limit) subscribers whose MSISDN
// sorts after after ("": from the first), in MSISDN order (byte order):
// the last one's MSISDN is the cursor of the next page.
func (s *Store) ListSubscribers(ctx context.Context, after string, limit int) ([]SubscriberRow, error) {
	subs, err := queryAll(ctx, s.db, scanSubscriber, selectSubscribers+` WHERE msisdn > ? ORDER BY msisdn LIMIT ?`, after, PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list subscribers: %w", err)
	}
	return subs, nil
}

func scanSubscriber(row scanner) (SubscriberRow, error) {
	var r SubscriberRow
	var imsi sql.NullString
	var attach, detach sql.NullInt64
	if err := row.Scan(&r.MSISDN, &imsi, &r.CreatedAt, &attach, &detach); err != nil {
		return SubscriberRow{}, err
	}
	r.IMSI, r.LastAttachAt, r.LastDetachAt = imsi.String, attach.Int64, detach.Int64
	return r, nil
}

// DeleteSubscriber removes the subscriber msisdn; ok is false if there was
// none.
func (s *Store) DeleteSubscriber(ctx context.Context, msisdn string) (ok bool, err error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM subscribers WHERE msisdn = ?`, msisdn)
	if err != nil {
		return false, fmt.Errorf("store: delete subscriber %s: %w", msisdn, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: delete subscriber %s: %w", msisdn, err)
	}
	return n > 0, nil
}

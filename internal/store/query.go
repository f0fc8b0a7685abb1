package store

import (
	"context"
	"database/sql"
	"errors"
)

// scanner is a *sql.Row or a *sql.Rows, for the scan functions of the
// row types that serve both a single read and a listing.
type scanner interface{ Scan(...any) error }

// queryAll runs the query q and reads each row it returns with scan. No
// rows is an empty slice, not nil: listings show it as [].
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	all := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return all, nil
}

// queryOne reads with scan the row the query q returns; ok is false when
// it returns none.
func queryOne[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), q string, args ...any) (v T, ok bool, err error) {
	v, err = scan(db.QueryRowContext(ctx, q, args...))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return v, false, nil
	case err != nil:
		return v, false, err
	}
	return v, true, nil
}

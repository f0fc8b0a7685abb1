package store

import (
	"context"
	"database/sql"
	"errors"
)

// The cluster's call records in this node's database (docs/cluster.md):
// the calls table mirrors the replicated calls stream, each row under its
// sequence in the stream, and the mirrors table says how far.

// MirrorPosition is how far stream is applied: the identity of the stream
// it was applied from, and the last sequence applied (0: none).
func (s *Store) MirrorPosition(ctx context.Context, stream string) (uid string, seq uint64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT uid, seq FROM mirrors WHERE stream = ?`, stream).Scan(&uid, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil
	}
	return uid, seq, err
}

// ResetCallMirror starts the mirror of the calls stream afresh for a
// stream of identity uid: the rows of another stream (a cluster made
// again, or a database that served a single node) go.
func (s *Store) ResetCallMirror(ctx context.Context, stream, uid string) error {
	return s.resetMirror(ctx, `DELETE FROM calls`, stream, uid)
}

// resetMirror empties a mirrored table with clear and sets stream's
// position to the start of the stream of identity uid, in one transaction.
func (s *Store) resetMirror(ctx context.Context, clear, stream, uid string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, clear); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO mirrors (stream, uid, seq) VALUES (?, ?, 0)
		ON CONFLICT (stream) DO UPDATE SET uid = excluded.uid, seq = 0`, stream, uid); err != nil {
		return err
	}
	return tx.Commit()
}

// ApplyCallMirror writes rows, each under its ID (a row already there is
// kept: a batch applied again after a crash changes nothing), and the
// stream's position last, in one transaction.
func (s *Store) ApplyCallMirror(ctx context.Context, stream string, rows []CallRow, last uint64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO calls (id, caller, callee, frequency, outcome, ended_by,
		setup_at, answered_at, ended_at, cell, node, epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.ID, r.Caller, r.Callee, nullInt(r.Frequency), int64(r.Outcome), int64(r.EndedBy),
			r.SetupAt, nullInt(r.AnsweredAt), r.EndedAt, r.Cell, r.Node, r.Epoch); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mirrors SET seq = ? WHERE stream = ?`, int64(last), stream); err != nil {
		return err
	}
	return tx.Commit()
}

// The cluster's subscribers in this node's database: the subscribers
// table applies the replicated log of subscriber writes, and the mirrors
// table says how far. The attach and detach times stay this node's own.

// SubscriberWrite is one write of the log: rows to create (an MSISDN
// already there is left as it is), or, with Delete, the MSISDN of Rows[0]
// to remove.
type SubscriberWrite struct {
	Delete bool
	Rows   []SubscriberRow
}

// ResetSubscriberMirror starts the mirror of the subscriber log afresh for
// a log of identity uid: the rows of another (a cluster made again, or a
// database that served a single node) go, as the log is the table's truth.
func (s *Store) ResetSubscriberMirror(ctx context.Context, stream, uid string) error {
	return s.resetMirror(ctx, `DELETE FROM subscribers`, stream, uid)
}

// ApplySubscriberMirror applies writes in order, and the log's position
// last, in one transaction. Writes were checked against the log before
// they were logged, so none conflicts; one that would anyway is ignored
// rather than stopping the mirror, on every node alike.
func (s *Store) ApplySubscriberMirror(ctx context.Context, stream string, writes []SubscriberWrite, last uint64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (msisdn, imsi, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	defer ins.Close()
	del, err := tx.PrepareContext(ctx, `DELETE FROM subscribers WHERE msisdn = ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	for _, w := range writes {
		for _, r := range w.Rows {
			if w.Delete {
				_, err = del.ExecContext(ctx, r.MSISDN)
			} else {
				_, err = ins.ExecContext(ctx, r.MSISDN, nullString(r.IMSI), r.CreatedAt)
			}
			if err != nil {
				return err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mirrors SET seq = ? WHERE stream = ?`, int64(last), stream); err != nil {
		return err
	}
	return tx.Commit()
}

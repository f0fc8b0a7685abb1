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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM calls`); err != nil {
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

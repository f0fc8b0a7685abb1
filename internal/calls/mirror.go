package calls

import (
	"context"
	"database/sql"
	"errors"
)

// The cluster's records in this node's database (docs/cluster.md): the
// calls table mirrors the replicated calls stream, each record under its
// sequence in the stream.

// Mirrored is a record from the stream with its sequence there.
type Mirrored struct {
	Seq    uint64
	Record Record
}

// MirrorPosition is how far stream is applied to db: the identity of the
// stream it was applied from, and the last sequence applied (0: none).
func MirrorPosition(ctx context.Context, db *sql.DB, stream string) (uid string, seq uint64, err error) {
	err = db.QueryRowContext(ctx, `SELECT uid, seq FROM mirrors WHERE stream = ?`, stream).Scan(&uid, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil
	}
	return uid, seq, err
}

// ResetMirror starts the mirror of stream afresh for a stream of identity
// uid: the records of another stream (a cluster made again, or a database
// that served a single node) are not the cluster's, and go.
func ResetMirror(ctx context.Context, db *sql.DB, stream, uid string) error {
	tx, err := db.BeginTx(ctx, nil)
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

// ApplyMirrored writes recs, each under its sequence (one already there is
// kept), and the position last, in one transaction. A record this binary
// cannot store (from a newer one, say) is skipped, and counted: it must
// not stop the mirror.
func ApplyMirrored(ctx context.Context, db *sql.DB, stream string, recs []Mirrored, last uint64) (skipped int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO calls (id, caller, callee, frequency, outcome, ended_by,
		setup_at, answered_at, ended_at, cell, node, epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for _, m := range recs {
		r := &m.Record
		if r.validate() != nil {
			skipped++
			continue
		}
		var cell any
		if r.Cell != nil {
			cell = *r.Cell
		}
		if _, err := stmt.ExecContext(ctx, int64(m.Seq), r.Caller, r.Callee, nullInt(int64(r.Frequency)), int64(r.Outcome),
			endedByCode(r.EndedBy), r.SetupAt.UnixNano(), nullTime(r.AnsweredAt), r.EndedAt.UnixNano(),
			cell, r.Node, int64(r.Epoch)); err != nil {
			return 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mirrors SET seq = ? WHERE stream = ?`, int64(last), stream); err != nil {
		return 0, err
	}
	return skipped, tx.Commit()
}

package calls

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
	"time"
)

// maxRowsLog2 sets the most rows one INSERT carries: 1<<maxRowsLog2. Rows
// per statement save a trip through database/sql and the driver per record:
// BenchmarkWriter measured about 260,000 records/s at one row, 460,000 at
// 16, and 490,000 to 540,000 from 64 to 1,024, differences lost in the
// noise; so 64, the smallest statement of the best.
const maxRowsLog2 = 6

// inserter writes batches of records. A batch is cut into statements of a
// power of two rows, largest first, so that maxRowsLog2+1 prepared
// statements serve any batch size.
type inserter struct {
	db    *sql.DB
	stmts [maxRowsLog2 + 1]*sql.Stmt // stmts[k] inserts 1<<k rows
	args  []any
}

// write commits the records of segs in one transaction.
//
// Its context is never cancelled: with a cancellable one the driver would
// start a goroutine per statement to watch it. A statement waits at most
// the database's busy timeout.
func (in *inserter) write(segs [][]Record) error {
	ctx := context.Background()
	// Prepare before BEGIN: preparing on the pool while the transaction holds
	// a connection would wait forever on a one-connection database.
	for _, recs := range segs {
		if err := in.prepare(ctx, len(recs)); err != nil {
			return err
		}
	}
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	for _, recs := range segs {
		for len(recs) > 0 {
			k := bits.Len(uint(min(len(recs), 1<<maxRowsLog2))) - 1
			n := 1 << k
			_, err := tx.StmtContext(ctx, in.stmts[k]).ExecContext(ctx, in.bind(recs[:n])...)
			clear(in.args) // let the strings go
			if err != nil {
				return err
			}
			recs = recs[n:]
		}
	}
	return tx.Commit()
}

// prepare makes the statements a run of n records needs.
func (in *inserter) prepare(ctx context.Context, n int) error {
	for ; n > 0; n &^= 1 << (bits.Len(uint(n)) - 1) {
		k := min(bits.Len(uint(n))-1, maxRowsLog2)
		if in.stmts[k] != nil {
			continue
		}
		stmt, err := in.db.PrepareContext(ctx, insertSQL(1<<k))
		if err != nil {
			return err
		}
		in.stmts[k] = stmt
	}
	return nil
}

// insertSQL is the statement for rows records. OR FAIL, not the default
// ABORT: to undo a failed statement's earlier rows, ABORT keeps a journal
// of every existing page the statement changes, which cost a tenth of the
// writer's throughput with this schema (half of it with indexes on the
// parties); the transaction is rolled back whole on any error anyway.
func insertSQL(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT OR FAIL INTO calls (caller, callee, frequency, outcome, ended_by, setup_at, answered_at, ended_at) VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// bind lays out the arguments of recs in the order of insertSQL's columns.
func (in *inserter) bind(recs []Record) []any {
	a := in.args[:0]
	for i := range recs {
		r := &recs[i]
		a = append(a, r.Caller, r.Callee, nullInt(int64(r.Frequency)), int64(r.Outcome), endedByCode(r.EndedBy),
			r.SetupAt.UnixNano(), nullTime(r.AnsweredAt), r.EndedAt.UnixNano())
	}
	in.args = a
	return a
}

func (in *inserter) close() {
	for i, s := range in.stmts {
		if s != nil {
			s.Close()
			in.stmts[i] = nil
		}
	}
}

// nullInt stores 0, "none", as NULL.
func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// nullTime stores the zero time, "never", as NULL, else unix nanoseconds.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

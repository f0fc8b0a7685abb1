package store

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
)

// maxCallRowsLog2 sets the most rows one INSERT carries: 1<<maxCallRowsLog2.
// Rows per statement save a trip through database/sql and the driver per
// record: calls.BenchmarkWriter measured about 260,000 records/s at one
// row, 460,000 at 16, and 490,000 to 540,000 from 64 to 1,024, differences
// lost in the noise; so 64, the smallest statement of the best.
const maxCallRowsLog2 = 6

// CallInserter writes batches of call rows for the single writer of call
// records (calls.Writer). A batch is cut into statements of a power of two
// rows, largest first, so that maxCallRowsLog2+1 prepared statements serve
// any batch size. It is its writer's own: not safe for concurrent use.
type CallInserter struct {
	db    *sql.DB
	stmts [maxCallRowsLog2 + 1]*sql.Stmt // stmts[k] inserts 1<<k rows
	args  []any
}

// NewCallInserter makes an inserter of call rows; Close releases its
// statements.
func (s *Store) NewCallInserter() *CallInserter { return &CallInserter{db: s.db} }

// Insert commits the rows of segs, in order, in one transaction: all or
// nothing. Their IDs are ignored.
//
// It takes no context: with a cancellable one the driver would start a
// goroutine per statement to watch it, at hundreds of thousands of rows a
// second. A statement waits at most the database's busy timeout.
func (in *CallInserter) Insert(segs [][]CallRow) error {
	ctx := context.Background()
	// Prepare before BEGIN: preparing on the pool while the transaction holds
	// a connection would wait forever on a one-connection database.
	for _, rows := range segs {
		if err := in.prepare(ctx, len(rows)); err != nil {
			return err
		}
	}
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	for _, rows := range segs {
		for len(rows) > 0 {
			k := bits.Len(uint(min(len(rows), 1<<maxCallRowsLog2))) - 1
			n := 1 << k
			_, err := tx.StmtContext(ctx, in.stmts[k]).ExecContext(ctx, in.bind(rows[:n])...)
			clear(in.args) // let the strings go
			if err != nil {
				return err
			}
			rows = rows[n:]
		}
	}
	return tx.Commit()
}

// prepare makes the statements a run of n rows needs.
func (in *CallInserter) prepare(ctx context.Context, n int) error {
	for ; n > 0; n &^= 1 << (bits.Len(uint(n)) - 1) {
		k := min(bits.Len(uint(n))-1, maxCallRowsLog2)
		if in.stmts[k] != nil {
			continue
		}
		stmt, err := in.db.PrepareContext(ctx, insertCallsSQL(1<<k))
		if err != nil {
			return err
		}
		in.stmts[k] = stmt
	}
	return nil
}

// insertCallsSQL is the statement for n rows. OR FAIL, not the default
// ABORT: to undo a failed statement's earlier rows, ABORT keeps a journal
// of every existing page the statement changes, which cost a tenth of the
// writer's throughput with this schema (half of it with indexes on the
// parties); the transaction is rolled back whole on any error anyway.
func insertCallsSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR FAIL INTO calls (caller, callee, frequency, outcome, ended_by, setup_at, answered_at, ended_at) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// bind lays out the arguments of rows in the order of insertCallsSQL's
// columns.
func (in *CallInserter) bind(rows []CallRow) []any {
	a := in.args[:0]
	for i := range rows {
		r := &rows[i]
		a = append(a, r.Caller, r.Callee, nullInt(r.Frequency), int64(r.Outcome), int64(r.EndedBy),
			r.SetupAt, nullInt(r.AnsweredAt), r.EndedAt)
	}
	in.args = a
	return a
}

// Close releases the prepared statements.
func (in *CallInserter) Close() {
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

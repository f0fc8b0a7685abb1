package store

import (
	"context"
	"database/sql"
	"strings"
)

// maxStatementRows is the most rows one INSERT carries. Rows per statement
// save a trip through database/sql and the driver per record:
// calls.BenchmarkWriter measured about 260,000 records/s at one row,
// 460,000 at 16, and 490,000 to 540,000 from 64 to 1,024, differences lost
// in the noise; so 64, the smallest statement of the best.
const maxStatementRows = 64

// CallInserter writes batches of call rows for the single writer of call
// records (calls.Writer). It is its writer's own: not safe for concurrent
// use.
//
// A batch of up to maxStatementRows rows, which is every batch but under
// heavy load, is one INSERT in SQLite's autocommit mode: one statement is
// atomic, and it is its own transaction. This saves what a transaction
// costs besides the write: a BEGIN and a COMMIT through cgo, and the
// goroutine database/sql starts for every Tx. With one or two rows a batch,
// as when each ending call gets a commit of its own, that was half of a
// commit (BenchmarkCallInserter). A larger batch is one transaction of
// statements of maxStatementRows rows and one of the rest.
type CallInserter struct {
	db    *sql.DB
	stmts map[insertShape]*sql.Stmt // prepared on first use
	args  []any
}

// insertShape names a prepared INSERT: its number of rows, and whether it
// runs inside a transaction of several (only the statements of
// maxStatementRows rows: at most maxStatementRows+1 statements).
type insertShape struct {
	rows int
	inTx bool
}

// NewCallInserter makes an inserter of call rows; Close releases its
// statements.
func (s *Store) NewCallInserter() *CallInserter {
	return &CallInserter{db: s.db, stmts: map[insertShape]*sql.Stmt{}}
}

// Insert commits the rows of segs, in order, in one transaction: all or
// nothing. Their IDs are ignored.
//
// It takes no context: with a cancellable one the driver would start a
// goroutine per statement to watch it, at hundreds of thousands of rows a
// second. A statement waits at most the database's busy timeout.
func (in *CallInserter) Insert(segs [][]CallRow) error {
	ctx := context.Background()
	rows := rowCursor{segs: segs}
	n := rows.left()
	if n == 0 {
		return nil
	}
	if n <= maxStatementRows {
		stmt, err := in.prepare(ctx, insertShape{rows: n})
		if err != nil {
			return err
		}
		return in.exec(ctx, stmt, &rows, n)
	}
	// Prepare before BEGIN: preparing on the pool while the transaction holds
	// a connection would wait forever on a one-connection database.
	full, err := in.prepare(ctx, insertShape{rows: maxStatementRows, inTx: true})
	if err != nil {
		return err
	}
	var rest *sql.Stmt
	if r := n % maxStatementRows; r > 0 {
		// The autocommit shape: ABORT's journal for one statement of
		// fewer rows costs little, and saves as many statements again.
		if rest, err = in.prepare(ctx, insertShape{rows: r}); err != nil {
			return err
		}
	}
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	for ; n >= maxStatementRows; n -= maxStatementRows {
		if err := in.exec(ctx, tx.StmtContext(ctx, full), &rows, maxStatementRows); err != nil {
			return err
		}
	}
	if n > 0 {
		if err := in.exec(ctx, tx.StmtContext(ctx, rest), &rows, n); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// exec runs stmt with the next n rows.
func (in *CallInserter) exec(ctx context.Context, stmt *sql.Stmt, rows *rowCursor, n int) error {
	a := in.args[:0]
	for range n {
		r := rows.next()
		a = append(a, r.Caller, r.Callee, nullInt(r.Frequency), int64(r.Outcome), int64(r.EndedBy),
			r.SetupAt, nullInt(r.AnsweredAt), r.EndedAt)
	}
	in.args = a
	_, err := stmt.ExecContext(ctx, a...)
	clear(in.args) // let the strings go
	return err
}

// prepare returns the statement of shape s, preparing it the first time.
func (in *CallInserter) prepare(ctx context.Context, s insertShape) (*sql.Stmt, error) {
	if stmt, ok := in.stmts[s]; ok {
		return stmt, nil
	}
	stmt, err := in.db.PrepareContext(ctx, insertCallsSQL(s))
	if err != nil {
		return nil, err
	}
	in.stmts[s] = stmt
	return stmt, nil
}

// insertCallsSQL is the statement of shape s.
//
// The full statements of a transaction (inTx) are INSERT OR FAIL, not the
// default ABORT: to undo
// a failed statement's earlier rows, ABORT keeps a journal of every
// existing page the statement changes, which cost a tenth of the writer's
// throughput with this schema (half of it with indexes on the parties);
// the transaction is rolled back whole on any error anyway.
//
// Otherwise it is ABORT: in autocommit mode SQLite keeps no such journal
// (the statement's rollback is the transaction's), and FAIL would commit
// the rows before a failing one. A transaction's last, shorter statement
// is ABORT too (Insert): its journal costs little.
func insertCallsSQL(s insertShape) string {
	var b strings.Builder
	b.WriteString("INSERT ")
	if s.inTx {
		b.WriteString("OR FAIL ")
	}
	b.WriteString("INTO calls (caller, callee, frequency, outcome, ended_by, setup_at, answered_at, ended_at) VALUES ")
	for i := range s.rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// rowCursor walks the rows of a batch's segments in order.
type rowCursor struct {
	segs [][]CallRow
	i    int // the next row's index in segs[0]
}

func (c *rowCursor) left() int {
	n := -c.i
	for _, s := range c.segs {
		n += len(s)
	}
	return n
}

func (c *rowCursor) next() *CallRow {
	for c.i == len(c.segs[0]) {
		c.segs, c.i = c.segs[1:], 0
	}
	c.i++
	return &c.segs[0][c.i-1]
}

// Close releases the prepared statements.
func (in *CallInserter) Close() {
	for s, stmt := range in.stmts {
		stmt.Close()
		delete(in.stmts, s)
	}
}

// nullInt stores 0, "none", as NULL.
func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// Package store is the service's SQLite database: opening it with the
// pragmas the service relies on, versioned migrations, whether it can be
// written (Fault, Health), and every SQL statement of the service, behind
// typed methods: the alarm history, the HLR's subscribers and the call
// detail records.
//
// The domain packages that keep durable data (hlr, calls) import this one,
// never the other way round: they own what the data means and call the
// store to write and read it. So the store speaks in rows of plain values,
// as stored (SubscriberRow, CallRow: digits as strings, codes as small
// integers, times as unix nanoseconds, 0 or "" for NULL), and each domain
// package turns its own types into rows and back. A row type is what the
// table holds, so the queue of calls.Writer holds CallRows and hands a
// batch to the CallInserter without a copy. The domain packages take the
// *Store itself, not an interface of their own: there is one store, and
// their tests run on real SQLite files.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	// The database/sql driver "sqlite3".
	_ "github.com/mattn/go-sqlite3"
)

// Memory is the path of a private in-memory database, for tests and
// throw-away runs. It lives as long as the Store.
const Memory = ":memory:"

// The pragmas every connection gets. WAL lets readers run beside the single
// writer; synchronous=NORMAL in WAL mode loses nothing on a process crash
// (kill -9), only possibly the last transactions on power loss, which the
// spec accepts; the busy timeout makes a second writer wait rather than fail
// with SQLITE_BUSY; foreign keys are off by default in SQLite.
const (
	wantJournal     = "wal"
	wantSynchronous = 1 // NORMAL
	wantBusyTimeout = 5000
	wantForeignKeys = 1
)

// maxConns bounds the connection pool: SQLite has one writer at a time, so
// more connections only add readers, and a few are enough for this service.
const maxConns = 8

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the database at path, or a private
// in-memory one for Memory, checks its pragmas took and brings its schema up
// to date. A database whose schema is newer than this binary is refused with
// ErrSchemaTooNew.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	db, err := sql.Open("sqlite3", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	memory := path == Memory
	if !memory {
		if err := checkDirWritable(path); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if memory {
		// Each connection to ":memory:" is a separate database: keep exactly
		// one, forever, so every query sees the same data.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	} else {
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
	}
	if err := setUp(ctx, db, memory, migrations()); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

func setUp(ctx context.Context, db *sql.DB, memory bool, ms []migration) error {
	if err := verifyPragmas(ctx, db, memory); err != nil {
		return err
	}
	if err := migrate(ctx, db, ms); err != nil {
		return err
	}
	if err := probeWrite(ctx, db); err != nil {
		return fmt.Errorf("the database cannot be written (check the permissions of the file and its directory, and the free space): %w", err)
	}
	return nil
}

// DB is the underlying pool, for tests that must reach under the typed
// methods (hold the write lock, break a table, read a column). The
// service's SQL lives in this package (internal/archtest checks it).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database; a WAL database is checkpointed by SQLite when
// its last connection closes.
func (s *Store) Close() error { return s.db.Close() }

// dsn puts the pragmas in the data source name so the driver applies them
// to every connection the pool opens, not only the first. The path is made a
// file: URI so that a '?' or '#' in it is escaped instead of read as the
// start of the parameters.
func dsn(path string) string {
	params := url.Values{}
	params.Set("_journal_mode", strings.ToUpper(wantJournal))
	params.Set("_synchronous", "NORMAL")
	params.Set("_busy_timeout", fmt.Sprint(wantBusyTimeout))
	params.Set("_foreign_keys", "on")
	// Writers take the write lock at BEGIN, so two transactions never both
	// read and then fail to upgrade (a deadlock busy_timeout cannot resolve).
	params.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode()
}

// verifyPragmas reads the pragmas back: a driver that ignored a parameter,
// or a file system that cannot do WAL, must stop the start, not go unnoticed.
func verifyPragmas(ctx context.Context, db *sql.DB, memory bool) error {
	var journal string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	want := wantJournal
	if memory {
		want = "memory" // an in-memory database cannot use WAL
	}
	if !strings.EqualFold(journal, want) {
		return fmt.Errorf("journal_mode is %q, want %q", journal, want)
	}
	ints := []struct {
		pragma string
		want   int
	}{
		{"synchronous", wantSynchronous},
		{"busy_timeout", wantBusyTimeout},
		{"foreign_keys", wantForeignKeys},
	}
	for _, p := range ints {
		var got int
		if err := db.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
			return fmt.Errorf("read %s: %w", p.pragma, err)
		}
		if got != p.want {
			return fmt.Errorf("%s is %d, want %d", p.pragma, got, p.want)
		}
	}
	return nil
}

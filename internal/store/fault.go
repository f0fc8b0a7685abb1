package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// ErrStorage is a write the database refused for a reason of the storage,
// not of the data: the disk is full, the file or its directory became
// read-only, an I/O error, the lock not had in time. The same write may
// work later, so the API answers 503 unavailable with Retry-After.
var ErrStorage = errcode.New(errcode.Unavailable, "the database cannot be written now")

// storageCodes are SQLite's primary result codes of storage faults.
var storageCodes = map[sqlite3.ErrNo]bool{
	sqlite3.ErrPerm:     true,
	sqlite3.ErrBusy:     true,
	sqlite3.ErrLocked:   true,
	sqlite3.ErrNomem:    true,
	sqlite3.ErrReadonly: true,
	sqlite3.ErrIoErr:    true,
	sqlite3.ErrFull:     true,
	sqlite3.ErrCantOpen: true,
}

// IsFault tells whether err is a storage fault (see ErrStorage).
func IsFault(err error) bool {
	if errors.Is(err, ErrStorage) {
		return true
	}
	var e sqlite3.Error
	return errors.As(err, &e) && storageCodes[e.Code]
}

// Fault marks err as ErrStorage when it is a storage fault, keeping its
// text; other errors come back as they are.
func Fault(err error) error {
	if err == nil || errors.Is(err, ErrStorage) || !IsFault(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStorage, err)
}

// probeWrite rewrites the probe row in a transaction of its own: it works
// only if the database, its journal and its directory can be written.
func probeWrite(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `INSERT INTO write_probe (id, at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at`, time.Now().UnixNano())
	return err
}

// checkDirWritable refuses a database directory the process cannot create
// files in: SQLite needs it for the database and its -wal and -shm files,
// and would otherwise fail with a bare "unable to open database file".
func checkDirWritable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("database directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("database directory %s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".bsc-write-check-*")
	if err != nil {
		return fmt.Errorf("database directory %s is not writable (the database and its -wal and -shm files live there): %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

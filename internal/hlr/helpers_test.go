package hlr

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/store/storetest"
)

// openDB opens a migrated database file, closed at the end of the test.
func openDB(t testing.TB, path string) *store.Store {
	t.Helper()
	return storetest.Open(t, path)
}

func tempDB(t testing.TB) *store.Store {
	t.Helper()
	return openDB(t, filepath.Join(t.TempDir(), "bsc.db"))
}

// newSubs makes Subscribers over db, closed at the end of the test (before
// the database, as cleanups run last first).
func newSubs(t testing.TB, db *store.Store) *Subscribers {
	t.Helper()
	s, err := NewSubscribers(context.Background(), db, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func msisdn(t testing.TB, s string) MSISDN {
	t.Helper()
	m, err := ParseMSISDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rowCount counts the subscribers' rows in SQL, not through Subscribers.
func rowCount(t testing.TB, db *store.Store) int {
	t.Helper()
	var n int
	if err := db.DB().QueryRow(`SELECT count(*) FROM subscribers`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

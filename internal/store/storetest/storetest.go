// Package storetest opens migrated databases for other packages' tests.
package storetest

import (
	"context"
	"testing"

	"github.com/bsc-sim/bsc/internal/store"
)

// Open opens (creating and migrating if needed) the database file at path,
// closed when the test ends.
func Open(t testing.TB, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestOpenRefusesWhatItCannotWrite: a database the process cannot write
// is refused at start with a message that says so, not served read-only.
func TestOpenRefusesWhatItCannotWrite(t *testing.T) {
	ctx := context.Background()
	t.Run("read-only directory", func(t *testing.T) {
		dir := testutil.Tmpfs(t, 1<<20)
		testutil.MakeReadOnly(t, dir)
		_, err := Open(ctx, filepath.Join(dir, "bsc.db"))
		if err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("Open = %v, want the directory named not writable", err)
		}
	})
	t.Run("database file not writable", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bsc.db")
		st, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		testutil.Immutable(t, path)
		_, err = Open(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "cannot be written") {
			t.Fatalf("Open = %v, want a database that cannot be written refused", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		_, err := Open(ctx, filepath.Join(t.TempDir(), "nowhere", "bsc.db"))
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open = %v, want the missing directory", err)
		}
	})
}

func TestFaultMarksStorageErrors(t *testing.T) {
	cases := []struct {
		err   error
		fault bool
	}{
		{sqlite3.Error{Code: sqlite3.ErrFull}, true},
		{fmt.Errorf("insert: %w", sqlite3.Error{Code: sqlite3.ErrReadonly}), true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr}, true},
		{sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{errors.New("no such table"), false},
	}
	for _, tc := range cases {
		err := Fault(tc.err)
		if got := errors.Is(err, ErrStorage); got != tc.fault {
			t.Errorf("Fault(%v) is ErrStorage: %v, want %v", tc.err, got, tc.fault)
		}
		if tc.fault && errcode.Of(err) != errcode.Unavailable {
			t.Errorf("Fault(%v) has code %q", tc.err, errcode.Of(err))
		}
	}
	if Fault(nil) != nil {
		t.Error("Fault(nil) is not nil")
	}
}

// TestHealthFollowsWriters: the first fault and the last recovery are
// told once each; a one-off writer's fault is cleared by the probe.
func TestHealthFollowsWriters(t *testing.T) {
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "bsc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	var changes []error
	h := NewHealth(st, func(err error) {
		mu.Lock()
		changes = append(changes, err)
		mu.Unlock()
	}, zerolog.Nop())
	defer h.Close()
	seen := func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), changes...)
	}

	full := sqlite3.Error{Code: sqlite3.ErrFull}
	h.Report("calls", full)
	if err := h.Fault("subscribers", errors.New("a constraint")); err == nil || errors.Is(err, ErrStorage) {
		t.Fatalf("Fault of a non-storage error = %v", err)
	}
	if err := h.Fault("subscribers", full); !errors.Is(err, ErrStorage) {
		t.Fatalf("Fault = %v, want ErrStorage", err)
	}
	if got := seen(); len(got) != 1 || got[0] == nil {
		t.Fatalf("changes %v, want the first fault only", got)
	}
	// The probe clears subscribers (the database works), calls stays.
	testutil.Eventually(t, 10*time.Second, "the probe to run", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return !h.probing
	})
	if h.Err() == nil || len(seen()) != 1 {
		t.Fatalf("Err %v, changes %v: calls still fails", h.Err(), seen())
	}
	h.Report("calls", nil)
	if got := seen(); len(got) != 2 || got[1] != nil || h.Err() != nil {
		t.Fatalf("changes %v, Err %v; want a recovery", got, h.Err())
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openT(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pragmaString(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) string {
	t.Helper()
	var v string
	if err := q.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenFreshDatabase(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, path, journal string
	}{
		{"file", filepath.Join(dir, "bsc.db"), "wal"},
		{"path needing escapes", filepath.Join(dir, "a dir?#%", "x.db"), "wal"},
		{"relative", "rel.db", "wal"},
		{"memory", Memory, "memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			if c.path != Memory {
				if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			s := openT(t, c.path)
			if v, want := pragmaString(t, s.DB(), "user_version"), fmt.Sprint(len(migrations())); v != want {
				t.Fatalf("user_version %s, want %s (every embedded migration applied)", v, want)
			}
			if _, err := s.DB().Exec(`SELECT id, alarm, action, severity, source, description, at FROM alarm_history`); err != nil {
				t.Fatalf("alarm_history not created: %v", err)
			}
			if c.path != Memory {
				if _, err := os.Stat(c.path); err != nil {
					t.Fatalf("database not at the literal path: %v", err)
				}
			}
			// Hold several connections at once: the pragmas must be on each
			// pooled connection, not just the one Open verified.
			ctx := context.Background()
			n := 3
			if c.path == Memory {
				n = 1
			}
			for i := 0; i < n; i++ {
				conn, err := s.DB().Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				want := map[string]string{"journal_mode": c.journal, "synchronous": "1", "foreign_keys": "1", "busy_timeout": "5000"}
				for p, w := range want {
					if got := pragmaString(t, conn, p); got != w {
						t.Errorf("connection %d: %s = %s, want %s", i, p, got, w)
					}
				}
			}
		})
	}
}

func TestMemoryDatabasesArePrivate(t *testing.T) {
	a, b := openT(t, Memory), openT(t, Memory)
	if _, err := a.DB().Exec(`CREATE TABLE only_in_a (x)`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DB().Exec(`SELECT * FROM only_in_a`); err == nil {
		t.Fatal("two in-memory stores share a database")
	}
}

func TestReopenIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bsc.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAlarm(ctx, AlarmRecord{Alarm: "no_frequency", Action: ActionSet, Severity: "major"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		s := openT(t, path)
		if v, want := pragmaString(t, s.DB(), "user_version"), fmt.Sprint(len(migrations())); v != want {
			t.Fatalf("reopen %d: user_version %s, want %s", i, v, want)
		}
		recs, err := s.AlarmHistory(ctx, AlarmQuery{})
		if err != nil || len(recs) != 1 {
			t.Fatalf("reopen %d: history %v, %v; want the one record kept", i, recs, err)
		}
		s.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bsc.db")
	s := openT(t, path)
	if _, err := s.DB().Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"99", "1", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestOpenRefusesEmptyPath(t *testing.T) {
	if _, err := Open(context.Background(), ""); err == nil {
		t.Fatal("empty path accepted (SQLite would make a temporary database)")
	}
}

// TestPragmasThatDidNotTakeAreRefused opens with a DSN that asks for
// something else and checks the read-back catches each one.
func TestPragmasThatDidNotTakeAreRefused(t *testing.T) {
	cases := []struct{ from, to, pragma string }{
		{"_journal_mode=WAL", "_journal_mode=DELETE", "journal_mode"},
		{"_synchronous=NORMAL", "_synchronous=OFF", "synchronous"},
		{"_foreign_keys=on", "_foreign_keys=off", "foreign_keys"},
		{"_busy_timeout=5000", "_busy_timeout=10", "busy_timeout"},
	}
	for _, c := range cases {
		t.Run(c.pragma, func(t *testing.T) {
			d := dsn(filepath.Join(t.TempDir(), "bsc.db"))
			if !strings.Contains(d, c.from) {
				t.Fatalf("dsn %q lacks %q", d, c.from)
			}
			db, err := sql.Open("sqlite3", strings.Replace(d, c.from, c.to, 1))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = verifyPragmas(context.Background(), db, false)
			if err == nil || !strings.Contains(err.Error(), c.pragma) {
				t.Fatalf("verifyPragmas = %v, want an error naming %s", err, c.pragma)
			}
		})
	}
}

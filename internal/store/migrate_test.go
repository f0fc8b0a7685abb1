package store

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms := migrations()
	if len(ms) == 0 || ms[0].name != "0001_alarm_history.sql" {
		t.Fatalf("embedded migrations %v", ms)
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name    string
		fs      fstest.MapFS
		want    []string // names in order
		wantErr string
	}{
		{"sorted by version", fstest.MapFS{"0002_b.sql": file("B"), "0001_a.sql": file("A"), "0003_c.sql": file("C")},
			[]string{"0001_a.sql", "0002_b.sql", "0003_c.sql"}, ""},
		{"gap", fstest.MapFS{"0001_a.sql": file(""), "0003_c.sql": file("")}, nil, "0003_c.sql"},
		{"duplicate", fstest.MapFS{"0001_a.sql": file(""), "0001_b.sql": file("")}, nil, "0001_b.sql"},
		{"not from 1", fstest.MapFS{"0002_a.sql": file("")}, nil, "0002_a.sql"},
		{"bad name", fstest.MapFS{"0001_a.sql": file(""), "notes.txt": file("")}, nil, "notes.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms, err := loadMigrations(c.fs)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, m := range ms {
				got = append(got, m.name)
				if m.version != i+1 {
					t.Errorf("%s: version %d", m.name, m.version)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("order %v, want %v", got, c.want)
			}
		})
	}
}

func memoryDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn(Memory))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestMigrateAppliesOnlyWhatIsMissing is the life of a database across
// releases: a new file is applied on the next open, and a broken one rolls
// back completely, leaving the previous version.
func TestMigrateAppliesOnlyWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	db := memoryDB(t)
	v1 := []migration{{1, "0001_a.sql", `CREATE TABLE a (x); INSERT INTO a VALUES (1);`}}
	if err := migrate(ctx, db, v1); err != nil {
		t.Fatal(err)
	}
	// Running again must not re-run 0001 (its INSERT would add a row).
	if err := migrate(ctx, db, v1); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM a`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("table a has %d rows (%v), want 1: migration re-applied", rows, err)
	}

	broken := append(v1, migration{2, "0002_b.sql", `CREATE TABLE b (x); INSERT INTO nowhere VALUES (1);`})
	err := migrate(ctx, db, broken)
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("broken migration: %v, want an error naming it", err)
	}
	if v, _ := userVersion(ctx, db); v != 1 || tableExists(t, db, "b") {
		t.Fatalf("after a failed migration: version %d, table b exists %v; want 1, false", v, tableExists(t, db, "b"))
	}

	fixed := append(v1, migration{2, "0002_b.sql", `CREATE TABLE b (x);`})
	if err := migrate(ctx, db, fixed); err != nil {
		t.Fatal(err)
	}
	if v, _ := userVersion(ctx, db); v != 2 || !tableExists(t, db, "b") {
		t.Fatalf("after adding 0002: version %d, table b exists %v", v, tableExists(t, db, "b"))
	}
}

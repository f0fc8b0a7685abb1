package app

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/config"
)

// SIGHUP re-reads the configuration with the precedence of the start: the
// file changes the pool and the log level, unless a flag pinned them.
func TestReloadKeepsPrecedence(t *testing.T) {
	defer zerolog.SetGlobalLevel(zerolog.GlobalLevel())
	file := filepath.Join(t.TempDir(), "bsc.yaml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("frequencies: 30-32\nlog-level: warn\n")
	noEnv := func(string) string { return "" }
	a, _ := startTestApp(t, nil)
	pool := func() []int {
		alloc, err := a.allocator()
		if err != nil {
			t.Fatal(err)
		}
		return alloc.View().Pool
	}

	a.reload(func() (config.Config, error) {
		return config.Load([]string{"--config", file, "--frequencies", "20-21"}, noEnv)
	})
	if got := pool(); !slices.Equal(got, []int{20, 21}) {
		t.Fatalf("pool %v: the --frequencies flag must beat the file", got)
	}
	if zerolog.GlobalLevel() != zerolog.WarnLevel {
		t.Fatalf("log level %v, want the file's warn", zerolog.GlobalLevel())
	}

	write("frequencies: 40-41\nlog-level: info\n")
	a.reload(func() (config.Config, error) { return config.Load([]string{"--config", file}, noEnv) })
	if got := pool(); !slices.Equal(got, []int{40, 41}) {
		t.Fatalf("pool %v, want the file's 40-41", got)
	}

	write("frequencies: 0\n")
	a.reload(func() (config.Config, error) { return config.Load([]string{"--config", file}, noEnv) })
	if got := pool(); !slices.Equal(got, []int{40, 41}) {
		t.Fatalf("pool %v after a bad file, want it unchanged", got)
	}
}

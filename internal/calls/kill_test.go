package calls

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bsc-sim/bsc/internal/store"
)

const killEnv = "CALLS_KILL_TEST_DB"

// flushedCaller is the caller of the records flushed before the kill.
const flushedCaller = "999000"

// TestFlushedRecordsSurviveKill runs a writer in a child process, which
// flushes records, keeps appending and is then killed with SIGKILL, with
// no Close and no checkpoint: every flushed record must be in the file.
func TestFlushedRecordsSurviveKill(t *testing.T) {
	if path := os.Getenv(killEnv); path != "" {
		if err := killChild(path); err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "bsc.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFlushedRecordsSurviveKill$")
	cmd.Env = append(os.Environ(), killEnv+"="+path)
	stdin, err := cmd.StdinPipe() // the child waits until it is closed
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var flushed int
	lines := bufio.NewScanner(stdout)
	for flushed == 0 && lines.Scan() {
		if _, err := fmt.Sscanf(lines.Text(), "flushed %d", &flushed); err != nil {
			t.Log(lines.Text())
		}
	}
	if flushed == 0 {
		t.Fatal("the child ended without flushing")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // "signal: killed"

	db := reopen(t, path)
	var got int
	if err := db.DB().QueryRow(`SELECT count(*) FROM calls WHERE caller = ?`, flushedCaller).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != flushed {
		t.Fatalf("%d flushed records in the database after kill -9, want %d", got, flushed)
	}
}

func killChild(path string) error {
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	w := NewWriter(st, WriterConfig{})
	const n = 5000
	for i := range n {
		r := sample(i)
		r.Caller = msisdn(flushedCaller)
		if _, err := w.Append(r); err != nil {
			return err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	fmt.Printf("flushed %d\n", n)
	for i := range 20000 { // still being written when the kill comes
		if _, err := w.Append(sample(i)); err != nil {
			break
		}
	}
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

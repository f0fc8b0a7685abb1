package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCallInserter commits batches of a few rows to a database file,
// as the writer does when each ending call gets a commit of its own (a
// light load, or few callers): ns/op is per batch.
func BenchmarkCallInserter(b *testing.B) {
	for _, rows := range []int{1, 2, 5, 64, 200} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "calls.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			in := s.NewCallInserter()
			defer in.Close()
			batch := make([]CallRow, rows)
			for i := range batch {
				batch[i] = callRow(i)
			}
			segs := [][]CallRow{batch}
			for b.Loop() {
				// Calls end in time order: ended_at's index is appended to.
				for i := range batch {
					batch[i].EndedAt += int64(rows) * int64(time.Second)
				}
				if err := in.Insert(segs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

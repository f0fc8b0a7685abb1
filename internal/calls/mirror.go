package calls

import (
	"context"

	"github.com/bsc-sim/bsc/internal/store"
)

// Mirrored is a record from the cluster's calls stream with its sequence
// there, which is its id on every node (docs/cluster.md).
type Mirrored struct {
	Seq    uint64
	Record Record
}

// ApplyMirrored writes recs into st's calls table under their sequences,
// and the stream's position last, in one transaction. A record this binary
// cannot store (from a newer one, say) is skipped, and counted: it must
// not stop the mirror.
func ApplyMirrored(ctx context.Context, st *store.Store, stream string, recs []Mirrored, last uint64) (skipped int, err error) {
	rows := make([]store.CallRow, 0, len(recs))
	for _, m := range recs {
		if m.Record.validate() != nil {
			skipped++
			continue
		}
		row := m.Record.row()
		row.ID = int64(m.Seq)
		rows = append(rows, row)
	}
	return skipped, st.ApplyCallMirror(ctx, stream, rows, last)
}

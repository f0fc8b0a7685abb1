package app

import (
	"context"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/store"
)

// callStore serves the call detail records to the API from the database
// the batching writer fills.
type callStore struct{ st *store.Store }

func (s callStore) List(ctx context.Context, f calls.Filter, afterID int64, limit int) ([]calls.Record, error) {
	return calls.List(ctx, s.st, f, afterID, limit)
}

func (s callStore) Get(ctx context.Context, id int64) (calls.Record, error) {
	return calls.Get(ctx, s.st, id)
}

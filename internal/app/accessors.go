package app

import (
	"context"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/store"
)

// callStore serves the call detail records to the API from the database
// the batching writer fills (on a cluster node, the mirror of the
// cluster's records).
type callStore struct {
	st *store.Store
	// catchUp, in cluster mode, waits until the table holds the records
	// the cluster stored before the read; nil on a single node.
	catchUp func(context.Context) error
}

func (s callStore) List(ctx context.Context, f calls.Filter, afterID int64, limit int) ([]calls.Record, error) {
	if s.catchUp != nil {
		if err := s.catchUp(ctx); err != nil {
			return nil, err
		}
	}
	return calls.List(ctx, s.st, f, afterID, limit)
}

func (s callStore) Get(ctx context.Context, id int64) (calls.Record, error) {
	if s.catchUp != nil {
		if err := s.catchUp(ctx); err != nil {
			return calls.Record{}, err
		}
	}
	return calls.Get(ctx, s.st, id)
}

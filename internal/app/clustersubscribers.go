package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bsc-sim/bsc/internal/cluster"
	"github.com/bsc-sim/bsc/internal/hlr"
)

// subscriberLog is the HLR's log of subscriber writes over the cluster's
// BSC_SUBSCRIBERS stream (hlr.Log): every node applies the stream to its
// own subscribers table, and a write is logged at the position its node
// checked it at, so that uniqueness and all-or-nothing bulks hold across
// the cluster. Attach and detach times stay each node's own.
type subscriberLog struct{ n *clusterNode }

// catchUpWait bounds a wait for this node's copy to catch up: past it the
// request is answered 503, to be tried again.
const catchUpWait = 2 * time.Second

func (l subscriberLog) mirror() (*cluster.Mirror, *cluster.Node, error) {
	m, node := l.n.subs.Load(), l.n.node.Load()
	if m == nil || node == nil {
		return nil, nil, errNotJoined
	}
	return m, node, nil
}

// CatchUp is hlr.Log's.
func (l subscriberLog) CatchUp(ctx context.Context) (uint64, error) {
	m, _, err := l.mirror()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	at, err := m.CatchUp(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errRestarting, err)
	}
	return at, nil
}

// AppendAt is hlr.Log's: it returns once this node applied the write, so
// that the writer's next read sees it.
func (l subscriberLog) AppendAt(ctx context.Context, data []byte, at uint64) (bool, error) {
	m, node, err := l.mirror()
	if err != nil {
		return false, err
	}
	seq, err := node.AppendAt(ctx, cluster.SubscribersSubject, data, at)
	switch {
	case errors.Is(err, cluster.ErrMoved):
		return true, nil
	case errors.Is(err, cluster.ErrTooLarge):
		return false, fmt.Errorf("%w: %v; send it in smaller bulks", hlr.ErrInvalidRequest, err)
	case err != nil:
		return false, fmt.Errorf("%w: the subscriber log: %v", errRestarting, err)
	}
	// Logged on a quorum: the write is made, whatever happens next. The
	// wait is for this node's copy, so that the answer's reader sees it;
	// past catchUpWait (this node's copy stalled: its consumer's server
	// died) the answer is 503, and a retry finds the write made.
	wctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	if _, err := m.WaitFor(wctx, seq); err != nil {
		return false, fmt.Errorf("%w: written, not yet applied here: %v", errRestarting, err)
	}
	return false, nil
}

// mirrorSubscribers starts applying the subscriber log to this node's
// table.
func (n *clusterNode) mirrorSubscribers(ctx context.Context, node *cluster.Node) error {
	subs := n.a.subs
	m, err := n.mirror(ctx, node, node.Schema.Subscribers, subs.ResetLog, func(stream string, msgs []jetstream.Msg, last uint64) error {
		data := make([][]byte, len(msgs))
		for i, m := range msgs {
			data[i] = m.Data()
		}
		return subs.ApplyLog(context.Background(), stream, data, last)
	})
	if err != nil {
		return err
	}
	n.subs.Store(m)
	return nil
}

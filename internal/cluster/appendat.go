package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrMoved: a write made at a position of a log was refused because the
// log moved past it meanwhile; read what was added and try again.
var ErrMoved = errors.New("the log moved on since it was read")

// ErrTooLarge: a message larger than the cluster takes.
var ErrTooLarge = errors.New("larger than the cluster's largest message")

// AppendAt adds data to the stream of subject if its last sequence is
// still at, and returns the sequence it was stored under once a quorum
// has it; ErrMoved if something else was added after at. This is the
// compare-and-set of a log: every writer checks its write against the log
// as it read it, and the log takes only writes checked against all of it,
// so that uniqueness holds cluster-wide without a lock.
func (n *Node) AppendAt(ctx context.Context, subject string, data []byte, at uint64) (uint64, error) {
	if max := n.Engine.NC.MaxPayload(); int64(len(data)) > max {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), max)
	}
	ack, err := n.Engine.JS.Publish(ctx, subject, data, jetstream.WithExpectLastSequence(at))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return 0, ErrMoved
	}
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

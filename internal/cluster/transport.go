package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Forwarded API requests travel as bytes: the HTTP layer writes and reads
// them, this package only carries them to the node that must answer, by
// NATS request and reply on that node's subject.

func httpSubject(node string) string { return "bsc.http." + node }

// DefaultForwardTimeout bounds a forwarded request that says no other
// bound (a long poll waits longer).
const DefaultForwardTimeout = 10 * time.Second

// maxServing bounds the forwarded requests a node serves at once; past it
// the request is answered at once by the refusal the HTTP layer gives.
const maxServing = 256

// ErrNoNode: no node answers for it (down, or cut off).
var ErrNoNode = errors.New("the node that owns it cannot be reached")

// Forward sends req to node and returns its answer, within timeout.
func (n *Node) Forward(ctx context.Context, node string, req []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := n.Engine.NC.RequestWithContext(ctx, httpSubject(node), req)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %s: %v", ErrNoNode, node, err)
		}
		return nil, err
	}
	n.metrics.message("http", "out")
	return msg.Data, nil
}

// Serve answers the requests forwarded to this node with serve, each on a
// goroutine of its own, at most maxServing at once (refuse answers the
// rest), until Stop.
func (n *Node) Serve(serve func(ctx context.Context, req []byte) []byte, refuse func(req []byte) []byte) error {
	sem := make(chan struct{}, maxServing)
	var wg sync.WaitGroup
	sub, err := n.Engine.NC.Subscribe(httpSubject(n.Engine.Node), func(m *nats.Msg) {
		n.metrics.message("http", "in")
		select {
		case sem <- struct{}{}:
		default:
			_ = m.Respond(refuse(m.Data))
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = m.Respond(serve(n.ctx, m.Data))
		}()
	})
	if err != nil {
		return err
	}
	n.onStop(func() {
		_ = sub.Drain()
		wg.Wait()
	})
	return nil
}

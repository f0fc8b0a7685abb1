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
// maxPolling bounds the forwarded long polls apart: they wait for
// seconds, each open event stream of another node keeps one here, and in
// maxServing's slots a few hundred of them would refuse every other
// forwarded request.
const (
	maxServing = 256
	maxPolling = 1024
)

// ErrNoNode: no node answers for it (down, or cut off).
var ErrNoNode = errors.New("the node that owns it cannot be reached")

// Forward sends req to node and returns its answer, within timeout. A
// request in flight to a node seen going down ends at once (ErrNoNode),
// not at its timeout: the client retries, and finds the new owner.
func (n *Node) Forward(ctx context.Context, node string, req []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, context.DeadlineExceeded)
	defer cancel()
	ctx, abort := context.WithCancelCause(ctx)
	defer n.inflight.track(node, abort)()
	msg, err := n.Engine.NC.RequestWithContext(ctx, httpSubject(node), req)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(context.Cause(ctx), errNodeDown) ||
			errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %s: %v", ErrNoNode, node, context.Cause(ctx))
		}
		return nil, err
	}
	n.metrics.Message("http", "out")
	return msg.Data, nil
}

var errNodeDown = errors.New("the node went down")

// forwards are the requests in flight, by the node they went to.
type forwards struct {
	mu   sync.Mutex
	next uint64
	by   map[string]map[uint64]context.CancelCauseFunc
}

// track notes an abort for a request to node; the func it returns forgets it.
func (f *forwards) track(node string, abort context.CancelCauseFunc) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[string]map[uint64]context.CancelCauseFunc{}
	}
	if f.by[node] == nil {
		f.by[node] = map[uint64]context.CancelCauseFunc{}
	}
	f.next++
	id := f.next
	f.by[node][id] = abort
	return func() {
		f.mu.Lock()
		delete(f.by[node], id)
		f.mu.Unlock()
		abort(nil)
	}
}

// down aborts every request in flight to node.
func (f *forwards) down(node string) {
	f.mu.Lock()
	aborts := f.by[node]
	delete(f.by, node)
	f.mu.Unlock()
	for _, abort := range aborts {
		abort(errNodeDown)
	}
}

// Serve answers the requests forwarded to this node with serve, each on a
// goroutine of its own, at most maxServing at once, and at most maxPolling
// of those longPoll tells are long polls (refuse answers the rest), until
// Stop.
func (n *Node) Serve(serve func(ctx context.Context, req []byte) []byte, refuse func(req []byte) []byte,
	longPoll func(req []byte) bool) error {
	requests, polls := make(chan struct{}, maxServing), make(chan struct{}, maxPolling)
	var wg sync.WaitGroup
	sub, err := n.Engine.NC.Subscribe(httpSubject(n.Engine.Node), func(m *nats.Msg) {
		n.metrics.Message("http", "in")
		sem := requests
		if longPoll(m.Data) {
			sem = polls
		}
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

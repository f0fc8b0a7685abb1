package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Forwarded API requests travel as bytes: the HTTP layer writes and reads
// them, this package only carries them to the node that must answer, by
// NATS request and reply on that node's subject.

func httpSubject(node string) string { return "bsc.http." + node }

// cancelSubject is where a node hears that the asking node gave up on a
// request it forwarded (the request's forwardHeader in the message).
func cancelSubject(node string) string { return "bsc.http-cancel." + node }

// forwardHeader names a forwarded request: the asking node and its own
// number for it. A node of the version before sends none, and hears no
// cancel: its requests run to their end, as they did.
const forwardHeader = "Bsc-Forward"

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
//
// A long poll its caller gives up on (the client left) is given up on at
// the node serving it too: it would go on there for up to 10 s, holding
// one of its slots.
func (n *Node) Forward(ctx context.Context, node string, req []byte, timeout time.Duration) ([]byte, error) {
	caller := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, context.DeadlineExceeded)
	defer cancel()
	ctx, abort := context.WithCancelCause(ctx)
	id, forget := n.inflight.track(node, abort)
	defer forget()
	ref := n.Engine.Node + "/" + strconv.FormatUint(id, 10)
	msg, err := n.Engine.NC.RequestMsgWithContext(ctx, &nats.Msg{Subject: httpSubject(node), Data: req,
		Header: nats.Header{forwardHeader: []string{ref}}})
	if err != nil && errors.Is(caller.Err(), context.Canceled) {
		_ = n.Engine.NC.Publish(cancelSubject(node), []byte(ref))
	}
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

// track notes an abort for a request to node, under an id of its own;
// the func it returns forgets it.
func (f *forwards) track(node string, abort context.CancelCauseFunc) (uint64, func()) {
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
	return id, func() {
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
	var served cancels
	cancelSub, err := n.Engine.NC.Subscribe(cancelSubject(n.Engine.Node), func(m *nats.Msg) { served.cancel(string(m.Data)) })
	if err != nil {
		return err
	}
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
		// Only a long poll is given up on when its asker gives up: an
		// action stopped half-way (a call half set up) would leave a
		// state nobody learns of; actions are short, and run to their
		// end, as they did. Named here, not on the goroutine, so that a
		// cancel sent at once finds it.
		ref := ""
		if sem == polls {
			ref = m.Header.Get(forwardHeader)
		}
		ctx, done := served.add(n.ctx, ref)
		wg.Add(1)
		go func() {
			defer func() { done(); <-sem; wg.Done() }()
			_ = m.Respond(serve(ctx, m.Data))
		}()
	})
	if err != nil {
		_ = cancelSub.Unsubscribe()
		return err
	}
	n.onStop(func() {
		_ = sub.Drain()
		_ = cancelSub.Drain()
		wg.Wait()
	})
	return nil
}

// cancels are the forwarded requests being served, by their
// forwardHeader, each with the cancel of its context.
type cancels struct {
	mu sync.Mutex
	by map[string]*servedRequest
}

type servedRequest struct{ cancel context.CancelFunc }

// add gives the context to serve a request named ref under; done forgets
// it. A request with no name can only end by itself. A name seen again
// (its asker restarted, and counts from 0 again) names the newer request;
// the older one's done leaves it named.
func (c *cancels) add(parent context.Context, ref string) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(parent)
	if ref == "" {
		return ctx, cancel
	}
	r := &servedRequest{cancel}
	c.mu.Lock()
	if c.by == nil {
		c.by = map[string]*servedRequest{}
	}
	c.by[ref] = r
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		if c.by[ref] == r {
			delete(c.by, ref)
		}
		c.mu.Unlock()
		cancel()
	}
}

// cancel ends the request named ref, if it is still served (a cancel
// that comes before its request is lost: that request runs to its end).
func (c *cancels) cancel(ref string) {
	c.mu.Lock()
	r := c.by[ref]
	c.mu.Unlock()
	if r != nil {
		r.cancel()
	}
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Mirror applies a stream, message by message in order, to this node's
// database: every node keeps the cluster's call records in its own SQLite,
// from where the API reads them. apply writes a batch and the position of
// its last message in one transaction, so that a batch is applied once
// whatever crashes when; the mirror starts after the position the
// database holds.
type Mirror struct {
	stream jetstream.Stream
	apply  func(msgs []jetstream.Msg, last uint64) error
	n      *Node

	applied  atomic.Uint64
	mu       sync.Mutex
	progress chan struct{}
}

// MirrorBatch bounds the messages applied in one transaction.
const MirrorBatch = 1024

// mirrorPull is how long a mirror's pull request lasts; its heartbeats
// come four times as often.
const mirrorPull = 2 * time.Second

// Mirror starts mirroring stream after sequence from with apply, until the
// node leaves.
func (n *Node) Mirror(stream jetstream.Stream, from uint64, apply func(msgs []jetstream.Msg, last uint64) error) *Mirror {
	m := &Mirror{stream: stream, apply: apply, n: n, progress: make(chan struct{})}
	m.applied.Store(from)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		m.run(n.ctx)
	}()
	return m
}

// run consumes the stream until ctx ends. An ordered consumer is the
// client's: if the server hosting it goes, it is made again from the last
// message received.
func (m *Mirror) run(ctx context.Context) {
	name := m.stream.CachedInfo().Config.Name
	_ = untilDone.Retry(ctx, func(int) (bool, time.Duration) {
		cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
		if from := m.applied.Load(); from > 0 {
			cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from + 1}
		}
		cons, err := m.stream.OrderedConsumer(ctx, cfg)
		if err == nil {
			err = m.consume(ctx, cons)
		}
		if ctx.Err() != nil {
			return false, 0
		}
		m.n.log.Warn().Err(err).Str("stream", name).Msg("mirror interrupted; starting again")
		return true, 0
	}) // it ends with ctx only
}

// consume applies what cons delivers as it arrives, what has arrived
// meanwhile in the same transaction, until ctx ends or the consumer
// fails. The consumer's heartbeats tell a consumer gone with its server
// from a stream with nothing new.
func (m *Mirror) consume(ctx context.Context, cons jetstream.Consumer) error {
	in := make(chan jetstream.Msg, MirrorBatch)
	failed := make(chan error, 1)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		select {
		case in <- msg:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(MirrorBatch),
		// A consumer lives on one server: when that server dies, the
		// missing heartbeats tell within a second, not the default 30 s,
		// and the mirror makes it again elsewhere.
		jetstream.PullExpiry(mirrorPull), jetstream.PullHeartbeat(mirrorPull/4),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				select {
				case failed <- err:
				default:
				}
			}
		}))
	if err != nil {
		return err
	}
	defer cc.Stop()
	quiet := time.NewTicker(mirrorPull)
	defer quiet.Stop()
	arrived, behind := false, false
	for {
		var msgs []jetstream.Msg
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case <-quiet.C:
			// A consumer that delivers nothing while the stream is ahead,
			// two looks in a row, is stuck (seen once for a minute after
			// a node's death, its heartbeats still coming): made again.
			if arrived {
				arrived, behind = false, false
				continue
			}
			if m.behind(ctx) {
				if behind {
					return errMirrorStalled
				}
				behind = true
			}
			continue
		case msg := <-in:
			arrived = true
			msgs = append(msgs, msg)
		}
	drain:
		for len(msgs) < MirrorBatch {
			select {
			case msg := <-in:
				msgs = append(msgs, msg)
			default:
				break drain
			}
		}
		if err := m.applyBatch(ctx, msgs); err != nil {
			return err
		}
	}
}

var errMirrorStalled = errors.New("the stream is ahead and nothing arrives")

// behind tells whether the stream holds messages the mirror has not
// applied (false when it cannot tell).
func (m *Mirror) behind(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, mirrorPull)
	defer cancel()
	info, err := m.stream.Info(ctx)
	return err == nil && info.State.LastSeq > m.applied.Load()
}

// applyBatch applies msgs, trying again until it works (the database may
// be failing for a while) or ctx ends.
func (m *Mirror) applyBatch(ctx context.Context, msgs []jetstream.Msg) error {
	meta, err := msgs[len(msgs)-1].Metadata()
	if err != nil {
		return err
	}
	last := meta.Sequence.Stream
	for {
		err := m.apply(msgs, last)
		if err == nil {
			break
		}
		m.n.log.Warn().Err(err).Msg("mirror batch not applied; trying again")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	m.applied.Store(last)
	m.mu.Lock()
	close(m.progress)
	m.progress = make(chan struct{})
	m.mu.Unlock()
	return nil
}

// ErrBehind: the mirror did not catch up in time.
var ErrBehind = errors.New("this node's copy is behind the cluster's")

// CatchUp returns once everything the stream held when it was called is
// applied, or ErrBehind when ctx ends first: a read after it sees every
// write acknowledged before it. It returns the position applied.
func (m *Mirror) CatchUp(ctx context.Context) (uint64, error) {
	last, err := m.n.Engine.lastSeq(ctx, m.stream.CachedInfo().Config.Name)
	if err != nil {
		return m.applied.Load(), fmt.Errorf("%w: %v", ErrBehind, err)
	}
	return m.WaitFor(ctx, last)
}

// WaitFor returns once the message of sequence seq is applied (and every
// one before it), or ErrBehind when ctx ends first. It returns the
// position applied.
func (m *Mirror) WaitFor(ctx context.Context, seq uint64) (uint64, error) {
	for {
		m.mu.Lock()
		progress := m.progress
		m.mu.Unlock()
		if at := m.applied.Load(); at >= seq {
			return at, nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return m.applied.Load(), fmt.Errorf("%w: at %d of %d", ErrBehind, m.applied.Load(), seq)
		}
	}
}

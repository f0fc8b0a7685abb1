package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The buckets and streams of a cluster, all replicated on Engine.Replicas
// servers with every write synced (the embedded servers' SyncAlways; an
// external cluster must be configured so).
const (
	bucketCluster = "bsc-cluster" // what every node must agree on: the number of cells
	bucketNodes   = "bsc-nodes"   // node presence: a key per node, renewed, expiring
	bucketCells   = "bsc-cells"   // cell leases: a key per owned cell, renewed, expiring
	bucketLoc     = "bsc-loc"     // the HLR location: a key per attached MSISDN, its cell
	bucketOpen    = "bsc-open"    // the calls in progress: a key per call, until its record is stored
	streamCalls   = "BSC_CALLS"   // the call records, one message per record
	// the HLR's subscriber table as a log of its writes, one message per
	// write (a create, a bulk, a delete), from which every node keeps its
	// own table
	streamSubscribers = "BSC_SUBSCRIBERS"
)

// Subjects of the streams.
const (
	// CallsSubject + a cell is the subject of that cell's call records.
	CallsSubject = "bsc.calls."
	// SubscribersSubject is the subject of the subscriber writes.
	SubscribersSubject = "bsc.subscribers"
	// OpenSubject + a key is the subject of a write to the bucket of the
	// calls in progress (the journal writes its keys as messages).
	OpenSubject = "$KV." + bucketOpen + "."
)

// callsDedup is how long the calls stream remembers a record's id to drop
// a second copy: a retried publish, or a dropped record the next owner of
// a cell writes for a call whose own record was stored after all.
const callsDedup = 10 * time.Minute

// callsMaxBytes bounds the calls stream; every node keeps the records in
// its database too, from where GET /api/v1/calls reads them. A node that
// was away longer than the stream holds catches up only what it holds.
const callsMaxBytes = 4 << 30

// subscribersMaxBytes bounds the subscriber log. It is the table's only
// history (a node that joins replays it whole), so nothing old is
// discarded: past the bound, writes are refused (4 GiB is some 80 million
// single creates, or a billion subscribers in bulks).
const subscribersMaxBytes = 4 << 30

// MaxMessage is the largest message the embedded servers take: a bulk of
// 100,000 subscribers is one message of about 4 MB.
const MaxMessage = 8 << 20

// Lease timing. A lease is renewed every renewEvery; a node that has not
// renewed for fenceAfter stops acting for the cell, which the others may
// take once the key expires (leaseTTL after the last renew was stored: the
// TTL is whole seconds, one at least). fenceAfter < leaseTTL, measured
// from when the renew was sent (before it was stored), is what keeps two
// nodes from ever acting for one cell at once.
const (
	leaseTTL   = time.Second
	renewEvery = 250 * time.Millisecond
	fenceAfter = 700 * time.Millisecond
	// markerTTL keeps the deletion marker of an expired key long enough
	// for every watcher to see it.
	markerTTL = 10 * time.Second
)

// Schema is the cluster's buckets, made or bound by OpenSchema.
type Schema struct {
	Cluster, Nodes, Cells, Location, Open jetstream.KeyValue
	Calls, Subscribers                    jetstream.Stream
}

// OpenSchema makes (or binds) the buckets and checks that this node agrees
// with the cluster on the number of cells: the first node to start sets
// it, a node with another refuses to join.
func OpenSchema(ctx context.Context, e *Engine, cells int) (*Schema, error) {
	s := &Schema{}
	var err error
	if s.Cluster, err = e.bucket(ctx, jetstream.KeyValueConfig{Bucket: bucketCluster}); err != nil {
		return nil, err
	}
	ttl := jetstream.KeyValueConfig{History: 1, LimitMarkerTTL: markerTTL}
	ttl.Bucket = bucketNodes
	if s.Nodes, err = e.bucket(ctx, ttl); err != nil {
		return nil, err
	}
	ttl.Bucket = bucketCells
	if s.Cells, err = e.bucket(ctx, ttl); err != nil {
		return nil, err
	}
	if s.Location, err = e.bucket(ctx, jetstream.KeyValueConfig{Bucket: bucketLoc, History: 1}); err != nil {
		return nil, err
	}
	if s.Open, err = e.bucket(ctx, jetstream.KeyValueConfig{Bucket: bucketOpen, History: 1}); err != nil {
		return nil, err
	}
	if s.Calls, err = e.stream(ctx, jetstream.StreamConfig{Name: streamCalls, Subjects: []string{CallsSubject + ">"},
		Duplicates: callsDedup, MaxBytes: callsMaxBytes, Discard: jetstream.DiscardOld}); err != nil {
		return nil, err
	}
	if s.Subscribers, err = e.stream(ctx, jetstream.StreamConfig{Name: streamSubscribers, Subjects: []string{SubscribersSubject},
		MaxBytes: subscribersMaxBytes, Discard: jetstream.DiscardNew, MaxMsgSize: MaxMessage}); err != nil {
		return nil, err
	}
	if err := s.agreeCells(ctx, cells); err != nil {
		return nil, err
	}
	return s, nil
}

// bucket binds the bucket, or makes it if no node has. Every node tries at
// start, at once: each attempt is short and retried, since an answer lost
// while the JetStream cluster settles would otherwise hold the start.
func (e *Engine) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = e.Replicas
	var kv jetstream.KeyValue
	var err error
	if untilDone.Retry(ctx, func(int) (bool, time.Duration) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		kv, err = e.JS.KeyValue(actx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = e.JS.CreateKeyValue(actx, cfg)
		}
		return err != nil, 0
	}) != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// stream binds the stream, or makes it, as bucket does.
func (e *Engine) stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = e.Replicas
	var st jetstream.Stream
	var err error
	if untilDone.Retry(ctx, func(int) (bool, time.Duration) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		st, err = e.JS.CreateOrUpdateStream(actx, cfg)
		return err != nil, 0
	}) != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	return st, nil
}

// ErrCellsDisagree: this node's --cells is not the cluster's.
var ErrCellsDisagree = errors.New("--cells disagrees with the cluster")

// agreeCells sets the cluster's number of cells, or reads it, retried as
// bucket is: the key another node just wrote may not yet be on the replica
// that answers the read (reads go to any replica).
func (s *Schema) agreeCells(ctx context.Context, cells int) error {
	mine := strconv.Itoa(cells)
	var theirs string
	var err error
	if untilDone.Retry(ctx, func(int) (bool, time.Duration) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		theirs = mine
		if _, err = s.Cluster.Create(actx, "cells", []byte(mine)); !errors.Is(err, jetstream.ErrKeyExists) {
			return err != nil, 0
		}
		var got jetstream.KeyValueEntry
		if got, err = s.Cluster.Get(actx, "cells"); err == nil {
			theirs = string(got.Value())
		}
		return err != nil, 0
	}) != nil {
		return fmt.Errorf("the number of cells: %w", err)
	}
	if theirs != mine {
		return fmt.Errorf("%w: the cluster has %s cells, this node was started with --cells %s", ErrCellsDisagree, theirs, mine)
	}
	return nil
}

package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Directory is the HLR location shared by the cluster: which cell each
// attached phone is in (the book's ETS lookup table, but one that outlives
// a node). It is a bucket of one key per attached MSISDN whose value is
// the cell; every node keeps a copy in memory from a watch, for routing
// and for controllers, which must never wait. An attach writes the key
// before it is answered, and a node that misses a key in its copy (the
// watch not there yet) asks the bucket's leader: an attach answered on any
// node is seen by a call set up on any other.
type Directory struct {
	e     *Engine
	kv    jetstream.KeyValue
	cells int
	log   zerolog.Logger

	mu    sync.RWMutex
	where map[uint64]int // MSISDN -> cell
	seen  uint64         // the newest revision applied (watch or CatchUp), every one before it too
	ready chan struct{}  // closed once the initial values are in
	once  sync.Once
}

func newDirectory(e *Engine, kv jetstream.KeyValue, cells int, log zerolog.Logger) *Directory {
	return &Directory{e: e, kv: kv, cells: cells, log: log, where: map[uint64]int{}, ready: make(chan struct{})}
}

// load reads the whole bucket before the node serves.
func (d *Directory) load(ctx context.Context) error {
	lister, err := d.kv.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return err
	}
	for range lister.Keys() {
		// The watch, started next, delivers every current value first;
		// listing here only proves the bucket answers.
	}
	return nil
}

// watch keeps the copy up to date until ctx ends. A watch that cannot
// start (the engine electing the leader its consumer needs) or that ends
// is started again: until the first one has delivered the initial values
// the node does not join (Ready).
func (d *Directory) watch(ctx context.Context) {
	log := d.log.Sample(&zerolog.BurstSampler{Burst: 1, Period: 5 * time.Second})
	_ = untilDone.Retry(ctx, func(int) (bool, time.Duration) {
		err := d.follow(ctx)
		if ctx.Err() != nil {
			return false, 0
		}
		log.Warn().Err(err).Msg("the HLR location's watch stopped; watching it again")
		return true, 0
	})
}

// follow applies one watch's values until it ends.
func (d *Directory) follow(ctx context.Context) error {
	// Creating the watch's consumer is bounded by the client's API
	// timeout; ctx ends the watch. Its own context, ended with it: the
	// client keeps a goroutine per subscription until its context ends,
	// which the node's would not before the node stops.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A watch started again goes on from the copy's last revision: from
	// scratch, it would bring the whole bucket again (a million phones)
	// at every move of its leader, for apply to skip.
	var opts []jetstream.WatchOpt
	select {
	case <-d.ready:
		d.mu.RLock()
		opts = append(opts, jetstream.ResumeFromRevision(d.seen+1))
		d.mu.RUnlock()
	default:
	}
	w, err := d.kv.WatchAll(ctx, opts...)
	if err != nil {
		return err
	}
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil {
			d.once.Do(func() { close(d.ready) })
			continue
		}
		d.apply(storedMsg{key: e.Key(), data: e.Value(), seq: e.Revision(), deleted: e.Operation() != jetstream.KeyValuePut})
	}
	return errors.New("the watch ended")
}

// apply puts one revision of a key in the copy, unless the copy has it
// already: the watch and CatchUp both bring revisions, each in order, and
// one that the copy is past is superseded (or applied).
func (d *Directory) apply(m storedMsg) {
	msisdn, err := strconv.ParseUint(m.key, 10, 64)
	d.mu.Lock()
	defer d.mu.Unlock()
	if m.seq <= d.seen {
		return
	}
	d.seen = m.seq
	switch {
	case err != nil:
	case m.deleted:
		delete(d.where, msisdn)
	default:
		if c, err := strconv.Atoi(string(m.data)); err == nil {
			d.where[msisdn] = c
		}
	}
}

// CatchUp brings the copy to the bucket as it is when called, reading
// what the watch has not brought yet from the bucket's leader: a node
// taking a cell over attaches again the phones the copy puts in it, and a
// copy behind would leave out the latest attaches. The watch may lag for
// seconds when the engine's leaders move (its consumer is re-created
// after missed heartbeats); the leader's stream answers sooner.
// Each read is sent again while the bucket elects its leader
// (leaderRequest): one request left waiting out the whole bound held a
// failover for 5 s after the leader was elected.
func (d *Directory) CatchUp(ctx context.Context) error {
	last, err := d.e.lastSeq(ctx, "KV_"+bucketLoc)
	if err != nil {
		return err
	}
	for {
		d.mu.RLock()
		next := d.seen + 1
		d.mu.RUnlock()
		if next > last {
			return nil
		}
		m, err := d.e.leaderMsg(ctx, bucketLoc, map[string]any{"seq": next, "next_by_subj": "$KV." + bucketLoc + ".>"})
		switch {
		case errors.Is(err, errNoKey):
			return nil // nothing stored past the copy
		case err != nil:
			return err
		}
		d.apply(m)
	}
}

// Ready is closed once the copy holds every location written before the
// node started watching.
func (d *Directory) Ready() <-chan struct{} { return d.ready }

// Cell is the cell of an attached phone, from the copy.
func (d *Directory) Cell(msisdn uint64) (int, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	c, ok := d.where[msisdn]
	return c, ok
}

// Lookup is Cell, asking the bucket when the copy does not know: an
// attach answered on another node a moment ago is in the bucket before it
// reaches this node's copy. What the bucket says is kept in the copy when it is newer than anything the
// watch applied (the watch brings the same value later), so that the
// controllers, which only read the copy, see it.
func (d *Directory) Lookup(ctx context.Context, msisdn uint64) (int, bool, error) {
	if c, ok := d.Cell(msisdn); ok {
		return c, true, nil
	}
	v, rev, err := d.e.leaderGet(ctx, bucketLoc, strconv.FormatUint(msisdn, 10))
	switch {
	case errors.Is(err, errNoKey):
		return 0, false, nil
	case err != nil:
		return 0, false, err // not known: not "not attached"
	}
	c, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, false, nil
	}
	d.mu.Lock()
	if rev > d.seen {
		d.where[msisdn] = c
	}
	d.mu.Unlock()
	return c, true, nil
}

// Attached tells whether msisdn is attached, read from the bucket rather
// than from this node's view, which may not have heard of the latest
// attach or detach yet.
func (d *Directory) Attached(ctx context.Context, msisdn uint64) (bool, error) {
	_, _, err := d.e.leaderGet(ctx, bucketLoc, strconv.FormatUint(msisdn, 10))
	switch {
	case errors.Is(err, errNoKey):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// Attach records that msisdn is attached in cell; it returns once the
// cluster has it.
func (d *Directory) Attach(ctx context.Context, msisdn uint64, cell int) error {
	rev, err := d.kv.Put(ctx, strconv.FormatUint(msisdn, 10), []byte(strconv.Itoa(cell)))
	if err == nil {
		d.mu.Lock()
		if rev > d.seen {
			d.where[msisdn] = cell
		}
		d.mu.Unlock()
	}
	return err
}

// Detach forgets msisdn's location.
func (d *Directory) Detach(ctx context.Context, msisdn uint64) error {
	err := d.kv.Delete(ctx, strconv.FormatUint(msisdn, 10))
	if err == nil { // a failed delete leaves the phone where the bucket has it
		d.mu.Lock()
		delete(d.where, msisdn)
		d.mu.Unlock()
	}
	return err
}

// InCell is the MSISDNs attached in cell, from the copy: what a node taking
// the cell over attaches again.
func (d *Directory) InCell(cell int) []uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []uint64
	for m, c := range d.where {
		if c == cell {
			out = append(out, m)
		}
	}
	return out
}

// HomeCell is the cell of a phone attached without naming one: a stable
// hash of its number.
func HomeCell(msisdn uint64, cells int) int {
	x := msisdn * 0x9e3779b97f4a7c15
	return int((x >> 32) % uint64(cells))
}

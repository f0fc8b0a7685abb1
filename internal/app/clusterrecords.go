package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bsc-sim/bsc/internal/backoff"
	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/cluster"
	"github.com/bsc-sim/bsc/internal/hlr"
)

// Call records in cluster mode (docs/cluster.md): a call's record goes to
// the replicated calls stream, and the action that ended the call is
// answered once a quorum stored it. A call in progress has a note in the
// bsc-open bucket from its setup (the call action waits for it) until its
// record is stored; the next owner of a cell whose node died writes a
// dropped record for each note left. The record and the dropped record of
// one call carry the same message id, so the stream keeps one. Every node
// applies the stream to its own calls table, from where GET /api/v1/calls
// reads.

// recordVersion is the version of the record and note messages.
const recordVersion = 1

// callNote is a call in progress, as its note says.
type callNote struct {
	V       int        `json:"v"`
	Caller  hlr.MSISDN `json:"caller"`
	Callee  hlr.MSISDN `json:"callee"`
	SetupAt time.Time  `json:"setup_at"`
	Node    string     `json:"node"`
	Epoch   uint64     `json:"epoch"`
}

// wireRecord is a record on the calls stream.
type wireRecord struct {
	V int `json:"v"`
	calls.Record
}

// callKey names a call cluster-wide: its cell, its caller (one call at a
// time) and its setup time.
func callKey(cell int, caller hlr.MSISDN, setupAt time.Time) string {
	return strconv.Itoa(cell) + "." + caller.String() + "." + strconv.FormatInt(setupAt.UnixNano(), 10)
}

// clusterRecords is a cell's phonefsm.Recorder in cluster mode.
type clusterRecords struct{ c *cell }

func (r clusterRecords) journal() *cluster.Journal { return r.c.a.cluster.node.Load().Journal }

// Reserve keeps room for a call's note and its record.
func (r clusterRecords) Reserve() error {
	err := r.journal().Reserve(2)
	if errors.Is(err, cluster.ErrJournalFull) {
		r.c.a.shed()
	}
	return err
}

// Open writes the call's note.
func (r clusterRecords) Open(caller, callee hlr.MSISDN, setupAt time.Time) calls.Ticket {
	note := callNote{V: recordVersion, Caller: caller, Callee: callee, SetupAt: setupAt.UTC(),
		Node: r.c.a.cfg.Node, Epoch: r.c.epoch}
	data, _ := json.Marshal(note)
	msg := &nats.Msg{Subject: cluster.OpenSubject + callKey(r.c.id, note.Caller, setupAt), Data: data}
	cluster.FirstOnSubject(msg) // a try after a lost ack must not bring back a note removed since
	t, err := r.journal().Publish(msg, true)
	if err != nil {
		r.c.a.lostLog.Error().Err(err).Stringer("caller", note.Caller).Msg("call note not written")
	}
	return calls.Ticket(t)
}

// Record writes the call's record, then removes its note.
func (r clusterRecords) Record(rec calls.Record) calls.Ticket {
	id := r.c.id
	rec.Cell, rec.Node, rec.Epoch = &id, r.c.a.cfg.Node, r.c.epoch
	t, err := publishRecord(r.journal(), rec, true)
	if err != nil {
		r.c.a.lostLog.Error().Err(err).Stringer("caller", rec.Caller).Stringer("callee", rec.Callee).Msg("call record lost")
	}
	return calls.Ticket(t)
}

// publishRecord hands rec to the journal under its call's message id, and
// the removal of its note once it is stored. A note left (the removal
// left out of a full journal, or the node stopped first) is harmless: the
// dropped record the cell's next owner writes for it is refused as a
// duplicate.
func publishRecord(j *cluster.Journal, rec calls.Record, reserved bool) (uint64, error) {
	data, err := json.Marshal(wireRecord{V: recordVersion, Record: rec})
	if err != nil {
		return 0, err
	}
	key := callKey(*rec.Cell, rec.Caller, rec.SetupAt)
	msg := &nats.Msg{Subject: cluster.CallsSubject + strconv.Itoa(*rec.Cell), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "call."+key)
	del := &nats.Msg{Subject: cluster.OpenSubject + key, Header: nats.Header{}}
	del.Header.Set("KV-Operation", "DEL")
	return j.PublishThen(msg, del, reserved)
}

// Wait waits, up to the writer's bound, for the ticket's message to be
// stored on a quorum.
func (r clusterRecords) Wait(ctx context.Context, t calls.Ticket) error {
	ctx, cancel := context.WithTimeout(ctx, calls.DefaultWaitTimeout)
	defer cancel()
	err := r.journal().Wait(ctx, uint64(t))
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: not stored on a quorum in %v", calls.ErrNotCommitted, calls.DefaultWaitTimeout)
	}
	return err
}

// dropLeftCalls writes a dropped record for each call of c whose note is
// left: calls in progress when the cell's last owner died.
func (n *clusterNode) dropLeftCalls(ctx context.Context, c *cell) int {
	node := n.node.Load()
	var notes [][]byte
	var err error
	_ = notesRetry.Retry(ctx, func(int) (bool, time.Duration) {
		rctx, cancel := context.WithTimeout(ctx, notesWait)
		defer cancel()
		notes, err = node.Notes(rctx, strconv.Itoa(c.id)+".>")
		return err != nil, 0
	})
	if err != nil {
		n.a.log.Error().Err(err).Int("cell", c.id).Msg("calls in progress of the cell not read: their records may be missing")
		return 0
	}
	dropped := 0
	for _, raw := range notes {
		var note callNote
		if json.Unmarshal(raw, &note) != nil || note.Epoch >= c.epoch {
			continue // a call of this owner's, made since it took the cell
		}
		id := c.id
		rec := calls.Record{Caller: note.Caller, Callee: note.Callee, Outcome: calls.Dropped, EndedBy: calls.EndedBySystem,
			SetupAt: note.SetupAt, EndedAt: time.Now().UTC(), Cell: &id, Node: n.Node(), Epoch: c.epoch}
		if _, err := publishRecord(node.Journal, rec, false); err != nil {
			n.a.log.Error().Err(err).Stringer("caller", note.Caller).Msg("dropped call's record not written")
			continue
		}
		dropped++
	}
	return dropped
}

// Reading the notes of a cell taken over is tried five times, each for
// notesWait: the engine may be electing a leader for the bucket.
var notesRetry = backoff.Policy{Base: 100 * time.Millisecond, Cap: 2 * time.Second, Attempts: 5}

const notesWait = 2 * time.Second

// mirror starts applying stream to this node's database with apply, from
// the position the database holds; a database that holds another
// stream's (a cluster made again, a single node's) is reset first.
func (n *clusterNode) mirror(ctx context.Context, node *cluster.Node, s jetstream.Stream,
	reset func(ctx context.Context, stream, uid string) error,
	apply func(stream string, msgs []jetstream.Msg, last uint64) error) (*cluster.Mirror, error) {
	info := s.CachedInfo()
	stream, uid := info.Config.Name, info.Created.UTC().Format(time.RFC3339Nano)
	have, seq, err := n.a.store.MirrorPosition(ctx, stream)
	if err != nil {
		return nil, err
	}
	if have != uid {
		if err := reset(ctx, stream, uid); err != nil {
			return nil, err
		}
		seq = 0
	}
	return node.Mirror(s, seq, func(msgs []jetstream.Msg, last uint64) error { return apply(stream, msgs, last) }), nil
}

// mirrorCalls starts applying the calls stream to this node's calls table.
func (n *clusterNode) mirrorCalls(ctx context.Context, node *cluster.Node) error {
	st := n.a.store
	m, err := n.mirror(ctx, node, node.Schema.Calls, st.ResetCallMirror, func(stream string, msgs []jetstream.Msg, last uint64) error {
		recs := make([]calls.Mirrored, 0, len(msgs))
		for _, m := range msgs {
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			var w wireRecord
			if json.Unmarshal(m.Data(), &w) != nil {
				continue
			}
			recs = append(recs, calls.Mirrored{Seq: meta.Sequence.Stream, Record: w.Record})
		}
		skipped, err := calls.ApplyMirrored(context.Background(), st, stream, recs, last)
		n.a.health.Report("calls", err)
		if skipped > 0 {
			n.a.log.Warn().Int("records", skipped).Msg("call records this binary cannot store were skipped")
		}
		return err
	})
	if err != nil {
		return err
	}
	n.calls.Store(m)
	return nil
}

// catchUp waits, a little, until this node's calls table holds every
// record stored before the call: a record an action was answered for on
// any node is listed by GET /api/v1/calls on every node.
func (n *clusterNode) catchUp(ctx context.Context) error {
	m := n.calls.Load()
	if m == nil {
		return errNotJoined
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	if _, err := m.CatchUp(ctx); err != nil {
		return fmt.Errorf("%w: %v", errRestarting, err)
	}
	return nil
}

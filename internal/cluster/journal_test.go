package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// loneEngine is a node's engine on a NATS server of its own (as with
// --nats-url), JetStream ready, with a stream "J" of subjects j.>.
func loneEngine(t *testing.T) *Engine {
	t.Helper()
	srv := natsServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
	e, err := StartEngine(EngineConfig{Node: "n1", URLs: []string{srv.ClientURL()}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "J", Subjects: []string{"j.>"}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// natsServer runs a NATS server with opts on a free loopback port until
// the test ends.
func natsServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs = "127.0.0.1", server.RANDOM_PORT, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// blackhole is a subject a plain subscriber takes and never answers: a
// message the journal publishes there is never acked (as one a leader
// stepped down holding), until open gives the subject to stream J.
type blackhole struct {
	t     *testing.T
	e     *Engine
	sub   *nats.Subscription
	taken chan struct{}
}

const blackholeSubject = "blackhole"

func newBlackhole(t *testing.T, e *Engine) *blackhole {
	t.Helper()
	b := &blackhole{t: t, e: e, taken: make(chan struct{}, 16)}
	var err error
	if b.sub, err = e.NC.Subscribe(blackholeSubject, func(*nats.Msg) { b.taken <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	return b
}

// tries waits until the journal has published there n times.
func (b *blackhole) tries(n int) {
	b.t.Helper()
	for try := range n {
		select {
		case <-b.taken:
		case <-time.After(2 * journalAckWait):
			b.t.Fatalf("try %d of a message never acked not published within %v", try+1, 2*journalAckWait)
		}
	}
}

// open lets the next try be stored.
func (b *blackhole) open(ctx context.Context) {
	b.t.Helper()
	_ = b.sub.Unsubscribe()
	if _, err := b.e.JS.UpdateStream(ctx, jetstream.StreamConfig{Name: "J", Subjects: []string{"j.>", blackholeSubject}}); err != nil {
		b.t.Fatal(err)
	}
}

// testJournal is a journal on e, closed (within a second) when the test ends.
func testJournal(t *testing.T, e *Engine) *Journal {
	j := NewJournal(e, 16, zerolog.Nop())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = j.Close(ctx)
	})
	return j
}

// A message whose ack never comes (here a subject a plain subscriber
// takes and never answers; in a cluster, a leader that stepped down
// holding it) is published again, rather than holding the journal, which
// stores in order, forever; its waiters wait on, and a flush with them.
func TestJournalAMessageNeverAckedIsPublishedAgain(t *testing.T) {
	e := loneEngine(t)
	hole := newBlackhole(t, e)
	j := testJournal(t, e)
	stuck, _ := j.Publish(nats.NewMsg(blackholeSubject), false)
	hole.tries(2)
	// The subject opens: the next try is stored, and so is what was
	// queued behind it.
	ctx, cancel := context.WithTimeout(context.Background(), 4*journalAckWait)
	defer cancel()
	hole.open(ctx)
	behind, _ := j.Publish(nats.NewMsg("j.1"), false)
	if err := j.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for _, ticket := range []uint64{stuck, behind} {
		if err := j.Wait(ctx, ticket); err != nil {
			t.Errorf("ticket %d: %v", ticket, err)
		}
	}
}

// A FirstOnSubject message (a call's note) published again after its
// subject was taken by a later message (the note's removal) is done with:
// not reported failed, not stored over the later message.
func TestJournalAFirstOnSubjectMessageDoesNotComeBack(t *testing.T) {
	e := loneEngine(t)
	j := testJournal(t, e)
	note := func() *nats.Msg {
		m := &nats.Msg{Subject: "j.note", Data: []byte("note")}
		FirstOnSubject(m)
		return m
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range []*nats.Msg{note(), {Subject: "j.note", Data: []byte("removed")}, note()} {
		ticket, _ := j.Publish(m, false)
		if err := j.Wait(ctx, ticket); err != nil {
			t.Fatalf("%s: %v", m.Data, err)
		}
	}
	s, err := e.JS.Stream(ctx, "J")
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetLastMsgForSubject(ctx, "j.note")
	if err != nil {
		t.Fatal(err)
	}
	if string(last.Data) != "removed" {
		t.Errorf("the subject's last message: %q, want the removal", last.Data)
	}
}

// A message Close gives up on (its stop time ran out) is not reported
// stored to whoever waits for it.
func TestJournalCloseGivingUpFailsTheWaiters(t *testing.T) {
	e := loneEngine(t)
	j := NewJournal(e, 16, zerolog.Nop())
	stored, _ := j.Publish(nats.NewMsg("j.1"), false)
	if err := j.Wait(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	lost, _ := j.Publish(nats.NewMsg("nowhere"), false) // no stream: never stored
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Close(ctx); err == nil {
		t.Error("Close reports everything stored")
	}
	if err := j.Wait(context.Background(), lost); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("waiting for a message given up at Close: %v, want ErrNotReplicated", err)
	}
	if err := j.Wait(context.Background(), stored); err != nil {
		t.Errorf("waiting for a message stored before: %v", err)
	}
}

// PublishThen's second message is handed over only once the first is
// stored, whatever tries that took: a call's note is never removed before
// its record is stored. A flush waits for both.
func TestJournalThenFollowsItsMessage(t *testing.T) {
	e := loneEngine(t)
	hole := newBlackhole(t, e)
	j := testJournal(t, e)
	if _, err := j.PublishThen(nats.NewMsg(blackholeSubject), nats.NewMsg("j.then"), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*journalAckWait)
	defer cancel()
	s, err := e.JS.Stream(ctx, "J")
	if err != nil {
		t.Fatal(err)
	}
	hole.tries(2)
	if _, err := s.GetLastMsgForSubject(ctx, "j.then"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the second message before the first was stored: %v, want none stored", err)
	}
	hole.open(ctx)
	if err := j.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	first, err := s.GetLastMsgForSubject(ctx, blackholeSubject)
	if err != nil {
		t.Fatal(err)
	}
	then, err := s.GetLastMsgForSubject(ctx, "j.then")
	if err != nil {
		t.Fatalf("the second message after the flush: %v", err)
	}
	if then.Sequence < first.Sequence {
		t.Errorf("stored at %d, before the first message (%d)", then.Sequence, first.Sequence)
	}
}

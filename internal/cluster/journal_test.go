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
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(srv.Shutdown)
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

// A message whose ack never comes (here a subject a plain subscriber
// takes and never answers; in a cluster, a leader that stepped down
// holding it) fails its waiters and is published again, rather than
// holding the journal, which stores in order, forever; a flush then
// waits for it through the failed tries.
func TestJournalAMessageNeverAckedIsTriedAgain(t *testing.T) {
	e := loneEngine(t)
	taken := make(chan struct{}, 16)
	sub, err := e.NC.Subscribe("blackhole", func(*nats.Msg) { taken <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	j := NewJournal(e, 16, zerolog.Nop())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = j.Close(ctx)
	}()
	stuck, _ := j.Publish(nats.NewMsg("blackhole"), false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*journalAckWait)
	defer cancel()
	if err := j.Wait(ctx, stuck); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("waiting for a message never acked: %v, want ErrNotReplicated before %v", err, 2*journalAckWait)
	}
	<-taken
	<-taken // published again
	// The subscriber goes, a stream takes the subject: the next try is
	// stored, and so is what was queued behind it.
	_ = sub.Unsubscribe()
	if _, err := e.JS.UpdateStream(ctx, jetstream.StreamConfig{Name: "J", Subjects: []string{"j.>", "blackhole"}}); err != nil {
		t.Fatal(err)
	}
	behind, _ := j.Publish(nats.NewMsg("j.1"), false)
	fctx, fcancel := context.WithTimeout(context.Background(), 4*journalAckWait)
	defer fcancel()
	if err := j.Flush(fctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err := j.Wait(fctx, behind); err != nil {
		t.Errorf("the message behind: %v", err)
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

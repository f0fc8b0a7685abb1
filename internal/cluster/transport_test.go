package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestLongPollsLeaveRoomForRequests: as many long polls waiting as the
// forwarded requests' bound leave a forwarded request served, not refused:
// the polls are bounded apart.
func TestLongPollsLeaveRoomForRequests(t *testing.T) {
	nc, err := nats.Connect(natsServer(t, &server.Options{}).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	n := &Node{Engine: &Engine{Node: "n1", NC: nc}, ctx: context.Background()}
	release := make(chan struct{})
	polling := make(chan struct{}, maxServing)
	serve := func(_ context.Context, req []byte) []byte {
		if string(req) == "poll" {
			polling <- struct{}{}
			<-release
			return []byte("page")
		}
		return []byte("answer")
	}
	refuse := func([]byte) []byte { return []byte("refused") }
	if err := n.Serve(serve, refuse, func(req []byte) bool { return string(req) == "poll" }); err != nil {
		t.Fatal(err)
	}
	var polls sync.WaitGroup
	defer func() {
		close(release)
		polls.Wait()
		n.runStops()
	}()
	for range maxServing {
		polls.Go(func() { _, _ = nc.Request(httpSubject("n1"), []byte("poll"), 30*time.Second) })
	}
	for range maxServing {
		<-polling // every poll holds its slot
	}
	msg, err := nc.Request(httpSubject("n1"), []byte("get"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "answer" {
		t.Fatalf("a request beside %d long polls: %q, want it served", maxServing, msg.Data)
	}
}

// TestForwardGivenUpEndsWhereServed: a forwarded request whose caller
// gives up (the client left) ends on the node serving it too, rather than
// going on there for its bound (a long poll: 10 s, holding a slot).
func TestForwardGivenUpEndsWhereServed(t *testing.T) {
	nc, err := nats.Connect(natsServer(t, &server.Options{}).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	n := &Node{Engine: &Engine{Node: "n1", NC: nc}, ctx: context.Background()}
	started, ended, over := make(chan struct{}), make(chan struct{}), make(chan struct{})
	serve := func(ctx context.Context, _ []byte) []byte {
		close(started)
		select {
		case <-ctx.Done():
			close(ended)
		case <-over: // the test failed: let the node stop
		}
		return []byte("page")
	}
	if err := n.Serve(serve, func([]byte) []byte { return nil }, func([]byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	defer func() { close(over); n.runStops() }()
	ctx, leave := context.WithCancel(context.Background())
	forwarded := make(chan error, 1)
	go func() {
		_, err := n.Forward(ctx, "n1", []byte("poll"), time.Minute)
		forwarded <- err
	}()
	<-started
	leave()
	if err := <-forwarded; err == nil {
		t.Fatal("a forward given up on answered")
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the request served went on after its caller gave up")
	}
}

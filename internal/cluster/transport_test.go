package cluster

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestLongPollsLeaveRoomForRequests: as many long polls waiting as the
// forwarded requests' bound leave a forwarded request served, not refused:
// the polls are bounded apart.
func TestLongPollsLeaveRoomForRequests(t *testing.T) {
	n := &Node{Engine: loneEngine(t), ctx: context.Background()}
	nc := n.Engine.NC
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

// TestForwardGivenUpEndsWhereServed: a forwarded long poll whose caller
// gives up (the client left) ends on the node serving it too, rather than
// going on there for its bound (10 s, holding a slot); a forwarded action
// whose caller gives up runs to its end (stopped half-way, a call half set
// up would be left). Cancels are handled in the order sent: the poll's
// ending shows the action's cancel was handled before.
func TestForwardGivenUpEndsWhereServed(t *testing.T) {
	n := &Node{Engine: loneEngine(t), ctx: context.Background()}
	started, pollEnded, over := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	actionCtx := make(chan context.Context, 1)
	serve := func(ctx context.Context, req []byte) []byte {
		if string(req) == "action" {
			actionCtx <- ctx
			started <- struct{}{}
			<-over
			return []byte("done")
		}
		started <- struct{}{}
		select {
		case <-ctx.Done():
			close(pollEnded)
		case <-over: // the test failed: let the node stop
		}
		return []byte("page")
	}
	if err := n.Serve(serve, func([]byte) []byte { return nil }, func(req []byte) bool { return string(req) == "poll" }); err != nil {
		t.Fatal(err)
	}
	defer func() { close(over); n.runStops() }()
	giveUp := func(req string) {
		ctx, leave := context.WithCancel(context.Background())
		forwarded := make(chan error, 1)
		go func() {
			_, err := n.Forward(ctx, "n1", []byte(req), time.Minute)
			forwarded <- err
		}()
		<-started
		leave()
		if err := <-forwarded; err == nil {
			t.Fatalf("a forwarded %s given up on answered", req)
		}
	}
	giveUp("action")
	giveUp("poll")
	select {
	case <-pollEnded:
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll served went on after its caller gave up")
	}
	if err := (<-actionCtx).Err(); err != nil {
		t.Fatalf("the action served was stopped when its caller gave up: %v", err)
	}
}

// A name seen again (its asker restarted and counts from 0 again) names
// the newer request: the older one's end does not make it uncancellable.
func TestCancelsNameTheNewerRequest(t *testing.T) {
	var c cancels
	_, oldDone := c.add(context.Background(), "n2/1")
	newCtx, newDone := c.add(context.Background(), "n2/1")
	defer newDone()
	oldDone()
	c.cancel("n2/1")
	if newCtx.Err() == nil {
		t.Fatal("the newer request of a name seen again was not cancelled")
	}
}

package sup

import (
	"context"
	"errors"
	"testing"
)

// TestMailboxTryPost: TryPost takes messages up to the bound, in order,
// refuses the next with ErrMailboxFull, and refuses everything with ErrDead
// once the process has ended, full or not.
func TestMailboxTryPost(t *testing.T) {
	tests := []struct {
		name   string
		queued int  // messages posted first
		closed bool // the process has ended
		want   error
	}{
		{"empty", 0, false, nil},
		{"room left", 2, false, nil},
		{"full", 3, false, ErrMailboxFull},
		{"ended", 0, true, ErrDead},
		{"ended and full", 3, true, ErrDead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewMailbox[int](3)
			for i := range tt.queued {
				if err := b.TryPost(i); err != nil {
					t.Fatalf("TryPost %d: %v", i, err)
				}
			}
			if tt.closed {
				b.Close()
			}
			if err := b.TryPost(-1); !errors.Is(err, tt.want) {
				t.Fatalf("TryPost = %v, want %v", err, tt.want)
			}
			if b.Ended() != tt.closed {
				t.Fatalf("Ended = %v, want %v", b.Ended(), tt.closed)
			}
			for i := range tt.queued {
				if got := <-b.Receive(); got != i {
					t.Fatalf("received %d, want %d", got, i)
				}
			}
			if tt.want == nil && !tt.closed {
				if got := <-b.Receive(); got != -1 {
					t.Fatalf("received %d, want the last post, -1", got)
				}
			}
		})
	}
}

// endedContext is a context that has already ended.
func endedContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestMailboxPost: Post on a full mailbox waits until the process makes
// room, and fails with ErrDead once it has ended, or with ctx's error.
func TestMailboxPost(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		then func(b *Mailbox[int]) // what happens while Post waits
		want error
	}{
		{"room made", context.Background(), func(b *Mailbox[int]) { <-b.Receive() }, nil},
		{"ended", context.Background(), (*Mailbox[int]).Close, ErrDead},
		{"ctx ended", endedContext(), func(*Mailbox[int]) {}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewMailbox[int](1)
			if err := b.Post(context.Background(), 1); err != nil {
				t.Fatalf("Post into an empty mailbox: %v", err)
			}
			res := make(chan error, 1)
			go func() { res <- b.Post(tt.ctx, 2) }()
			tt.then(b)
			if err := <-res; !errors.Is(err, tt.want) {
				t.Fatalf("Post = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestMailboxCrashCoalesces: Crash never blocks, and requests made before
// the process takes one are one request.
func TestMailboxCrashCoalesces(t *testing.T) {
	b := NewMailbox[int](1)
	for range 3 {
		b.Crash()
	}
	pending := func() bool {
		select {
		case <-b.CrashRequested():
			return true
		default:
			return false
		}
	}
	if !pending() {
		t.Fatal("no crash request after Crash")
	}
	if pending() {
		t.Fatal("three Crash calls made two requests")
	}
	b.Crash()
	if !pending() {
		t.Fatal("no crash request after a Crash once the first was taken")
	}
}

// TestAwait: the reply, the end, or ctx, whichever comes; a reply given
// before the end wins even when the end is seen first.
func TestAwait(t *testing.T) {
	tests := []struct {
		name    string
		ctx     context.Context
		replied bool // the reply is given before Await
		closed  bool // the reply channel is closed (a chan struct{} reply)
		ended   bool // the process has ended before Await
		want    error
	}{
		{"replied", context.Background(), true, false, false, nil},
		{"replied by close", context.Background(), false, true, false, nil},
		{"replied then ended", context.Background(), true, false, true, nil},
		{"replied by close then ended", context.Background(), false, true, true, nil},
		{"ended", context.Background(), false, false, true, ErrDead},
		{"ctx ended", endedContext(), false, false, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Both branches of Await's select are taken at random when the
			// reply and the end are both ready: try it enough times to take
			// each.
			for range 100 {
				reply, ended := make(chan int, 1), make(chan struct{})
				if tt.replied {
					reply <- 7
				}
				if tt.closed {
					close(reply)
				}
				if tt.ended {
					close(ended)
				}
				got, err := Await(tt.ctx, reply, ended)
				if !errors.Is(err, tt.want) {
					t.Fatalf("Await = %v, want %v", err, tt.want)
				}
				if want := map[bool]int{true: 7}[tt.replied]; got != want {
					t.Fatalf("Await = %d, want %d", got, want)
				}
			}
		})
	}
}

// TestAwaitReplyThenEnd: a process that replies to its last message and
// ends at once gives its sender the reply, never ErrDead.
func TestAwaitReplyThenEnd(t *testing.T) {
	type req struct{ reply chan int }
	for i := range 200 {
		b := NewMailbox[req](1)
		go func() {
			r := <-b.Receive()
			r.reply <- i
			b.Close()
		}()
		r := req{reply: make(chan int, 1)}
		if err := b.TryPost(r); err != nil {
			t.Fatalf("TryPost: %v", err)
		}
		got, err := Await(context.Background(), r.reply, b.Done())
		if err != nil || got != i {
			t.Fatalf("Await = %d, %v; want %d, nil", got, err, i)
		}
	}
}

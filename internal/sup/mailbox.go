package sup

import "context"

// A Mailbox is the goroutine kind's mailbox (see Go), as Light is the
// light kind's: a bounded channel of messages the process's goroutine
// selects on, a request to crash (fault injection), and the process's end.
// It exists so that every goroutine process posts, refuses, crashes and
// ends the same way, and so that "post, then wait for the reply or the
// end" (Await) is written once. Its refusals are the light kind's errors:
// ErrMailboxFull, and ErrDead once the process has ended.
//
// Only the process's goroutine receives, and it calls Close once, as it
// ends; anyone may post, ask for a crash or wait for the end.
type Mailbox[T any] struct {
	ch    chan T
	crash chan struct{} // capacity 1: requests coalesce
	done  chan struct{} // closed by Close
}

// NewMailbox makes a mailbox holding at most size messages.
func NewMailbox[T any](size int) *Mailbox[T] {
	return &Mailbox[T]{ch: make(chan T, size), crash: make(chan struct{}, 1), done: make(chan struct{})}
}

// TryPost puts m in the mailbox without blocking. It fails with ErrDead
// once the process has ended and with ErrMailboxFull when the mailbox is
// at its bound.
func (b *Mailbox[T]) TryPost(m T) error {
	if b.Ended() {
		return ErrDead
	}
	select {
	case b.ch <- m:
		return nil
	default:
		return ErrMailboxFull
	}
}

// Post puts m in the mailbox, waiting for room. It fails with ErrDead if
// the process ends first, or with ctx's error.
func (b *Mailbox[T]) Post(ctx context.Context, m T) error {
	select {
	case b.ch <- m:
		return nil
	case <-b.done:
		return ErrDead
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Receive is the process's side of the mailbox, for its select loop.
func (b *Mailbox[T]) Receive() <-chan T { return b.ch }

// Crash asks the process to crash, without blocking; a request already
// pending absorbs this one.
func (b *Mailbox[T]) Crash() {
	select {
	case b.crash <- struct{}{}:
	default:
	}
}

// CrashRequested is where the process's loop receives Crash's requests; it
// panics on one, so that the crash is reported as a real one would be.
func (b *Mailbox[T]) CrashRequested() <-chan struct{} { return b.crash }

// Close marks the process's end: posts fail with ErrDead from now on, and
// the senders waiting in Await stop waiting. The process's goroutine
// calls it exactly once, as it ends; messages still in the mailbox are
// never handled.
func (b *Mailbox[T]) Close() { close(b.done) }

// Done is closed once the process has ended.
func (b *Mailbox[T]) Done() <-chan struct{} { return b.done }

// Ended tells whether the process has ended.
func (b *Mailbox[T]) Ended() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// Await waits for the reply to a message posted to a process: it returns
// what reply yields (a value sent, or the zero value once reply is
// closed), ErrDead once ended is closed, or ctx's error. A reply given
// just before the end still wins: ended is only believed once reply is
// seen to be empty. If ctx ends first, the process may still handle the
// message.
func Await[R any](ctx context.Context, reply <-chan R, ended <-chan struct{}) (R, error) {
	var zero R
	select {
	case r := <-reply:
		return r, nil
	case <-ended:
		select { // handled just before the end?
		case r := <-reply:
			return r, nil
		default:
			return zero, ErrDead
		}
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

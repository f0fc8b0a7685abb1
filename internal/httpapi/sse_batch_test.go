package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/hw"
)

// Replies already waiting go out in the same write, in order, at most
// sseBatch at a time; a subscription that ends while draining is noticed.
func TestReplyBatch(t *testing.T) {
	id := func(r hw.Reply) string { return fmt.Sprint(r.Seq) }
	c := make(chan hw.Reply, 2*sseBatch)
	for i := 2; i <= sseBatch+10; i++ {
		c <- hw.Reply{Seq: uint64(i), Type: hw.Busy}
	}
	text, open := replyBatch(hw.Reply{Seq: 1, Type: hw.Busy}, c, id)
	if n := strings.Count(text, "id: "); n != sseBatch || !open {
		t.Fatalf("%d events in the batch (open %v), want %d", n, open, sseBatch)
	}
	if !strings.HasPrefix(text, "id: 1\n") || !strings.Contains(text, fmt.Sprintf("id: %d\n", sseBatch)) {
		t.Fatalf("batch out of order: %q", text[:40])
	}
	close(c)
	text, open = replyBatch(<-c, c, id)
	if n := strings.Count(text, "id: "); n != 10 || open {
		t.Fatalf("%d events, open %v; want the 10 left and the end noticed", n, open)
	}
}

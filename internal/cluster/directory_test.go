package cluster

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestDirectoryWatchResumes: a watch started again (its leader moved, its
// consumer gone) goes on from the copy's last revision: what was written
// while it was down, a delete included, reaches the copy, and what it had
// stays.
func TestDirectoryWatchResumes(t *testing.T) {
	e := loneEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := e.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucketLoc, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	put := func(m uint64, cell int) {
		t.Helper()
		if _, err := kv.Put(ctx, strconv.FormatUint(m, 10), []byte(strconv.Itoa(cell))); err != nil {
			t.Fatal(err)
		}
	}
	put(1, 1)
	put(2, 2)
	d := newDirectory(e, kv, 4, zerolog.Nop())

	first, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.follow(first) }()
	<-d.Ready()
	stop()
	<-done

	put(3, 3)
	if err := kv.Delete(ctx, "2"); err != nil {
		t.Fatal(err)
	}
	second, stop2 := context.WithCancel(ctx)
	done2 := make(chan struct{})
	go func() { defer close(done2); _ = d.follow(second) }()
	defer func() { stop2(); <-done2 }()
	testutil.Eventually(t, 10*time.Second, "the writes made while the watch was down", func() bool {
		c, ok := d.Cell(3)
		_, two := d.Cell(2)
		return ok && c == 3 && !two
	})
	// Resumed, not read from scratch (apply would skip what it has, so
	// the copy alone cannot tell): the watch's consumer starts at 3.
	stream, err := e.JS.Stream(ctx, "KV_"+bucketLoc)
	if err != nil {
		t.Fatal(err)
	}
	var starts []uint64
	consumers := stream.ListConsumers(ctx)
	for info := range consumers.Info() {
		if info.Config.DeliverPolicy == jetstream.DeliverByStartSequencePolicy {
			starts = append(starts, info.Config.OptStartSeq)
		}
	}
	if err := consumers.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(starts, []uint64{3}) {
		t.Errorf("the watch started again from %v, want one consumer from revision 3", starts)
	}
	if c, ok := d.Cell(1); !ok || c != 1 {
		t.Fatalf("phone 1 after the watch resumed: cell %d, %v; want 1", c, ok)
	}
}

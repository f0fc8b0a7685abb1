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

// Losses next to each other in a replay make one lost event, at the last
// one's position, naming each phone once.
func TestReplayedEvents(t *testing.T) {
	id := func(r hw.Reply) string { return fmt.Sprint(r.Pos) }
	reply := func(m string, pos uint64) hw.Replayed {
		return hw.Replayed{Reply: hw.Reply{MSISDN: m, Seq: 1, Type: hw.Busy, Pos: pos}}
	}
	loss := func(m string, pos uint64) hw.Replayed {
		return hw.Replayed{Reply: hw.Reply{MSISDN: m, Pos: pos}, Lost: true}
	}
	items := []hw.Replayed{reply("1", 1), loss("2", 3), loss("3", 4), loss("2", 6), reply("3", 7), loss("4", 8)}
	var got []string
	for _, ev := range strings.SplitAfter(replayedEvents(items, id), "\n\n") {
		if ev != "" {
			got = append(got, strings.ReplaceAll(strings.TrimSpace(ev), "\n", " | "))
		}
	}
	want := []string{
		`id: 1 | event: busy | data: {"seq":1,"msisdn":"1","type":"busy","at":"0001-01-01T00:00:00Z"}`,
		`id: 6 | event: lost | data: {"reason":"dropped","phones":["2","3"]}`,
		`id: 7 | event: busy | data: {"seq":1,"msisdn":"3","type":"busy","at":"0001-01-01T00:00:00Z"}`,
		`id: 8 | event: lost | data: {"reason":"dropped","phones":["4"]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

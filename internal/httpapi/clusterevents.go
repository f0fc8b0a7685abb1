package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bsc-sim/bsc/internal/backoff"
	"github.com/bsc-sim/bsc/internal/hw"
)

// The stream of every phone's replies in cluster mode (docs/cluster.md).
// A node's hub holds the replies of the phones it runs only, so the node a
// client streams from merges its own hub's replies with those of every
// other live node. It long-polls each of them, one relay loop per node for
// the life of the client's stream, for pages of that node's hub stream:
// the page form of GET /api/v1/events, a forwarded GET without Accept:
// text/event-stream, which only nodes ask (a client gets 406 as on a
// single node). Nothing is done per reply while nobody streams: a page is
// read from the phones' rings and a subscription that lives for one poll.
//
// An event's id names where the client stands on every node, so that one
// Last-Event-ID resumes the whole merge, on any node: NODE:RUN-POS, one per
// node, in node order, joined by '.' (node names have neither).

const (
	// maxPageItems bounds a page of a node's replies. An item's JSON is at
	// most about 150 bytes (a reply, its position), so a page is at most
	// about 80 kB, well under maxForwardedAnswer.
	maxPageItems = 512
	// maxIDNodes bounds the nodes an event id names.
	maxIDNodes = 64
	// maxNodeName is the longest node name (config's --node).
	maxNodeName = 64
	// membersEvery is how often a stream looks for nodes that joined or
	// left.
	membersEvery = time.Second
)

// peerRetry is the wait before polling again a node that could not be
// polled: capped exponential back-off with full jitter, so that the
// streams of every node do not come back to a node at once.
var peerRetry = backoff.Policy{Base: 250 * time.Millisecond, Cap: 5 * time.Second}

// GlobalPage is a page of one node's stream of every phone's replies, the
// answer to the page form of GET /api/v1/events.
type GlobalPage struct {
	Run   string     `json:"run"`
	Items []PageItem `json:"items"`
	// Next is what the next poll asks after: the last item's position, or
	// the asked one (for none asked, the node's last) when there is none.
	Next uint64 `json:"next"`
	// Reset: the position asked is not of this run (the node restarted):
	// the items start from the first this run's rings hold.
	Reset bool `json:"reset,omitempty"`
}

// PageItem is a reply of a page and its position, or, without a reply,
// the news that replies of the phone Lost up to Pos are gone (hw.Replayed).
type PageItem struct {
	Pos   uint64    `json:"pos"`
	Reply *hw.Reply `json:"reply,omitempty"`
	Lost  string    `json:"lost,omitempty"`
}

// pageItem is it as a page carries it.
func pageItem(it hw.Replayed) PageItem {
	if it.Lost {
		return PageItem{Pos: it.Pos, Lost: it.MSISDN}
	}
	return PageItem{Pos: it.Pos, Reply: &it.Reply}
}

// replayed is the item of a page as the hub's replay gives it.
func (it PageItem) replayed() hw.Replayed {
	if it.Reply == nil {
		return hw.Replayed{Reply: hw.Reply{MSISDN: it.Lost, Pos: it.Pos}, Lost: true}
	}
	rep := *it.Reply
	rep.Pos = it.Pos
	return hw.Replayed{Reply: rep}
}

// page answers a node's poll of this node's replies, for ?msisdn= (every
// phone if none): after ?after= (RUN-POS; 0: all the rings hold; none:
// from now, answered at once with the last position), waiting up to ?wait=
// seconds for one, at most maxPageItems of them.
func (ev *events) page(w http.ResponseWriter, r *http.Request) error {
	filter, err := msisdnFilter(r)
	var wait time.Duration
	if err == nil {
		wait, err = waitParam(r)
	}
	run, now := ev.s.Hub.Run(), ev.s.Hub.Position()
	page := GlobalPage{Run: run, Items: []PageItem{}, Next: now}
	switch after := r.URL.Query().Get("after"); {
	case err != nil:
	case after == "":
		WriteJSON(w, http.StatusOK, page)
		return nil
	case after == "0":
		page.Next = 0
	default:
		prun, pos, ok := parseRunPos(after)
		switch {
		case !ok:
			err = fmt.Errorf("%w: after must be RUN-POSITION", errInvalidRequest)
		case prun != run || pos > now:
			page.Next, page.Reset = 0, true
		default:
			page.Next = pos
		}
	}
	if err != nil {
		return err
	}
	ctx, done, err := ev.admitPoll(r)
	if err != nil {
		return err
	}
	defer done()
	sub, err := ev.s.Hub.ResumeAll(filter, page.Next)
	if err != nil {
		return err
	}
	defer sub.Close()
	if page.Items = readHubPage(ctx, sub, wait); len(page.Items) > 0 {
		page.Next = page.Items[len(page.Items)-1].Pos
	} else {
		// Nothing up to now matched (the replay went at least that far):
		// the next poll starts there, not again from the same place.
		page.Next = max(page.Next, now)
	}
	if r.Context().Err() != nil {
		// Nobody to answer: the stream that polled has ended, its asker
		// gave up on the poll, or this node stops.
		return nil
	}
	WriteJSON(w, http.StatusOK, page)
	return nil
}

// readHubPage reads up to maxPageItems of sub: its replay, then, if that
// had nothing, the first live reply within wait (or ctx), then those
// already waiting.
func readHubPage(ctx context.Context, sub *hw.Subscription, wait time.Duration) []PageItem {
	items := []PageItem{}
	buf := make([]hw.Replayed, 0, sseBatch)
	for {
		got, done := sub.Replay(buf[:0:min(sseBatch, maxPageItems-len(items))])
		for _, it := range got {
			items = append(items, pageItem(it))
		}
		if !done && len(items) == maxPageItems {
			return items // the next poll resumes the replay from the last
		}
		if done {
			break
		}
	}
	live := func(rep hw.Reply) { items = append(items, pageItem(hw.Replayed{Reply: rep})) }
	if len(items) == 0 && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case rep, ok := <-sub.C():
			if !ok {
				return items
			}
			live(rep)
		case <-t.C:
			return items
		case <-ctx.Done():
			return items
		}
	}
	for len(items) < maxPageItems {
		select {
		case rep, ok := <-sub.C():
			if !ok {
				return items
			}
			live(rep)
		default:
			return items
		}
	}
	return items
}

// runPos is a place in one node's hub stream.
type runPos struct {
	run string
	pos uint64
}

func (p runPos) String() string { return p.run + "-" + strconv.FormatUint(p.pos, 10) }

// clusterCursor is where a client stands on each node: the place of the
// last of its replies sent.
type clusterCursor map[string]runPos

// id is the cursor as an event id: NODE:RUN-POS for each node, in node
// order, joined by '.'.
func (c clusterCursor) id() string {
	var b strings.Builder
	for i, node := range slices.Sorted(maps.Keys(c)) {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(node)
		b.WriteByte(':')
		b.WriteString(c[node].String())
	}
	return b.String()
}

// parseClusterID reads an event id of a cluster's global stream.
func parseClusterID(s string) (clusterCursor, error) {
	errBad := fmt.Errorf("%w: Last-Event-ID must be an event id of this stream (NODE:RUN-POSITION for each node, joined by '.')",
		errInvalidRequest)
	if strings.Count(s, ".") >= maxIDNodes {
		return nil, errBad
	}
	c := clusterCursor{}
	for part := range strings.SplitSeq(s, ".") {
		node, rp, ok := strings.Cut(part, ":")
		run, pos, posOK := parseRunPos(rp)
		if _, seen := c[node]; !ok || !posOK || seen || !nodeName(node) {
			return nil, errBad
		}
		c[node] = runPos{run, pos}
	}
	return c, nil
}

// nodeName tells whether s could be a node's name: 1 to maxNodeName
// letters, digits, - and _.
func nodeName(s string) bool {
	if s == "" || len(s) > maxNodeName {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// clusterEvents is allEvents in cluster mode: this node's replies, from
// its hub, merged with every other live node's, relayed. Given
// Last-Event-ID (or ?after=), each node resumes from its place in it: one
// whose run changed (it restarted) says so with a "lost" event
// (unknown_run) and gives all its rings hold, as does a node the id does
// not name (all it has is new to the client), without the event. Without
// one, the stream starts from now on the nodes live then, and from all
// the rings hold on those that join later.
func (ev *events) clusterEvents(w http.ResponseWriter, r *http.Request) error {
	filter, from, stopping, err := openGlobal(ev, r, clusterStreamCursor)
	if err != nil {
		return err
	}
	defer ev.release()
	if r.Method == http.MethodHead {
		beginStream(w, r, "") // the headers alone: no node is asked
		return nil
	}

	self, run := ev.s.Cluster.Node(), ev.s.Hub.Run()
	sent := maps.Clone(from) // where the client stands: the ids' cursor
	if sent == nil {
		sent = clusterCursor{}
	}
	var first string
	local := runPos{run, ev.s.Hub.Position()}
	if from != nil {
		switch c, ok := from[self]; {
		case !ok:
			local.pos = 0
		case c.run != run:
			local.pos = 0
			sent[self] = local
			first = unknownRunEvent(sent.id())
		default:
			local.pos = c.pos // ResumeAll refuses one ahead, as on a single node
		}
	}
	sub, err := ev.s.Hub.ResumeAll(filter, local.pos)
	if err != nil {
		return err
	}
	defer sub.Close()
	sent[self] = local
	starts := map[string]string{} // the other nodes' first polls
	for node, c := range from {
		starts[node] = c.String()
	}
	if from == nil {
		// From now: the other nodes' now, taken before the client is
		// answered, so that every reply after the answer is streamed and
		// the first id names every node. One that does not answer now
		// starts from its now at its first poll.
		for _, node := range ev.s.Cluster.Live() {
			starts[node] = ""
		}
		for node, now := range ev.nowOf(r, filter) {
			sent[node], starts[node] = now, now.String()
		}
	}

	// The relay loops end with the stream: stopped, then waited for.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(stopping, cancel)()
	relayed := make(chan func() string)
	// apply makes the events of node's page, moving the cursor; it runs in
	// the stream's goroutine, the cursor's only user.
	apply := func(node string, p GlobalPage) string {
		var b strings.Builder
		if p.Reset {
			sent[node] = runPos{p.Run, 0}
			b.WriteString(unknownRunEvent(sent.id()))
		}
		sent[node] = runPos{p.Run, p.Next}
		items := make([]hw.Replayed, len(p.Items))
		for i, it := range p.Items {
			items[i] = it.replayed()
		}
		b.WriteString(replayedEvents(items, func(rep hw.Reply) string {
			sent[node] = runPos{p.Run, rep.Pos}
			return sent.id()
		}))
		return b.String()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ev.relayNodes(ctx, r, filter, starts, func(node string, p GlobalPage) bool {
			select {
			case relayed <- func() string { return apply(node, p) }:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	id := func(rep hw.Reply) string {
		sent[self] = runPos{run, rep.Pos}
		return sent.id()
	}
	ev.stream(stopping, w, r, sub, id, first, relayed)
	return nil
}

// clusterStreamCursor reads Last-Event-ID, else ?after=, as a cluster
// event id; nil when none is given.
func clusterStreamCursor(r *http.Request) (clusterCursor, error) {
	s := resumeFrom(r)
	if s == "" {
		return nil, nil
	}
	return parseClusterID(s)
}

// nodeRelay is the relay loop of one node: where its next poll starts,
// which it keeps across a stop and a start (the node left and came back).
type nodeRelay struct {
	after  string // ?after= of the next poll, written by the loop only
	cancel context.CancelFunc
	done   chan struct{}
}

// nowTimeout bounds the wait for the other nodes' positions at the start
// of a stream from now; one that does not answer in time starts from its
// first poll.
const nowTimeout = 2 * time.Second

// nowOf asks every other live node, at once, for its last position.
func (ev *events) nowOf(r *http.Request, filter []string) map[string]runPos {
	ctx, cancel := context.WithTimeout(r.Context(), nowTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	now := map[string]runPos{}
	for _, node := range ev.s.Cluster.Live() {
		if node == ev.s.Cluster.Node() {
			continue
		}
		wg.Go(func() {
			if p, err := ev.pollNode(ctx, r, node, filter, ""); err == nil {
				mu.Lock()
				now[node] = runPos{p.Run, p.Next}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return now
}

// relayNodes runs a relay loop for each other live node until ctx is done,
// starting one for a node that joins and stopping that of a node that
// leaves. A node's first poll is after starts[node]: "" from now, for a
// node that did not answer when the stream began; "0", all its rings hold,
// for a node not there (all it has is new to the client). deliver hands a
// page over to the stream, false when the stream has ended.
func (ev *events) relayNodes(ctx context.Context, r *http.Request, filter []string, starts map[string]string,
	deliver func(node string, p GlobalPage) bool) {
	self := ev.s.Cluster.Node()
	relays := map[string]*nodeRelay{}
	stop := func(nr *nodeRelay) {
		nr.cancel()
		<-nr.done
		nr.cancel = nil
	}
	defer func() {
		for _, nr := range relays {
			if nr.cancel != nil {
				stop(nr)
			}
		}
	}()
	tick := time.NewTicker(membersEvery)
	defer tick.Stop()
	for {
		live := ev.s.Cluster.Live()
		for _, node := range live {
			nr := relays[node]
			if node == self || nr != nil && nr.cancel != nil {
				continue
			}
			if nr == nil {
				after, ok := starts[node]
				if !ok {
					after = "0"
				}
				nr = &nodeRelay{after: after}
				relays[node] = nr
			}
			loopCtx, cancel := context.WithCancel(ctx)
			nr.cancel, nr.done = cancel, make(chan struct{})
			go func() {
				defer close(nr.done)
				ev.relayNode(loopCtx, r, node, filter, nr, deliver)
			}()
		}
		for node, nr := range relays {
			if nr.cancel != nil && !slices.Contains(live, node) {
				stop(nr)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// relayNode long-polls node for pages of its replies and delivers them,
// until ctx is done; a node that cannot be polled is polled again after a
// back-off (the client's stream goes on, with its heartbeats).
func (ev *events) relayNode(ctx context.Context, r *http.Request, node string, filter []string, nr *nodeRelay,
	deliver func(node string, p GlobalPage) bool) {
	failures := 0
	for ctx.Err() == nil {
		p, err := ev.pollNode(ctx, r, node, filter, nr.after)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if failures++; failures == 1 {
				ev.s.Log.Warn().Err(err).Str("node", node).Msg("global event stream: cannot poll a node's replies; retrying")
			}
			wait, _ := peerRetry.Delay(failures, 0) // no Attempts: always
			if backoff.Sleep(ctx, wait) != nil {
				return
			}
			continue
		}
		failures = 0
		if !deliver(node, p) {
			return
		}
		nr.after = runPos{p.Run, p.Next}.String()
	}
}

// pollNode asks node for the page of its replies after after.
func (ev *events) pollNode(ctx context.Context, r *http.Request, node string, filter []string, after string) (GlobalPage, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if len(filter) > 0 {
		q.Set("msisdn", strings.Join(filter, ","))
	}
	rec, err := ev.s.poll(ctx, r, node, false, "/api/v1/events", q)
	if err != nil {
		return GlobalPage{}, err
	}
	if rec.status != http.StatusOK {
		return GlobalPage{}, fmt.Errorf("%w: node %s answered %d: %s", errUnavailable, node, rec.status, rec.body.Bytes())
	}
	var p GlobalPage
	if err := json.Unmarshal(rec.body.Bytes(), &p); err != nil {
		return GlobalPage{}, fmt.Errorf("%w: a bad page from node %s: %v", errUnavailable, node, err)
	}
	return p, nil
}

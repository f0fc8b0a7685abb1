package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bsc-sim/bsc/internal/backoff"
	"github.com/bsc-sim/bsc/internal/hlr"
)

// A phone's stream of replies served by a node that does not run the
// phone (cluster mode): the device and its ring of replies are on the node
// that owns the phone's cell, so this node relays them. It long-polls the
// owner (a forwarded GET of the phone's events, after the last reply
// relayed) and writes what comes as the stream's events, with the same ids
// as the owner's stream: a client resumes with Last-Event-ID on any node.
// When the cell moves, the next poll goes to its new owner; a phone that
// detaches ends the stream, as at its owner.

// relayWait is how long each relayed long poll waits; the stream's
// heartbeat comes between two.
const relayWait = 10 * time.Second

// remotePhone tells whether m's phone runs on another node: its owner.
func (s *server) remotePhone(r *http.Request, m hlr.MSISDN) (node string, remote bool) {
	if s.Cluster == nil || r.Header.Get(forwardedHeader) != "" {
		return "", false
	}
	cell, ok, err := s.Cluster.PhoneCell(r.Context(), m)
	if err != nil || !ok {
		return "", false
	}
	node, local := s.Cluster.Owner(cell)
	return node, !local && node != ""
}

// relayPhone streams m's replies from the node that runs it, from after
// last.
func (ev *events) relayPhone(w http.ResponseWriter, r *http.Request, m hlr.MSISDN, last uint64) error {
	stopping, err := ev.admit(r)
	if err != nil {
		return err
	}
	defer ev.release()
	send, ok := beginStream(w, r, ": stream open (relayed from the node that runs the phone)\n\n")
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(stopping, cancel)()
	var owner string
	failures := 0
	for ctx.Err() == nil {
		page, node, err := ev.pollOwner(r, m, last)
		switch {
		case errors.Is(err, errRelayEnded):
			return nil // detached: the stream ends, as at the owner
		case errors.Is(err, errInvalidRequest):
			send(errorEvent(err)) // refused for good: asking again would not change it
			return nil
		case err != nil:
			// The cell is moving, or its owner is away: wait a little,
			// keep the client's connection, and poll again.
			if !send(": heartbeat\n\n") {
				return nil
			}
			failures++
			wait, _ := ownerRetry.Delay(failures, 0) // no Attempts: always
			_ = backoff.Sleep(ctx, wait)
			continue
		}
		failures = 0
		if owner != "" && node != owner {
			// The cell moved: its new owner restored the phone with a
			// new device, whose replies are numbered afresh.
			last, owner = 0, node
			continue
		}
		owner = node
		var text strings.Builder
		for _, rep := range page.Items {
			text.WriteString(replyEvent(rep, phoneEventID(rep)))
		}
		if text.Len() == 0 {
			text.WriteString(": heartbeat\n\n")
		}
		last = page.Next
		if !send(text.String()) {
			return nil
		}
	}
	return nil
}

// ownerRetry is the wait before polling again the node of a relayed phone
// that could not be polled (its cell moving, its node away): short, as a
// cell moves within a second or two, and jittered, so that the streams of
// a node's phones do not come back at one instant.
var ownerRetry = backoff.Policy{Base: 250 * time.Millisecond, Cap: time.Second}

// errRelayEnded: the phone is attached nowhere any more.
var errRelayEnded = errors.New("the phone detached")

// pollOwner long-polls m's events after last on whichever node runs m now
// (this one included, when the phone's cell moved here), and names it.
func (ev *events) pollOwner(r *http.Request, m hlr.MSISDN, last uint64) (EventsPage, string, error) {
	cell, ok, err := ev.s.Cluster.PhoneCell(r.Context(), m)
	switch {
	case err != nil:
		return EventsPage{}, "", err
	case !ok:
		return EventsPage{}, "", errRelayEnded
	}
	node, local := ev.s.Cluster.Owner(cell)
	if node == "" {
		return EventsPage{}, "", errUnowned
	}
	q := url.Values{"after": {strconv.FormatUint(last, 10)}}
	rec, err := ev.s.poll(r.Context(), r, node, local, "/api/v1/phones/"+m.String()+"/events", q)
	if err != nil {
		return EventsPage{}, "", err
	}
	switch {
	case rec.status == http.StatusNotFound:
		return EventsPage{}, "", errRelayEnded
	case rec.status >= 400 && rec.status < 500:
		return EventsPage{}, "", fmt.Errorf("%w: node %s refused the relay's poll: %d", errInvalidRequest, node, rec.status)
	case rec.status != http.StatusOK:
		return EventsPage{}, "", fmt.Errorf("%w: node %s answered %d", errUnavailable, node, rec.status)
	}
	var page EventsPage
	if err := json.Unmarshal(rec.body.Bytes(), &page); err != nil {
		return EventsPage{}, "", err
	}
	return page, node, nil
}

// poll long-polls path?q (a relay's wait added) on node, or here when
// local, on behalf of client, whose credentials and request id it carries.
func (s *server) poll(ctx context.Context, client *http.Request, node string, local bool, path string, q url.Values) (*recorder, error) {
	q.Set("wait", strconv.Itoa(int(relayWait/time.Second)))
	sub, err := http.NewRequestWithContext(ctx, http.MethodGet, path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	relayHeaders(sub, client)
	return s.serveAt(sub, node, local)
}

// relayHeaders gives sub, a poll made on a client's behalf, the client's
// credentials and request id.
func relayHeaders(sub, client *http.Request) {
	for _, k := range []string{"Authorization", RequestIDHeader} {
		if v := client.Header.Get(k); v != "" {
			sub.Header.Set(k, v)
		}
	}
}

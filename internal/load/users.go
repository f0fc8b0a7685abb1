package load

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// The users of the phones: how the driver reacts to replies, what it plans,
// and the actions it sends. Everything that reads or changes a phone holds
// d.mu; requests are sent without it, and their answers only count if the
// phone's token is still the one they were sent with.

type actionBody struct {
	Action string `json:"action"`
	To     string `json:"to,omitempty"`
}

func actionsPath(msisdn string) string { return "/api/v1/phones/" + msisdn + "/actions" }

// replyOutcome is the outcome a reply ends a call attempt with.
var replyOutcome = map[string]outcome{
	"busy": outBusy, "rejected": outRejected, "no_frequency": outNoFrequency, "invalid": outInvalid,
}

// onReply applies a reply from the event stream to the phone it is for,
// unless the driver has had it or a later one of the phone's: a reply the
// stream brings after a resync read it back (catchUp) is stale, and so
// left alone, not applied to whatever the phone does by then.
func (d *driver) onReply(r reply) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ph := d.pop.by[r.MSISDN]
	if ph == nil || ph.state == stAbsent {
		return
	}
	switch {
	case ph.node == r.Node:
	case ph.node == "":
		ph.node = r.Node
	default:
		// Another node runs the phone: its cell moved there (cluster
		// mode), and the device it was restored with numbers afresh.
		ph.node, ph.seq = r.Node, 0
	}
	if r.Seq <= ph.seq {
		d.st.add(&d.st.stale, 1)
		return
	}
	d.apply(ph, r)
}

// apply applies ph's next reply r.
func (d *driver) apply(ph *phone, r reply) {
	ph.seq = r.Seq
	calling := dialling(ph)
	switch r.Type {
	case "inbound":
		// The server moved the phone from idle to receiving. A dial of ours
		// on its way lost that race and will be refused as busy.
		switch {
		case ph.state == stDialing:
			d.finish(ph, outFailed)
		case ph.state == stHanging:
			// The hangup of a resync ended the call it gave up on, with no
			// reply to this phone; this is a new call.
			d.finish(ph, outCancelled)
		case ph.state != stIdle && ph.state != stExpecting:
			d.st.add(&d.st.stale, 1)
			d.finish(ph, outDropped)
		}
		d.pop.set(ph, stRinging, false, r.From)
		d.planAnswer(ph)
	case "accepted":
		switch {
		case calling:
			if ph.owed {
				ph.owed = false
				d.st.answer(ph.msisdn, ph.peer)
			}
			d.pop.set(ph, stTalking, true, ph.peer)
			ph.heldSince = time.Now()
			d.planHangup(ph)
		case ph.state == stHanging && ph.owed:
			// The callee answered before the resync's hangup reached the
			// server, which connected the call and then ended it.
			ph.owed = false
			d.st.answer(ph.msisdn, ph.peer)
		default:
			d.st.add(&d.st.stale, 1)
		}
	case "busy", "rejected", "no_frequency", "invalid":
		switch {
		case calling || ph.state == stHanging && ph.owed:
			d.finish(ph, replyOutcome[r.Type])
		case r.Type == "no_frequency" && !ph.caller && (ph.state == stRinging || ph.state == stTalking):
			// We accepted, but the caller found no frequency: its outcome.
		case ph.state == stHanging:
		default:
			d.st.add(&d.st.stale, 1)
			return
		}
		d.pop.set(ph, stIdle, false, "")
	case "hangup":
		if ph.state == stIdle || ph.state == stExpecting {
			d.st.add(&d.st.stale, 1)
			return
		}
		d.finish(ph, outDropped) // a call we dialled that ends unanswered
		d.pop.set(ph, stIdle, false, "")
	}
}

// finish counts the outcome of ph's call attempt, once.
func (d *driver) finish(ph *phone, out outcome) {
	if ph.owed {
		ph.owed = false
		d.st.outcome(out)
	}
}

// reserve picks an idle caller and a callee for a call attempt and marks
// the caller dialling; nil if no phone is idle (in the traffic model, if
// no two phones are: its callees are idle too).
func (d *driver) reserve() (ph *phone, token uint64) {
	ph = d.pop.pickIdle(d.rng)
	if ph == nil {
		return nil, 0
	}
	var callee *phone
	if d.cfg.Traffic.On() {
		if callee = d.pop.pickOtherIdle(d.rng, ph); callee == nil {
			return nil, 0
		}
	} else {
		callee = d.pop.pickOther(d.rng, ph)
	}
	return ph, d.reserveCall(ph, callee)
}

// reserveCall marks ph dialling callee, a call attempt, and returns the
// token its call is sent with.
func (d *driver) reserveCall(ph, callee *phone) uint64 {
	d.pop.set(ph, stDialing, true, callee.msisdn)
	d.pop.expect(ph, callee)
	ph.owed = true
	d.st.add(&d.st.attempts, 1)
	return ph.token
}

// dial sends the call of a reserved caller, measured from intended.
func (d *driver) dial(ctx context.Context, ph *phone, token uint64, intended time.Time) {
	d.mu.Lock()
	to := ph.peer // the callee reserved with token: sent only while token holds
	d.mu.Unlock()
	d.request(ctx, ph, token, opCall, intended, actionBody{Action: "call", To: to}, func(a answer) {
		switch {
		case a.ok():
			d.pop.set(ph, stCalling, true, to)
			d.planDeadline(ph, d.callWait())
			return
		case a.code == "invalid_number":
			d.finish(ph, outInvalid)
		case a.code == codeAbandoned:
			d.finish(ph, outUnfinished)
		default:
			d.finish(ph, outFailed)
		}
		d.pop.set(ph, stIdle, false, "")
	})
}

// request sends an action of ph's user decided in the state of token, and
// hands its answer to then (under d.mu) if ph is still in that state: if
// not, a reply got there first and said how it went. If ph left that
// state before the action could go, it is not sent: whatever moved ph on
// settled it.
//
// A phone's actions go one at a time, as its user's would: one waits for
// the answer to the one before. Two on their way at once travel on
// different connections and can reach the server in either order. A
// reject that overtakes its phone's call (the call crossed an inbound
// one, and the user rejected that) lets the server take the call after
// all, a call the driver does not follow: its accepted reply then lands
// on the phone's next attempt, an answer the server never made for that
// pair, and the books do not balance.
func (d *driver) request(ctx context.Context, ph *phone, token uint64, o op, intended time.Time, body actionBody, then func(answer)) {
	if !ph.turn.TryLock() {
		d.st.add(&d.st.phoneWaits, 1)
		ph.turn.Lock() // for one request's answer, within its timeout
	}
	defer ph.turn.Unlock()
	d.mu.Lock()
	live := ph.token == token
	d.mu.Unlock()
	if !live {
		return
	}
	a := d.c.act(ctx, d.target(ph), o, intended, http.MethodPost, actionsPath(ph.msisdn), body)
	d.mu.Lock()
	defer d.mu.Unlock()
	if ph.token == token {
		then(a)
	}
}

// plan runs act when delay is over, unless ph changed state meanwhile or
// the driver is stopping. due is when it was meant to run: its latency
// counts from then.
func (d *driver) plan(ph *phone, delay time.Duration, act func(token uint64, due time.Time)) {
	if d.stopping {
		return
	}
	token, due := ph.token, time.Now().Add(delay)
	ph.timer = time.AfterFunc(delay, func() {
		if !d.g.enter() {
			return
		}
		defer d.g.leave()
		d.mu.Lock()
		live := ph.token == token && !d.stopping
		if live {
			d.busy++
		}
		d.mu.Unlock()
		if live {
			d.goAction(func() { act(token, due) })
		}
	})
}

// planAnswer is the callee's user: after the answer delay, accept with the
// accept probability, else reject. Both are drawn now, in reply order.
func (d *driver) planAnswer(ph *phone) {
	delay := uniform(d.rng, d.cfg.AnswerMin, d.cfg.AnswerMax)
	accept := d.rng.Float64() < d.cfg.Accept
	d.plan(ph, delay, func(token uint64, due time.Time) { d.answer(ph, token, due, accept) })
}

func (d *driver) answer(ph *phone, token uint64, due time.Time, accept bool) {
	o, action := opReject, "reject"
	if accept {
		o, action = opAccept, "accept"
	}
	d.request(d.actx, ph, token, o, due, actionBody{Action: action}, func(a answer) {
		if accept && a.ok() {
			d.pop.set(ph, stTalking, false, ph.peer)
			d.planDeadline(ph, d.talkWait())
			return
		}
		// Rejected, or the caller hung up first (invalid_state): idle either way.
		d.pop.set(ph, stIdle, false, "")
	})
}

// planHangup is the caller's user: hang up after the talk time.
func (d *driver) planHangup(ph *phone) {
	d.plan(ph, d.talkTime(), func(token uint64, due time.Time) {
		d.hangup(ph, token, due)
	})
}

func (d *driver) hangup(ph *phone, token uint64, due time.Time) {
	d.request(d.actx, ph, token, opHangup, due, actionBody{Action: "hangup"}, func(a answer) {
		// The server released the frequency before answering the hangup,
		// and sent the accepted reply when it allocated it: both times are
		// when a message from the server reached the driver, so their
		// delays mostly cancel out of the holding time measured.
		if a.ok() && !ph.heldSince.IsZero() {
			d.st.held(a.sent.Add(a.took).Sub(ph.heldSince))
		}
		// Done, or the peer ended the call first (invalid_state): idle.
		d.pop.set(ph, stIdle, false, "")
	})
}

// Waiting for replies. A phone that waits longer than the peer's user can
// take plus a request's timeout has lost a reply (its event stream was cut
// or died) or the server is far behind: the driver reads its replies back,
// and ends what is left.
const replyGrace = 2 * time.Second

func (d *driver) callWait() time.Duration { return d.cfg.AnswerMax + d.cfg.Timeout + replyGrace }
func (d *driver) talkWait() time.Duration { return d.cfg.TalkMax + d.cfg.Timeout + replyGrace }

// resyncAgain is the wait before a resync tries again, after a read or
// a hangup that got no answer.
func (d *driver) resyncAgain() time.Duration { return d.cfg.Timeout + replyGrace }

func (d *driver) planDeadline(ph *phone, wait time.Duration) {
	d.plan(ph, wait, func(token uint64, _ time.Time) { d.resync(ph, token, wait) })
}

// resync brings ph up to date after a reply did not come in time. It
// applies the replies the event stream has not brought yet (catchUp),
// which is all it takes when the stream lost them or runs late. If none
// moved ph on, the server has not answered yet (the peer's user is slow,
// or the server far behind), and the driver gives the call up: it hangs
// up, reads ph's replies again (up to the hangup, such as an accepted
// the callee sent just before it), and only then puts ph back in play.
// So a reply of the call given up that the stream brings later is stale
// by its seq, not taken for one of ph's next call, which would count an
// answer for a pair the server never connected. Until it knows, ph waits
// (trying again after resyncAgain): it may end the run unfinished.
func (d *driver) resync(ph *phone, token uint64, waited time.Duration) {
	d.mu.Lock()
	live := ph.token == token
	if live {
		d.st.add(&d.st.resyncs, 1)
	}
	d.mu.Unlock()
	if !live {
		return
	}
	d.streams[ph.group].kick(time.Now(), waited)
	var giveUp bool
	d.catchUp(ph, token, func() {
		d.pop.set(ph, stHanging, ph.caller, ph.peer)
		token, giveUp = ph.token, true
	})
	if !giveUp {
		return
	}
	var ended bool
	d.request(d.actx, ph, token, opHangup, time.Now(), actionBody{Action: "hangup"}, func(a answer) {
		// Ended, or nothing to end: the server has ph idle, or not at all.
		ended = a.ok() || a.code == "invalid_state" || a.code == "not_attached"
		if !ended && a.code != codeAbandoned {
			d.planDeadline(ph, d.resyncAgain())
		}
	})
	if ended {
		d.catchUp(ph, token, func() {
			d.finish(ph, outCancelled)
			d.pop.set(ph, stIdle, false, "")
		})
	}
}

// catchUp reads ph's replies after the last it applied from the phone's
// own list (GET /api/v1/phones/{msisdn}/events, which any node of a
// cluster answers for the phone) and applies, in order, those the event
// stream has not brought yet. Then, under d.mu, it hands over to then if
// ph is still in the state of token: nothing it read moved ph on. If the
// server no longer has the phone, ph is idle (its attempt dropped); if the
// read got no answer, ph stays as it is and resyncs again later.
func (d *driver) catchUp(ph *phone, token uint64, then func()) {
	d.mu.Lock()
	after := ph.seq
	d.mu.Unlock()
	var page struct {
		Items []reply `json:"items"`
	}
	a := d.c.do(d.actx, d.target(ph), http.MethodGet, eventsPath(ph.msisdn, after), nil, &page)
	d.mu.Lock()
	defer d.mu.Unlock()
	if a.ok() && ph.state != stAbsent {
		if len(page.Items) > 0 && page.Items[0].Seq <= after {
			// Numbered afresh (api.md: a cursor beyond the last reply
			// reads as 0): the phone's cell moved, to a node the next
			// reply names.
			ph.seq, ph.node = 0, ""
		}
		for _, r := range page.Items {
			if r.Seq > ph.seq { // else the stream brought it meanwhile
				d.st.add(&d.st.caughtUp, 1)
				d.apply(ph, r)
			}
		}
	}
	switch {
	case ph.token != token:
	case a.ok():
		then()
	case a.code == "not_attached":
		d.finish(ph, outDropped)
		d.pop.set(ph, stIdle, false, "")
	case a.code != codeAbandoned:
		d.planDeadline(ph, d.resyncAgain())
	}
}

func eventsPath(msisdn string, after uint64) string {
	return "/api/v1/phones/" + msisdn + "/events?after=" + strconv.FormatUint(after, 10)
}

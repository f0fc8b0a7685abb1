package load

import (
	"math/rand/v2"
	"testing"
)

// testDriver is a driver of three attached idle phones A, B, C that plans
// nothing (no timers, no requests): for the transitions alone.
func testDriver(t *testing.T) (*driver, [3]*phone) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Phones = 3
	d := newDriver(cfg)
	d.stopping = true
	var ph [3]*phone
	for i := range ph {
		ph[i] = d.pop.phones[i]
		d.pop.attach(ph[i])
	}
	return d, ph
}

func TestPopulationIndexes(t *testing.T) {
	d, ph := testDriver(t)
	p := d.pop
	rng := rand.New(rand.NewPCG(1, 2))
	if len(p.idle) != 3 || p.active != 0 {
		t.Fatalf("idle %d active %d", len(p.idle), p.active)
	}
	p.set(ph[0], stDialing, true, ph[1].msisdn)
	p.expect(ph[0], ph[1])
	if len(p.idle) != 1 || p.active != 2 || p.calls != 1 || ph[1].state != stExpecting {
		t.Fatalf("after a dial: idle %d active %d calls %d callee %v", len(p.idle), p.active, p.calls, ph[1].state)
	}
	for range 20 {
		if got := p.pickIdle(rng); got != ph[2] {
			t.Fatalf("picked %s, want the only idle phone", got.msisdn)
		}
		if got := p.pickOther(rng, ph[0]); got == ph[0] {
			t.Fatal("picked the caller as its own callee")
		}
	}
	p.set(ph[0], stCalling, true, ph[1].msisdn) // still waiting: the callee still expects
	if ph[1].state != stExpecting {
		t.Errorf("callee %v after the call was taken, want expecting", ph[1].state)
	}
	p.set(ph[0], stIdle, false, "") // the call ended before reaching the callee
	if ph[1].state != stIdle || len(p.idle) != 3 || p.active != 0 || p.calls != 0 {
		t.Errorf("after the call: callee %v idle %d active %d calls %d", ph[1].state, len(p.idle), p.active, p.calls)
	}
	p.set(ph[2], stAbsent, false, "")
	if len(p.idle) != 2 || p.active != 0 {
		t.Errorf("after a detach: idle %d active %d", len(p.idle), p.active)
	}
}

func TestReplies(t *testing.T) {
	tests := []struct {
		name    string
		state   pstate
		caller  bool
		reply   string
		want    pstate
		outcome string // counted for A; "" none
		stale   bool
	}{
		{"inbound when idle", stIdle, false, "inbound", stRinging, "", false},
		{"inbound when expected", stExpecting, false, "inbound", stRinging, "", false},
		{"inbound crosses our dial", stDialing, true, "inbound", stRinging, "failed", false},
		{"inbound while talking", stTalking, false, "inbound", stRinging, "", true},
		{"accepted", stCalling, true, "accepted", stTalking, "answered", false},
		{"accepted before the dial's answer", stDialing, true, "accepted", stTalking, "answered", false},
		{"accepted when idle", stIdle, false, "accepted", stIdle, "", true},
		{"busy", stCalling, true, "busy", stIdle, "busy", false},
		{"rejected", stCalling, true, "rejected", stIdle, "rejected", false},
		{"no frequency, caller", stCalling, true, "no_frequency", stIdle, "no_frequency", false},
		{"no frequency, callee", stTalking, false, "no_frequency", stIdle, "", false},
		{"invalid", stDialing, true, "invalid", stIdle, "invalid", false},
		{"hangup, talking", stTalking, false, "hangup", stIdle, "", false},
		{"hangup, ringing", stRinging, false, "hangup", stIdle, "", false},
		{"hangup, calling", stCalling, true, "hangup", stIdle, "dropped", false},
		{"hangup when idle", stIdle, false, "hangup", stIdle, "", true},
		{"busy when idle", stIdle, false, "busy", stIdle, "", true},
		// A resync gave the call up and its hangup is on its way.
		{"accepted before our hangup", stHanging, true, "accepted", stHanging, "answered", false},
		{"rejected before our hangup", stHanging, true, "rejected", stIdle, "rejected", false},
		{"inbound after our hangup", stHanging, true, "inbound", stRinging, "cancelled", false},
		{"hangup before ours, callee", stHanging, false, "hangup", stIdle, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ph := testDriver(t)
			a, b := ph[0], ph[1]
			d.pop.set(a, tt.state, tt.caller, b.msisdn)
			a.owed = tt.caller
			d.onReply(reply{Seq: 1, MSISDN: a.msisdn, Type: tt.reply, From: b.msisdn})
			if a.state != tt.want {
				t.Errorf("state %v, want %v", a.state, tt.want)
			}
			var counted []string
			for o := range numOutcomes {
				if d.st.outcomes[o] > 0 {
					counted = append(counted, o.String())
				}
			}
			if want := tt.outcome; (want == "" && len(counted) > 0) || (want != "" && (len(counted) != 1 || counted[0] != want)) {
				t.Errorf("outcomes %v, want %q", counted, want)
			}
			if (d.st.stale > 0) != tt.stale {
				t.Errorf("stale %d, want %v", d.st.stale, tt.stale)
			}
			if tt.outcome == "answered" && d.st.answered[pair{a.msisdn, b.msisdn}] != 1 {
				t.Errorf("answered calls %v, want %s->%s", d.st.answered, a.msisdn, b.msisdn)
			}
		})
	}
}

// A phone's replies apply once, in their order: one the driver has had
// already (a resync read it back before the stream brought it) is stale,
// unless another node numbered it: the phone's cell moved there, and its
// replies are numbered afresh.
func TestReplySeq(t *testing.T) {
	tests := []struct {
		name    string
		node    string
		seq     uint64
		applied bool
	}{
		{"the next", "n1", 6, true},
		{"after a gap", "n1", 9, true},
		{"the last applied", "n1", 5, false},
		{"an older one", "n1", 2, false},
		{"from the node the cell moved to", "n2", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ph := testDriver(t)
			a, b := ph[0], ph[1]
			a.seq, a.node = 5, "n1"
			d.onReply(reply{Seq: tt.seq, MSISDN: a.msisdn, Type: "inbound", From: b.msisdn, Node: tt.node})
			if applied := a.state == stRinging; applied != tt.applied || (d.st.stale == 0) != tt.applied {
				t.Errorf("applied %v (stale %d), want %v", applied, d.st.stale, tt.applied)
			}
			if want := map[bool]uint64{true: tt.seq, false: 5}[tt.applied]; a.seq != want || a.node != tt.node {
				t.Errorf("last applied seq %d from node %s, want %d from %s", a.seq, a.node, want, tt.node)
			}
		})
	}
}

// A reply for a phone outside the population is not the driver's.
func TestReplyForAnotherPhone(t *testing.T) {
	d, _ := testDriver(t)
	d.onReply(reply{Seq: 1, MSISDN: "123", Type: "inbound", From: "124"})
	if d.st.stale != 0 || d.pop.active != 0 {
		t.Errorf("stale %d active %d", d.st.stale, d.pop.active)
	}
}

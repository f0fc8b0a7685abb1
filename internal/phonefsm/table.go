package phonefsm

import (
	"strings"

	"github.com/bsc-sim/bsc/internal/sup"
)

// The transition table of domain.md §3 (docs/domain.md), as data: one row
// per line of the spec's table, in its order, then the rows the spec
// writes as prose (stop and crash) and the ones the send seam synthesizes.
// Each row names the states it applies to, its input, a guard when one
// input has two rows, the states it may lead to, and the method that does
// it, whose comment is the spec's line. A test renders the table (state |
// input | next) and compares it with docs/domain.md.

// phase is a state with, for connected, the role: the caller and the
// callee of a connected call do different things with a reject.
type phase uint8

const (
	pIdle phase = iota
	pCalling
	pReceiving
	pConnectedCaller
	pConnectedCallee
	nPhases
)

func phaseOf(s State, r Role) phase {
	switch s {
	case Calling:
		return pCalling
	case Receiving:
		return pReceiving
	case Connected:
		if r == Callee {
			return pConnectedCallee
		}
		return pConnectedCaller
	}
	return pIdle
}

// phases is a set of phases.
type phases uint8

func of(ps ...phase) phases {
	var s phases
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

var (
	anyPhase   = of(pIdle, pCalling, pReceiving, pConnectedCaller, pConnectedCallee)
	inCallP    = of(pCalling, pReceiving, pConnectedCaller, pConnectedCallee)
	connectedP = of(pConnectedCaller, pConnectedCallee)
)

func (s phases) has(p phase) bool { return s&(1<<p) != 0 }

// step is one message being handled: the executor the handler sends
// through, the message, and the clock read once for all its effects.
type step struct {
	x   *sup.Exec[message]
	m   message
	now int64
}

// Pseudo-inputs of the fallback rows: any action, any event, when no row
// of the phase names it.
const (
	anyAction = nInputs + iota + 1
	anyEvent
)

// row is one line of the table.
type row struct {
	in     phases
	states string // how the spec names in, when not by phaseLabel
	input  input
	label  string
	guard  func(*Controller, step) bool // nil: always
	next   string
	effect func(*Controller, step) error
}

var table = []row{
	{of(pIdle), "", inCall, "action call(to), `to` not attached", (*Controller).calleeAbsent, "idle", (*Controller).callAbsent},
	{of(pIdle), "", inCall, "action call(to), `to` attached (itself included)", nil, "calling(peer=to)", (*Controller).callAttached},
	{of(pIdle), "", evInbound, "event inbound(from)", nil, "receiving(peer=from)", (*Controller).ring},
	{of(pCalling), "", evAccept, "event accept(peer)", nil, "connected / idle", (*Controller).answered},
	{of(pCalling), "", evBusy, "event busy(peer)", nil, "idle", (*Controller).busy},
	{of(pCalling), "", evReject, "event reject(peer)", nil, "idle", (*Controller).rejected},
	{of(pCalling), "", evHangup, "event hangup(peer)", nil, "idle", (*Controller).hungUpRinging},
	{of(pCalling), "", inHangup, "action hangup", nil, "idle", (*Controller).cancel},
	{of(pReceiving), "", inAccept, "action accept", nil, "connected", (*Controller).accept},
	{of(pReceiving), "", inReject, "action reject", nil, "idle", (*Controller).reject},
	{of(pReceiving), "", inHangup, "action hangup", nil, "idle", (*Controller).reject},
	{of(pReceiving), "", evHangup, "event hangup(peer)", nil, "idle", (*Controller).callerGone},
	{connectedP, "", inHangup, "action hangup", nil, "idle", (*Controller).hangUp},
	{connectedP, "", evHangup, "event hangup(peer)", nil, "idle", (*Controller).hungUp},
	{of(pConnectedCallee), "", evReject, "event reject(peer)", nil, "idle", (*Controller).noFrequency},
	{inCallP, "", evInbound, "event inbound(other)", nil, "unchanged", (*Controller).busyToOther},
	{inCallP, "any but idle", inCall, "action call", nil, "unchanged", (*Controller).alreadyInCall},
	{anyPhase, "", anyAction, "action not listed for the state", nil, "unchanged", (*Controller).invalidState},
	{anyPhase, "", anyEvent, "event not listed for the state, or from a non-peer", nil, "unchanged", (*Controller).ignore},
	// Stop, detach and crash (the spec's prose under the table).
	{of(pIdle), "", ctlStop, "stop", nil, "ended", (*Controller).stopIdle},
	{of(pCalling), "", ctlStop, "stop", nil, "ended", (*Controller).stopCalling},
	{of(pReceiving), "", ctlStop, "stop", nil, "ended", (*Controller).stopReceiving},
	{connectedP, "", ctlStop, "stop", nil, "ended", (*Controller).stopConnected},
	{anyPhase, "", ctlCrash, "crash", nil, "restarted idle", (*Controller).crash},
	// Synthesized by the send seam when the peer cannot take an event.
	{of(pCalling), "", evPeerFull, "the callee's mailbox is full", nil, "idle", (*Controller).busy},
	{of(pCalling), "", evPeerGone, "the callee has ended", nil, "idle", (*Controller).peerLost},
	{inCallP, "", evPeerUnreachable, "the peer cannot be reached", nil, "idle", (*Controller).peerLost},
}

// dispatch[phase][input] are the rows that may handle input in phase, in
// table order; the first whose guard holds does. A fallback row (any
// action, any event) handles what no row of the phase names.
var dispatch = func() (d [nPhases][nInputs][]*row) {
	for i := range table {
		r := &table[i]
		for p := range nPhases {
			if r.in.has(p) && r.input < nInputs {
				d[p][r.input] = append(d[p][r.input], r)
			}
		}
	}
	for i := range table {
		r := &table[i]
		for p := range nPhases {
			for in := input(1); in < nInputs; in++ {
				if r.in.has(p) && len(d[p][in]) == 0 &&
					(r.input == anyAction && in.action() || r.input == anyEvent && in.event()) {
					d[p][in] = []*row{r}
				}
			}
		}
	}
	return d
}()

// transition handles s by the first row of the table that matches. An
// event from anyone but the current peer is stale (ignored, counted),
// except the ones that need no peer: an inbound call, and the peer-lost
// events about a peer we no longer have.
func (c *Controller) transition(s step) error {
	in := s.m.kind
	if in.event() && in != evInbound && c.state != Idle && c.peer.completes(s.m.from) {
		c.setState(s, c.state, c.role, s.m.from)
	}
	if in.event() && in != evInbound && (c.state == Idle || !s.m.from.Is(c.peer)) {
		return c.ignore(s)
	}
	for _, r := range dispatch[phaseOf(c.state, c.role)][in] {
		if r.guard == nil || r.guard(c, s) {
			return r.effect(c, s)
		}
	}
	return nil // unreachable: every input has a fallback
}

// TableRow is a row of the table as docs/domain.md writes it.
type TableRow struct{ State, Input, Next string }

// Table is the transition table, row by row, in its order.
func Table() []TableRow {
	var out []TableRow
	for _, r := range table {
		states := r.states
		if states == "" {
			states = phaseLabel(r.in)
		}
		out = append(out, TableRow{states, r.label, r.next})
	}
	return out
}

func phaseLabel(s phases) string {
	switch s {
	case anyPhase:
		return "any"
	case inCallP:
		return "calling, receiving, connected"
	case connectedP:
		return "connected"
	}
	names := [nPhases]string{"idle", "calling", "receiving", "connected (caller)", "connected (callee)"}
	var out []string
	for p := range nPhases {
		if s.has(p) {
			out = append(out, names[p])
		}
	}
	return strings.Join(out, ", ")
}

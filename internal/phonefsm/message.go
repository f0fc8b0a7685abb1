package phonefsm

import "github.com/bsc-sim/bsc/internal/hlr"

// input is what a controller handles: the inputs of domain.md §3's table,
// the ones the sending side makes up when the peer cannot take an event
// (synthesized), and control.
type input uint8

const (
	// Actions of the phone's user.
	inCall input = iota + 1
	inAccept
	inReject
	inHangup
	// Events from the peer controller.
	evInbound
	evAccept
	evReject
	evBusy
	evHangup
	// Synthesized by the send seam, from the peer: the callee's mailbox was
	// full (it is too busy to ring), the peer has ended (a message to a
	// dead process is lost), the peer cannot be reached (its node is gone).
	evPeerFull
	evPeerGone
	evPeerUnreachable
	// Control: stop (detach, or the supervisor stopping) and crash (fault
	// injection).
	ctlStop
	ctlCrash
	nInputs
)

var inputNames = [nInputs]string{
	inCall: "call", inAccept: "accept", inReject: "reject", inHangup: "hangup",
	evInbound: "inbound", evAccept: "accept", evReject: "reject", evBusy: "busy", evHangup: "hangup",
	evPeerFull: "peer_mailbox_full", evPeerGone: "peer_gone", evPeerUnreachable: "peer_unreachable",
	ctlStop: "stop", ctlCrash: "crash",
}

func (in input) String() string { return inputNames[in] }

// action tells whether in is a user action.
func (in input) action() bool { return in >= inCall && in <= inHangup }

// event tells whether in comes from (or stands for) the peer.
func (in input) event() bool { return in >= evInbound && in <= evPeerUnreachable }

// actionInput is the input of a user action.
func actionInput(a Action) input {
	return [...]input{ActCall: inCall, ActAccept: inAccept, ActReject: inReject, ActHangup: inHangup}[a]
}

// message is one entry of a controller's mailbox.
type message struct {
	kind input
	from Ref        // the sender of an event; the peer, for a synthesized one
	to   hlr.MSISDN // the callee of a call action
	// dropped marks an event sent by a controller cleaning up because it
	// stopped or crashed: the call ends as "dropped", not by a user.
	dropped bool
	// ack follows an action that may end a call through the events it
	// causes (see ack.go); nil for the others.
	ack *ack
}

// Ref names a controller the way an Erlang pid names a process: its
// phone's number, its incarnation (a restarted controller is another
// process, and a message for the old one is stale), the cell it runs in
// and the epoch of that cell's owner (in cluster mode a cell moves between
// nodes, and each owner numbers its incarnations afresh), and the
// controller itself when it runs on this node, which keeps the local path
// as fast as a pointer. Controllers name their peers only by Ref and reach
// them only through the send seam (Phones.deliver).
//
// A Ref to a phone on another node, made from the HLR location, does not
// know the incarnation yet (Inc 0): the peer's first answer tells it.
type Ref struct {
	MSISDN hlr.MSISDN
	Inc    uint32
	Cell   int32
	Epoch  uint64
	Node   string // the node owning Cell at Epoch; "" when not known
	local  *Controller
}

// Is tells whether r and o name the same process.
func (r Ref) Is(o Ref) bool {
	return r.MSISDN == o.MSISDN && r.Inc == o.Inc && r.Cell == o.Cell && r.Epoch == o.Epoch
}

// completes tells whether o is the process r names without knowing its
// incarnation: a remote peer's first answer. Its epoch may be newer than
// r's: r was made from this node's view of the cell's owner, which may
// not have seen the cell move yet (the answer comes from the new owner).
func (r Ref) completes(o Ref) bool {
	return r.Inc == 0 && r.local == nil && r.MSISDN == o.MSISDN && r.Cell == o.Cell && r.Epoch <= o.Epoch
}

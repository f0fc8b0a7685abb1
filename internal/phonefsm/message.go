package phonefsm

import "github.com/bsc-sim/bsc/internal/hlr"

// kind is the kind of a controller message: a user action, an event from
// another controller, or a control message.
type kind uint8

const (
	msgAction kind = iota + 1
	evInbound
	evAccept
	evReject
	evBusy
	evHangup
	msgStop
	msgCrash
)

func (k kind) String() string {
	return [...]string{"", "action", "inbound", "accept", "reject", "busy", "hangup", "stop", "crash"}[k]
}

// message is one entry of a controller's mailbox.
type message struct {
	kind   kind
	action Action
	from   *Controller // sender of an event
	to     hlr.MSISDN  // callee of a call action
	// dropped marks an event sent by a controller cleaning up because it
	// stopped or crashed: the call ends as "dropped", not by a user.
	dropped bool
	// done receives the result of an action or a stop handled by another
	// goroutine; nil when the sender runs the controller itself.
	done chan error
	// ack follows an action that may end a call through the events it
	// causes (see ack.go); nil for the others.
	ack *ack
}

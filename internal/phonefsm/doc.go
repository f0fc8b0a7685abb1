// Package phonefsm is the phones of the cell: one state machine per attached
// phone (the book's phone_fsm) under the phones supervisor, a
// simple_one_for_one of transient children (the book's phone_sup). Its
// behaviour is docs/domain.md §3.
//
// A phone controller has four states (idle, calling, receiving, connected)
// and two kinds of input: the actions of the phone's user (call, accept,
// reject, hangup), which come from the API and are answered, and the events
// of other controllers (inbound, accept, reject, busy, hangup), which are
// not. Controllers talk to each other asynchronously only: none ever waits
// on another, so crossing calls cannot deadlock, and an event from anyone
// but the current peer is stale and ignored. Replies go to the phone's
// device (internal/hw). The caller of a call owns its frequency and writes
// its call detail record.
//
// A controller is a light process (internal/sup's Light): an Erlang process
// without the stack, a small struct with a bounded mailbox, run by
// whichever goroutine finds it idle with a message. An API action runs its
// own phone's controller on the request's goroutine, the events it sends
// are handled right after on the same goroutine, and a long cascade is
// handed to a bounded set of background goroutines. An idle attached phone
// costs about 520 bytes. A controller names its peer by a Ref (number,
// incarnation, and the controller itself when it runs here, like an
// Erlang pid) and reaches it only through one send seam, which delivers
// locally and reports a peer that is full, gone or unreachable as an input
// of the table.
//
// Acknowledged means durable: an action that may end a call is followed
// through the events it causes, and answered once they were all handled
// and the newest call record written on its behalf is committed (group
// commit, internal/calls). A call reserves its record's place before it
// leaves idle, and is shed when it cannot.
//
// A controller that stops cleans up by state (its peer told, its frequency
// released, its call recorded dropped); one that crashes is restarted idle
// for the same MSISDN with the same device. The attachment registry
// belongs to one incarnation of the phones supervisor.
//
// To read it: the states, inputs and Ref (state.go, message.go); the
// transition table (table.go), one row per line of docs/domain.md §3 in its
// order, which a test lays beside the docs, and its rows' effects
// (rows.go), each with the spec's line as its comment; the controller
// (controller.go); the acknowledgement of actions (ack.go); then the phone
// set of one supervisor incarnation (attach, act, detach, list, the send
// seam: phones.go), which is what the service calls.
package phonefsm

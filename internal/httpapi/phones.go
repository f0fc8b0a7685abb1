package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/phonefsm"
)

// PhoneService is the phones side of the application (*app.App): it
// provisions and attaches, and sheds what needs shedding.
type PhoneService interface {
	// Attach attaches m in cell (-1: the MSISDN's home cell).
	Attach(ctx context.Context, m hlr.MSISDN, spec hw.DeviceSpec, cell int) (phonefsm.Status, error)
	// Act returns once the phone's own controller handled the action,
	// with what to wait for before acknowledging it. to is the callee of a
	// call, zero otherwise.
	Act(ctx context.Context, m hlr.MSISDN, a phonefsm.Action, to hlr.MSISDN) (phonefsm.Status, phonefsm.Commit, error)
	Detach(ctx context.Context, m hlr.MSISDN) (phonefsm.Commit, error)
}

// PhoneSet is the phones attached to the current incarnation of the
// phones supervisor (*phonefsm.Phones), for reading.
type PhoneSet interface {
	// List returns up to limit phones of cell whose MSISDN sorts after
	// after, in state if not nil; a short page with resume not zero means
	// the scan stopped there and the listing goes on after resume.
	List(cell int, after hlr.MSISDN, limit int, state *phonefsm.State) (page []phonefsm.Status, resume hlr.MSISDN)
	// Get is an attached phone's status; a not_attached error otherwise.
	Get(m hlr.MSISDN) (phonefsm.Status, error)
}

// Device modes of an attach request.
const (
	ModeManual = "manual"
	ModeAuto   = "auto"
)

// AttachRequest is the body of POST /api/v1/phones. The MSISDN is read as
// a string so that a bad one is invalid_msisdn.
type AttachRequest struct {
	MSISDN string         `json:"msisdn"`
	Device *DeviceRequest `json:"device,omitempty"`
	// Cell is the radio cell the handset is in; left out, the cell is a
	// stable hash of the MSISDN (a single node has cell 0 only).
	Cell *int `json:"cell,omitempty"`
}

// DeviceRequest is how the attached phone's handset behaves: driven by the
// API (manual) or by the book's simulator (auto), whose fields left out
// take the book's values (hw.DefaultAutoPolicy).
type DeviceRequest struct {
	Mode              string   `json:"mode"`
	AnswerDelayMS     []int64  `json:"answer_delay_ms,omitempty"`
	AcceptProbability *float64 `json:"accept_probability,omitempty"`
	TalkTimeMS        []int64  `json:"talk_time_ms,omitempty"`
	Seed              *uint64  `json:"seed,omitempty"`
}

// spec checks the request; no device is a manual one.
func (d *DeviceRequest) spec() (hw.DeviceSpec, error) {
	if d == nil {
		return hw.DeviceSpec{}, nil
	}
	switch d.Mode {
	case ModeManual:
		if d.AnswerDelayMS != nil || d.AcceptProbability != nil || d.TalkTimeMS != nil || d.Seed != nil {
			return hw.DeviceSpec{}, fmt.Errorf("%w: device: answer_delay_ms, accept_probability, talk_time_ms "+
				"and seed are for mode %q only", errInvalidRequest, ModeAuto)
		}
		return hw.DeviceSpec{}, nil
	case ModeAuto:
	default:
		return hw.DeviceSpec{}, fmt.Errorf("%w: device: mode must be %q or %q", errInvalidRequest, ModeManual, ModeAuto)
	}
	p := hw.DefaultAutoPolicy()
	var err error
	if d.AnswerDelayMS != nil {
		p.AnswerDelay, err = msRange("answer_delay_ms", d.AnswerDelayMS)
	}
	if err == nil && d.TalkTimeMS != nil {
		p.TalkTime, err = msRange("talk_time_ms", d.TalkTimeMS)
	}
	if err != nil {
		return hw.DeviceSpec{}, err
	}
	if d.AcceptProbability != nil {
		p.AcceptProbability = *d.AcceptProbability
	}
	if err := p.Validate(); err != nil {
		return hw.DeviceSpec{}, fmt.Errorf("device: %w", err)
	}
	spec := hw.DeviceSpec{Auto: &p}
	if d.Seed != nil {
		spec.Seed = *d.Seed
	}
	return spec, nil
}

// msRange reads [min, max] in milliseconds. Bounding each value before
// converting keeps the conversion from overflowing; Validate checks the
// order.
func msRange(name string, ms []int64) ([2]time.Duration, error) {
	limit := hw.MaxAutoDelay.Milliseconds()
	if len(ms) != 2 || ms[0] < 0 || ms[1] < 0 || ms[0] > limit || ms[1] > limit {
		return [2]time.Duration{}, fmt.Errorf("%w: device: %s must be [min, max], each 0 to %d",
			errInvalidRequest, name, limit)
	}
	return [2]time.Duration{time.Duration(ms[0]) * time.Millisecond, time.Duration(ms[1]) * time.Millisecond}, nil
}

// ActionRequest is the body of POST /api/v1/phones/{msisdn}/actions.
type ActionRequest struct {
	Action string  `json:"action"`
	To     *string `json:"to,omitempty"`
}

// PhoneAction is a checked action request: To is the callee of a call and
// zero for the other actions.
type PhoneAction struct {
	Action phonefsm.Action
	To     hlr.MSISDN
}

// DecodeAction reads and checks the body of POST
// /api/v1/phones/{msisdn}/actions. Its errors are invalid_request,
// invalid_msisdn (a malformed "to") or too_large.
func DecodeAction(r *http.Request) (PhoneAction, error) {
	var req ActionRequest
	if err := Decode(r, &req); err != nil {
		return PhoneAction{}, err
	}
	act, ok := phonefsm.ParseAction(req.Action)
	switch {
	case !ok:
		return PhoneAction{}, fmt.Errorf("%w: action must be call, accept, reject or hangup", errInvalidRequest)
	case act != phonefsm.ActCall && req.To != nil:
		return PhoneAction{}, fmt.Errorf("%w: \"to\" is for action call only", errInvalidRequest)
	case act != phonefsm.ActCall:
		return PhoneAction{Action: act}, nil
	case req.To == nil:
		return PhoneAction{}, fmt.Errorf("%w: action call needs \"to\", the number to call", errInvalidRequest)
	}
	to, err := hlr.ParseMSISDN(*req.To)
	if err != nil {
		return PhoneAction{}, fmt.Errorf("to: %w", err)
	}
	return PhoneAction{Action: act, To: to}, nil
}

func (s *server) mountPhones(r chi.Router) {
	set := need(r, s.PhoneSet != nil, "phones")
	set.Get("/api/v1/phones", handle(s.listPhones))
	set.Get("/api/v1/phones/{msisdn}", handle(s.getPhone))
	r = need(r, s.Phones != nil, "phones")
	r.Post("/api/v1/phones", handle(s.attachPhone))
	r.Delete("/api/v1/phones/{msisdn}", handle(s.detachPhone))
	// A hangup or a reject releases a call and is never shed; a call or an
	// accept takes an in-flight slot like any other request.
	r.Post("/api/v1/phones/{msisdn}/actions", handle(s.phoneAction))
	s.admitByBody(http.MethodPost, "/api/v1/phones/{msisdn}/actions")
}

// attached tells whether m's phone is attached now; while the phones
// supervisor restarts, none is.
func (s *server) attached(ctx context.Context, m hlr.MSISDN) bool {
	if s.Cluster != nil {
		_, ok, _ := s.Cluster.PhoneCell(ctx, m) // attached on any node (as a view shows: not known, not)
		return ok
	}
	return s.attachedHere(m)
}

// attachedNow is attached as the cluster has it now: what a delete of the
// subscriber checks.
func (s *server) attachedNow(ctx context.Context, m hlr.MSISDN) (bool, error) {
	if s.Cluster != nil {
		return s.Cluster.PhoneAttached(ctx, m)
	}
	return s.attachedHere(m), nil
}

// attachedHere tells whether m's phone is attached on this node.
func (s *server) attachedHere(m hlr.MSISDN) bool {
	if s.PhoneSet == nil {
		return false
	}
	set, err := s.PhoneSet()
	if err != nil {
		return false
	}
	_, err = set.Get(m)
	return err == nil
}

func (s *server) attachPhone(w http.ResponseWriter, r *http.Request) error {
	var req AttachRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	m, err := hlr.ParseMSISDN(req.MSISDN)
	if err != nil {
		return fmt.Errorf("msisdn: %w", err)
	}
	spec, err := req.Device.spec()
	if err != nil {
		return err
	}
	cell := -1
	if req.Cell != nil {
		if cell, err = s.checkCell(*req.Cell); err != nil {
			return err
		}
	}
	st, err := s.Phones.Attach(r.Context(), m, spec, cell)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/phones/"+m.String())
	WriteJSON(w, http.StatusCreated, st)
	return nil
}

// listPhones reads the current phone set, which exists only while the
// phones supervisor runs.
func (s *server) listPhones(w http.ResponseWriter, r *http.Request) error {
	set, err := s.PhoneSet()
	if err != nil {
		return err
	}
	p, err := ParsePage(r)
	if err != nil {
		return err
	}
	after, err := msisdnCursor(p)
	if err != nil {
		return err
	}
	var state *phonefsm.State
	if name := r.URL.Query().Get("state"); name != "" {
		st, ok := phonefsm.ParseState(name)
		if !ok {
			return fmt.Errorf("%w: state must be idle, calling, receiving or connected", errInvalidRequest)
		}
		state = &st
	}
	// List reads as many entries as it takes to fill the page, the one more
	// that tells whether there is a next page included, within a scan
	// budget: a filter that matches little gets a short page and a cursor.
	cell, err := s.cellOf(r)
	if err != nil {
		return err
	}
	page, resume := set.List(cell, after, p.Limit+1, state)
	l := NewList(page, p, func(st phonefsm.Status) string { return st.MSISDN.String() })
	if l.Next == "" && resume != 0 {
		l.Next = cursor(resume.String())
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}

func (s *server) getPhone(w http.ResponseWriter, r *http.Request) error {
	set, err := s.PhoneSet()
	if err != nil {
		return err
	}
	m, err := pathMSISDN(r)
	if err != nil {
		return err
	}
	st, err := set.Get(m)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) detachPhone(w http.ResponseWriter, r *http.Request) error {
	m, err := pathMSISDN(r)
	if err != nil {
		return err
	}
	commit, err := s.Phones.Detach(r.Context(), m)
	if err == nil {
		err = committed(r, commit)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) phoneAction(w http.ResponseWriter, r *http.Request) error {
	m, err := pathMSISDN(r)
	if err != nil {
		return err
	}
	act, err := DecodeAction(r)
	if err != nil {
		return err
	}
	if act.Action == phonefsm.ActCall || act.Action == phonefsm.ActAccept {
		if err := admit(r); err != nil {
			return err
		}
	}
	st, commit, err := s.Phones.Act(r.Context(), m, act.Action, act.To)
	if err == nil {
		err = committed(r, commit)
	}
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

// committed waits for what an action ended to be durable before the
// action is acknowledged. The request keeps its gate token meanwhile: a
// token counts a request from its first byte to its answer, and under
// overload that is what keeps the service from taking more than it
// answers fast (group commit keeps the wait short).
func committed(r *http.Request, c phonefsm.Commit) error {
	return c.Wait(r.Context())
}

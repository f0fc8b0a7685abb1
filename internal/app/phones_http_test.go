package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// The phones over HTTP, black box: attach, actions, the devices' replies
// by long poll, and what crashes do to calls.

const phonesAPI = "/api/v1/phones"

type phoneJSON struct {
	MSISDN    string    `json:"msisdn"`
	State     string    `json:"state"`
	Peer      string    `json:"peer"`
	Frequency int       `json:"frequency"`
	Since     time.Time `json:"since"`
}

func attach(t *testing.T, srv *httptest.Server, m string) phoneJSON {
	t.Helper()
	return attachWith(t, srv, map[string]any{"msisdn": m})
}

func attachWith(t *testing.T, srv *httptest.Server, body map[string]any) phoneJSON {
	t.Helper()
	var p phoneJSON
	callJSON(t, srv, http.MethodPost, phonesAPI, body, http.StatusCreated, &p)
	if p.MSISDN != body["msisdn"] || p.State != "idle" || p.Since.IsZero() {
		t.Fatalf("attached %+v, want %v idle", p, body["msisdn"])
	}
	return p
}

// Action bodies.
func dial(to string) map[string]string { return map[string]string{"action": "call", "to": to} }

var (
	accept = map[string]string{"action": "accept"}
	reject = map[string]string{"action": "reject"}
	hangup = map[string]string{"action": "hangup"}
)

func actionsPath(m string) string { return phonesAPI + "/" + m + "/actions" }

// act performs an action, wanting 200, and returns the phone after it.
func act(t *testing.T, srv *httptest.Server, m string, body map[string]string) phoneJSON {
	t.Helper()
	var p phoneJSON
	callJSON(t, srv, http.MethodPost, actionsPath(m), body, http.StatusOK, &p)
	if p.MSISDN != m {
		t.Fatalf("action on %s answered with phone %+v", m, p)
	}
	return p
}

func phoneOf(t *testing.T, srv *httptest.Server, m string) phoneJSON {
	t.Helper()
	var p phoneJSON
	callJSON(t, srv, http.MethodGet, phonesAPI+"/"+m, nil, http.StatusOK, &p)
	return p
}

// waitState waits until phone m is in state with peer ("" for none). The
// other side of a call learns of it asynchronously.
func waitState(t *testing.T, srv *httptest.Server, m, state, peer string) {
	t.Helper()
	var p phoneJSON
	testutil.Eventually(t, waitLimit, fmt.Sprintf("%s %s with peer %q", m, state, peer), func() bool {
		p = phoneOf(t, srv, m)
		return p.State == state && p.Peer == peer
	})
	if wantFreq := state == "connected"; !wantFreq && p.Frequency != 0 {
		t.Fatalf("phone %+v holds a frequency out of a call", p)
	}
}

type replyJSON struct {
	Seq    uint64    `json:"seq"`
	MSISDN string    `json:"msisdn"`
	Type   string    `json:"type"`
	From   string    `json:"from"`
	At     time.Time `json:"at"`
}

type eventsJSON struct {
	Items []replyJSON `json:"items"`
	Next  uint64      `json:"next"`
}

// handset reads one phone's device replies in order, by long poll.
type handset struct {
	srv    *httptest.Server
	msisdn string
	next   uint64
}

func newHandset(srv *httptest.Server, m string) *handset { return &handset{srv: srv, msisdn: m} }

func (h *handset) poll(t *testing.T, wait string) eventsJSON {
	t.Helper()
	var page eventsJSON
	callJSON(t, h.srv, http.MethodGet, fmt.Sprintf("%s/%s/events?after=%d&wait=%s", phonesAPI, h.msisdn, h.next, wait),
		nil, http.StatusOK, &page)
	for _, r := range page.Items {
		if r.Seq != h.next+1 || r.MSISDN != h.msisdn || r.At.IsZero() {
			t.Fatalf("%s's device: reply %+v after seq %d", h.msisdn, r, h.next)
		}
		h.next = r.Seq
	}
	if page.Next != h.next {
		t.Fatalf("%s's device: next %d, want %d", h.msisdn, page.Next, h.next)
	}
	return page
}

// expect waits for the device's next replies and checks them: a type, or
// inbound:FROM.
func (h *handset) expect(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(waitLimit)
	for len(got) < len(want) && time.Now().Before(deadline) {
		for _, r := range h.poll(t, "1").Items {
			if r.Type == "inbound" {
				r.Type += ":" + r.From
			}
			got = append(got, r.Type)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s's device got %q, want %q", h.msisdn, got, want)
	}
}

// quiet checks the device got nothing more.
func (h *handset) quiet(t *testing.T) {
	t.Helper()
	if page := h.poll(t, "0"); len(page.Items) != 0 {
		t.Fatalf("%s's device got %+v, want nothing", h.msisdn, page.Items)
	}
}

// connect attaches caller and callee and puts them in a call answered by
// the callee, returning their handsets.
func connect(t *testing.T, srv *httptest.Server, caller, callee string) (*handset, *handset) {
	t.Helper()
	attach(t, srv, caller)
	attach(t, srv, callee)
	hr, he := newHandset(srv, caller), newHandset(srv, callee)
	if p := act(t, srv, caller, dial(callee)); p.State != "calling" || p.Peer != callee {
		t.Fatalf("after dialling: %+v, want calling %s", p, callee)
	}
	he.expect(t, "inbound:"+caller)
	waitState(t, srv, callee, "receiving", caller)
	if p := act(t, srv, callee, accept); p.State != "connected" || p.Peer != caller {
		t.Fatalf("after accepting: %+v, want connected with %s", p, caller)
	}
	hr.expect(t, "accepted")
	waitState(t, srv, caller, "connected", callee)
	return hr, he
}

// TestBookSessionHTTP is the book's acceptance session (domain.md §3)
// over HTTP, with each device's replies and the call records.
func TestBookSessionHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	d123, d124 := connect(t, srv, "123", "124")
	attach(t, srv, "125")
	d125 := newHandset(srv, "125")
	if p := phoneOf(t, srv, "123"); p.Frequency != 10 {
		t.Fatalf("caller %+v, want it on frequency 10", p)
	}
	if v := frequencies(t, srv); len(v.Allocated) != 1 || ownersOf(v)[10] != "msisdn:123" {
		t.Fatalf("frequencies %+v, want 10 allocated to msisdn:123 only", v)
	}

	for _, callee := range []string{"123", "124"} {
		act(t, srv, "125", dial(callee))
		d125.expect(t, "busy")
		waitState(t, srv, "125", "idle", "")
	}
	waitState(t, srv, "123", "connected", "124")
	waitState(t, srv, "124", "connected", "123")

	if p := act(t, srv, "123", hangup); p.State != "idle" || p.Peer != "" || p.Frequency != 0 {
		t.Fatalf("after hanging up: %+v, want idle", p)
	}
	d124.expect(t, "hangup")
	waitState(t, srv, "124", "idle", "")
	if v := frequencies(t, srv); len(v.Allocated) != 0 || v.Free[0] != 10 {
		t.Fatalf("frequencies %+v after the hangup, want 10 free again, at the head", v)
	}

	act(t, srv, "125", dial("125")) // the book's "ultimate test"
	d125.expect(t, "busy")
	waitState(t, srv, "125", "idle", "")
	wantProblem(t, srv, http.MethodPost, actionsPath("125"), dial("999"), http.StatusNotFound, "invalid_number")
	d125.expect(t, "invalid")
	waitState(t, srv, "125", "idle", "")
	d123.quiet(t)
	d124.quiet(t)
	d125.quiet(t)

	// Records are numbered as they are written, when calls end. The call
	// to 999 never left idle: it has none.
	recs := byOutcome(waitCalls(t, srv, "", 4))
	if a := recs["answered"]; len(a) != 1 || a[0].Caller != "123" || a[0].Callee != "124" || a[0].EndedBy != "caller" ||
		a[0].Frequency == nil || *a[0].Frequency != 10 || a[0].AnsweredAt == nil {
		t.Errorf("answered records %+v, want 123→124 on 10, ended by the caller", a)
	}
	var busy []string
	for _, r := range recs["busy"] {
		if r.Caller != "125" || r.Frequency != nil || r.AnsweredAt != nil {
			t.Errorf("record %+v, want a call of 125's without frequency or answer", r)
		}
		busy = append(busy, r.Callee)
	}
	if !slices.Equal(busy, []string{"123", "124", "125"}) {
		t.Errorf("125's busy calls went to %v, want 123, 124 and 125 in turn", busy)
	}
}

// TestPhoneCrashMidCallHTTP: a controller that crashes restarts alone, as
// a fresh idle controller for the same MSISDN; its call ends for the peer,
// its frequency is freed and the call is recorded as dropped.
func TestPhoneCrashMidCallHTTP(t *testing.T) {
	_, srv := startTestApp(t, withFaultInjection)
	d123, d124 := connect(t, srv, "123", "124")
	before, peer, tree := processInfo(t, srv, "phone:123"), processInfo(t, srv, "phone:124"), restarts(t, srv)

	callJSON(t, srv, http.MethodPost, "/api/v1/processes/phone:123:crash", nil, http.StatusAccepted, nil)
	d124.expect(t, "hangup")
	testutil.Eventually(t, waitLimit, "phone:123's restart", func() bool {
		return processInfo(t, srv, "phone:123").StartedAt.After(before.StartedAt)
	})
	waitState(t, srv, "123", "idle", "")
	waitState(t, srv, "124", "idle", "")
	d123.quiet(t)
	if p := processInfo(t, srv, "phone:124"); !p.StartedAt.Equal(peer.StartedAt) {
		t.Errorf("the peer restarted too: started at %v, then %v", peer.StartedAt, p.StartedAt)
	}
	for child, n := range restarts(t, srv) {
		if n.Restarts != tree[child].Restarts {
			t.Errorf("%s restarted (%d restarts, was %d)", child, n.Restarts, tree[child].Restarts)
		}
	}
	if v := frequencies(t, srv); len(v.Allocated) != 0 {
		t.Errorf("frequencies %+v after the crash, want none allocated", v)
	}
	if rec := waitCalls(t, srv, "", 1)[0]; rec.Outcome != "dropped" || rec.Caller != "123" || rec.AnsweredAt == nil {
		t.Errorf("record %+v, want the answered call dropped", rec)
	}

	// The restarted controller serves the phone as before.
	act(t, srv, "123", dial("124"))
	d124.expect(t, "inbound:123")
}

// TestCrashDropsCallsHTTP: the allocator's crash restarts the phones
// after it (rest_for_one), and phones:crash restarts the phones alone:
// either way every phone is detached, every call dropped and recorded,
// every frequency free; the overload manager and its counters are
// untouched (domain.md §5).
func TestCrashDropsCallsHTTP(t *testing.T) {
	for _, tc := range []struct {
		crash    string
		restarts map[string]int
	}{
		{"frequency", map[string]int{"overload": 0, "frequency": 1, "phones": 1}},
		{"phones", map[string]int{"overload": 0, "frequency": 0, "phones": 1}},
	} {
		t.Run(tc.crash, func(t *testing.T) {
			_, srv := startTestApp(t, func(c *config.Config) { c.FaultInjection = true; c.Frequencies = "10" })
			connect(t, srv, "123", "124") // on the last frequency: alarm no_frequency
			attach(t, srv, "125")
			attach(t, srv, "126")
			act(t, srv, "125", dial("126")) // ringing
			waitState(t, srv, "126", "receiving", "125")
			counted := counters(t, srv)
			if counted["set_alarm:no_frequency"] != 1 {
				t.Fatalf("counters %v, want the no_frequency alarm set once", counted)
			}

			crash(t, srv, tc.crash, tc.restarts)
			var phones struct{ Items []phoneJSON }
			callJSON(t, srv, http.MethodGet, phonesAPI, nil, http.StatusOK, &phones)
			if len(phones.Items) != 0 {
				t.Fatalf("phones after the restart: %+v, want none", phones.Items)
			}
			wantProblem(t, srv, http.MethodGet, phonesAPI+"/123", nil, http.StatusNotFound, "not_attached")
			wantProblem(t, srv, http.MethodGet, phonesAPI+"/123/events", nil, http.StatusNotFound, "not_attached")
			for _, r := range waitCalls(t, srv, "", 2) {
				if r.Outcome != "dropped" {
					t.Errorf("record %+v, want dropped", r)
				}
			}
			if v := frequencies(t, srv); len(v.Allocated) != 0 || !slices.Equal(v.Free, []int{10}) {
				t.Errorf("frequencies %+v after the restart, want 10 free", v)
			}
			got := counters(t, srv)
			for k, n := range counted {
				if got[k] < n {
					t.Errorf("counter %s went from %d to %d: the counters were reset", k, n, got[k])
				}
			}
		})
	}
}

// TestNoFrequencyHTTP: with one frequency, the second answered call finds
// none; both its sides get no_frequency and go idle, and the alarm is
// active exactly while the first call holds the frequency.
func TestNoFrequencyHTTP(t *testing.T) {
	_, srv := startTestApp(t, func(c *config.Config) { c.Frequencies = "10" })
	_, d124 := connect(t, srv, "123", "124")
	if _, on := activeAlarms(t, srv)["no_frequency"]; !on {
		t.Fatal("no no_frequency alarm while the only frequency is in use")
	}
	attach(t, srv, "125")
	attach(t, srv, "126")
	d125, d126 := newHandset(srv, "125"), newHandset(srv, "126")
	act(t, srv, "125", dial("126"))
	d126.expect(t, "inbound:125")
	act(t, srv, "126", accept)
	d125.expect(t, "no_frequency")
	d126.expect(t, "no_frequency")
	waitState(t, srv, "125", "idle", "")
	waitState(t, srv, "126", "idle", "")
	if _, on := activeAlarms(t, srv)["no_frequency"]; !on {
		t.Fatal("no_frequency cleared while the first call lasts")
	}

	act(t, srv, "123", hangup)
	d124.expect(t, "hangup")
	if _, on := activeAlarms(t, srv)["no_frequency"]; on {
		t.Fatal("no_frequency still active after the call ended")
	}
	c := counters(t, srv)
	if set, clear := c["set_alarm:no_frequency"], c["clear_alarm:no_frequency"]; set < clear || set-clear > 1 || set == 0 {
		t.Errorf("no_frequency set %d, cleared %d: want set - clear in {0, 1}", set, clear)
	}
	if c["event:frequency_denied"] != 1 {
		t.Errorf("event:frequency_denied %d, want 1", c["event:frequency_denied"])
	}
	recs := byOutcome(waitCalls(t, srv, "", 2))
	if r := recs["answered"]; len(r) != 1 || r[0].Caller != "123" || r[0].Frequency == nil || *r[0].Frequency != 10 {
		t.Errorf("answered records %+v, want 123's call on 10", r)
	}
	if r := recs["no_frequency"]; len(r) != 1 || r[0].Caller != "125" || r[0].EndedBy != "system" || r[0].Frequency != nil {
		t.Errorf("no_frequency records %+v, want 125's call, ended by the system", r)
	}
}

// TestPhoneBadInputHTTP: every refusal is the documented 4xx with its
// code, and changes no phone.
func TestPhoneBadInputHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	attach(t, srv, "123")
	attach(t, srv, "124")
	d123, d124 := newHandset(srv, "123"), newHandset(srv, "124")
	before := []phoneJSON{phoneOf(t, srv, "123"), phoneOf(t, srv, "124")}
	device := func(d map[string]any) map[string]any { return map[string]any{"msisdn": "200", "device": d} }
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"malformed msisdn in path", "POST", actionsPath("12a"), hangup, 400, "invalid_msisdn"},
		{"long msisdn in path", "GET", phonesAPI + "/1234567890123456", nil, 400, "invalid_msisdn"},
		{"signed msisdn in path", "DELETE", phonesAPI + "/+123", nil, 400, "invalid_msisdn"},
		{"unknown action", "POST", actionsPath("123"), map[string]string{"action": "dance"}, 400, "invalid_request"},
		{"no action", "POST", actionsPath("123"), map[string]string{}, 400, "invalid_request"},
		{"call without to", "POST", actionsPath("123"), map[string]string{"action": "call"}, 400, "invalid_request"},
		{"accept with to", "POST", actionsPath("123"), map[string]string{"action": "accept", "to": "124"}, 400, "invalid_request"},
		{"malformed to", "POST", actionsPath("123"), dial("12-4"), 400, "invalid_msisdn"},
		{"empty to", "POST", actionsPath("123"), dial(""), 400, "invalid_msisdn"},
		{"numeric to", "POST", actionsPath("123"), map[string]any{"action": "call", "to": 124}, 400, "invalid_request"},
		{"unknown field", "POST", actionsPath("123"), map[string]string{"action": "hangup", "why": "bored"}, 400, "invalid_request"},
		{"no body", "POST", actionsPath("123"), nil, 400, "invalid_request"},
		{"oversized body", "POST", actionsPath("123"), map[string]string{"action": "hangup", "pad": strings.Repeat("x", 1<<20)}, 413, "too_large"},
		{"accept while idle", "POST", actionsPath("123"), accept, 409, "invalid_state"},
		{"reject while idle", "POST", actionsPath("123"), reject, 409, "invalid_state"},
		{"hangup while idle", "POST", actionsPath("123"), hangup, 409, "invalid_state"},
		{"action on a detached phone", "POST", actionsPath("999"), hangup, 404, "not_attached"},
		{"get a detached phone", "GET", phonesAPI + "/999", nil, 404, "not_attached"},
		{"detach a detached phone", "DELETE", phonesAPI + "/999", nil, 404, "not_attached"},
		{"attach malformed", "POST", phonesAPI, map[string]string{"msisdn": "abc"}, 400, "invalid_msisdn"},
		{"attach without msisdn", "POST", phonesAPI, map[string]string{}, 400, "invalid_msisdn"},
		{"attach numeric msisdn", "POST", phonesAPI, map[string]int{"msisdn": 200}, 400, "invalid_request"},
		{"attach again", "POST", phonesAPI, map[string]string{"msisdn": "123"}, 409, "already_attached"},
		{"attach unknown field", "POST", phonesAPI, map[string]string{"msisdn": "200", "imsi": "001010000000200"}, 400, "invalid_request"},
		{"device without mode", "POST", phonesAPI, device(map[string]any{}), 400, "invalid_request"},
		{"unknown device mode", "POST", phonesAPI, device(map[string]any{"mode": "robot"}), 400, "invalid_request"},
		{"auto field on manual", "POST", phonesAPI, device(map[string]any{"mode": "manual", "talk_time_ms": []int{1, 2}}), 400, "invalid_request"},
		{"reversed range", "POST", phonesAPI, device(map[string]any{"mode": "auto", "answer_delay_ms": []int{10, 1}}), 400, "invalid_request"},
		{"range of three", "POST", phonesAPI, device(map[string]any{"mode": "auto", "talk_time_ms": []int{1, 2, 3}}), 400, "invalid_request"},
		{"negative delay", "POST", phonesAPI, device(map[string]any{"mode": "auto", "answer_delay_ms": []int{-1, 5}}), 400, "invalid_request"},
		{"delay over an hour", "POST", phonesAPI, device(map[string]any{"mode": "auto", "talk_time_ms": []int64{0, 1e12}}), 400, "invalid_request"},
		{"probability over 1", "POST", phonesAPI, device(map[string]any{"mode": "auto", "accept_probability": 1.5}), 400, "invalid_request"},
		{"negative seed", "POST", phonesAPI, device(map[string]any{"mode": "auto", "seed": -1}), 400, "invalid_request"},
		{"unknown device field", "POST", phonesAPI, device(map[string]any{"mode": "auto", "speed": 1}), 400, "invalid_request"},
		{"unknown state", "GET", phonesAPI + "?state=ringing", nil, 400, "invalid_request"},
		{"bad limit", "GET", phonesAPI + "?limit=0", nil, 400, "invalid_request"},
		{"foreign cursor", "GET", phonesAPI + "?after=YWJj", nil, 400, "invalid_request"}, // "abc"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, srv, tt.method, tt.path, tt.body, tt.status, tt.code)
		})
	}
	after := []phoneJSON{phoneOf(t, srv, "123"), phoneOf(t, srv, "124")}
	if !slices.Equal(before, after) {
		t.Errorf("refused requests changed the phones:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := listPhones(t, srv, "", 100); !slices.Equal(got, []string{"123", "124"}) {
		t.Errorf("phones %v after the refused attaches, want 123 and 124 only", got)
	}
	d123.quiet(t)
	d124.quiet(t)
}

// listPhones reads every page of GET /api/v1/phones with query, limit at a
// time, and returns the MSISDNs in order.
func listPhones(t *testing.T, srv *httptest.Server, query string, limit int) []string {
	t.Helper()
	out := []string{}
	for _, p := range listAll[phoneJSON](t, srv, phonesAPI, query, limit) {
		out = append(out, p.MSISDN)
	}
	return out
}

// TestPhonesListAndDetachHTTP pages the phones, by state too, and detaches
// one in a call, which ends the call for its peer.
func TestPhonesListAndDetachHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	for _, m := range []string{"3", "123", "1", "2", "12"} {
		attach(t, srv, m)
	}
	d1 := newHandset(srv, "1")
	act(t, srv, "1", dial("12"))
	waitState(t, srv, "12", "receiving", "1")
	for query, want := range map[string][]string{
		"":                {"1", "12", "123", "2", "3"}, // MSISDNs sort as strings
		"state=idle":      {"123", "2", "3"},
		"state=calling":   {"1"},
		"state=receiving": {"12"},
		"state=connected": {},
	} {
		for _, limit := range []int{1, 2, 1000} {
			if got := listPhones(t, srv, query, limit); !slices.Equal(got, want) {
				t.Errorf("phones?%s by %d: %v, want %v", query, limit, got, want)
			}
		}
	}

	callJSON(t, srv, http.MethodDelete, phonesAPI+"/12", nil, http.StatusNoContent, nil)
	d1.expect(t, "rejected")
	waitState(t, srv, "1", "idle", "")
	wantProblem(t, srv, http.MethodGet, phonesAPI+"/12", nil, http.StatusNotFound, "not_attached")
	wantProblem(t, srv, http.MethodDelete, phonesAPI+"/12", nil, http.StatusNotFound, "not_attached")
	if got := listPhones(t, srv, "", 100); !slices.Equal(got, []string{"1", "123", "2", "3"}) {
		t.Errorf("phones after detaching 12: %v", got)
	}
	attach(t, srv, "12") // a detached phone attaches again
}

// TestAttachProvisioningAndAutoDeviceHTTP: without auto-provisioning only
// subscribers attach; an auto device answers and hangs up by itself.
func TestAttachProvisioningAndAutoDeviceHTTP(t *testing.T) {
	_, srv := startTestApp(t, func(c *config.Config) { c.AutoProvision = false })
	wantProblem(t, srv, http.MethodPost, phonesAPI, map[string]string{"msisdn": "123"}, http.StatusNotFound, "unknown_subscriber")
	for _, m := range []string{"123", "124"} {
		callJSON(t, srv, http.MethodPost, subscribersAPI, map[string]string{"msisdn": m}, http.StatusCreated, nil)
	}
	attach(t, srv, "123")
	attachWith(t, srv, map[string]any{"msisdn": "124", "device": map[string]any{
		"mode": "auto", "answer_delay_ms": []int{0, 0}, "accept_probability": 1, "talk_time_ms": []int{0, 0}, "seed": 7,
	}})
	d123 := newHandset(srv, "123")
	act(t, srv, "123", dial("124"))
	d123.expect(t, "accepted", "hangup")
	waitState(t, srv, "123", "idle", "")
	waitState(t, srv, "124", "idle", "")
	if r := waitCalls(t, srv, "", 1)[0]; r.Outcome != "answered" || r.EndedBy != "callee" {
		t.Errorf("record %+v, want answered and ended by the auto callee", r)
	}
}

// TestPhoneProcessHTTP: phone:MSISDN is inspected like any process, and a
// crash restarts it idle.
func TestPhoneProcessHTTP(t *testing.T) {
	_, srv := startTestApp(t, withFaultInjection)
	attach(t, srv, "123")
	attach(t, srv, "124")
	act(t, srv, "123", dial("124"))
	info := processInfo(t, srv, "phone:123")
	if info.Name != "phone:123" || info.Status != "running" || !strings.Contains(info.State, "calling") ||
		len(info.Log) == 0 || info.Log[len(info.Log)-1].Kind != "call" {
		t.Fatalf("phone:123 %+v, want running, calling, with the call in its log", info)
	}
	callJSON(t, srv, http.MethodPost, "/api/v1/processes/phone:123:crash", nil, http.StatusAccepted, nil)
	testutil.Eventually(t, waitLimit, "phone:123's restart", func() bool {
		return processInfo(t, srv, "phone:123").StartedAt.After(info.StartedAt)
	})
	if p := phoneOf(t, srv, "123"); p.MSISDN != "123" || p.State != "idle" {
		t.Errorf("restarted phone %+v, want 123 idle", p)
	}
	waitState(t, srv, "124", "idle", "")
	for _, name := range []string{"phone:999", "phone:12a"} {
		wantProblem(t, srv, http.MethodGet, "/api/v1/processes/"+name, nil, http.StatusNotFound, "not_found")
	}
}

// Past --max-phones an attach is shed with 503 overloaded and changes
// nothing; a detach makes room again.
func TestMaxPhonesHTTP(t *testing.T) {
	_, srv := startTestApp(t, func(c *config.Config) { c.MaxPhones = 2 })
	attach(t, srv, "1")
	attach(t, srv, "2")
	wantProblem(t, srv, http.MethodPost, phonesAPI, map[string]any{"msisdn": "3"}, http.StatusServiceUnavailable, "overloaded")
	if got := listPhones(t, srv, "", 10); len(got) != 2 {
		t.Fatalf("phones %v after a shed attach", got)
	}
	callJSON(t, srv, http.MethodDelete, phonesAPI+"/1", nil, http.StatusNoContent, nil)
	attach(t, srv, "3")
}

package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// The coffee machines over HTTP, black box: the real app, its handler, and
// only what a client sees (machine JSON, the hardware log, /metrics).

const coffeeAPI = "/api/v1/coffee-machines"

// waitLimit bounds every wait for a timer or a restart; generous, since the
// race detector on a loaded machine is slow.
const coffeeWait = 10 * time.Second

// machine is the machine JSON of api.md.
type machineJSON struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Drink   string `json:"drink"`
	Price   *int   `json:"price"`
	Paid    *int   `json:"paid"`
	Display string `json:"display"`
}

// String renders a machine as the tables below spell it:
// "selection|Make Your Selection", "payment tea 100/50|Please pay:50".
func (m machineJSON) String() string {
	s := m.State
	if m.Drink != "" || m.Price != nil || m.Paid != nil {
		s += " " + m.Drink + " " + intOrDash(m.Price) + "/" + intOrDash(m.Paid)
	}
	return s + "|" + m.Display
}

func intOrDash(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

type hwOpJSON struct {
	Seq uint64    `json:"seq"`
	Op  string    `json:"op"`
	Arg string    `json:"arg"`
	At  time.Time `json:"at"`
}

// hardware is machine id's hardware log as "op arg" lines, checking that
// seq counts from 1 without gaps and that every call has a time.
func hwLog(t *testing.T, srv *httptest.Server, id string) []string {
	t.Helper()
	var log struct{ Items []hwOpJSON }
	callJSON(t, srv, http.MethodGet, coffeeAPI+"/"+id+"/hardware", nil, http.StatusOK, &log)
	out := make([]string, len(log.Items))
	for i, op := range log.Items {
		if op.Seq != uint64(i+1) || op.At.IsZero() {
			t.Fatalf("hardware op %d: %+v, want seq %d and a time", i, op, i+1)
		}
		out[i] = strings.TrimSpace(op.Op + " " + op.Arg)
	}
	return out
}

func getMachine(t *testing.T, srv *httptest.Server, id string) machineJSON {
	t.Helper()
	var m machineJSON
	callJSON(t, srv, http.MethodGet, coffeeAPI+"/"+id, nil, http.StatusOK, &m)
	return m
}

// createMachine creates a machine from a JSON body and checks its first
// screen.
func createMachine(t *testing.T, srv *httptest.Server, body string) machineJSON {
	t.Helper()
	var m machineJSON
	callJSON(t, srv, http.MethodPost, coffeeAPI, json.RawMessage(body), http.StatusCreated, &m)
	if m.String() != "selection|Make Your Selection" {
		t.Fatalf("created %s", m)
	}
	return m
}

// postEvent sends a raw body (so that malformed JSON can be sent too) to
// machine id's events; "" sends no body.
func postCoffeeEvent(t *testing.T, srv *httptest.Server, id, body string) (int, []byte) {
	t.Helper()
	res, err := srv.Client().Post(srv.URL+coffeeAPI+"/"+id+"/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, out.Bytes()
}

// event sends a valid event and returns the machine after it.
func sendEvent(t *testing.T, srv *httptest.Server, id, body string) machineJSON {
	t.Helper()
	status, raw := postCoffeeEvent(t, srv, id, body)
	var m machineJSON
	if status != http.StatusOK || json.Unmarshal(raw, &m) != nil {
		t.Fatalf("event %s: status %d, body %s", body, status, raw)
	}
	return m
}

// step is one event and what it must do: the machine after it and the
// hardware calls it makes, in order.
type coffeeStep struct {
	event string
	want  string
	hw    []string
}

// runSteps plays steps on machine id, checking the answer, the machine as
// GET shows it, and the exact hardware calls of each step.
func runCoffeeSteps(t *testing.T, srv *httptest.Server, id string, steps []coffeeStep) {
	t.Helper()
	before := hwLog(t, srv, id)
	for _, s := range steps {
		if got := sendEvent(t, srv, id, s.event); got.String() != s.want {
			t.Fatalf("%s: answered %s, want %s", s.event, got, s.want)
		}
		if got := getMachine(t, srv, id); got.String() != s.want {
			t.Fatalf("%s: GET shows %s, want %s", s.event, got, s.want)
		}
		after := hwLog(t, srv, id)
		if got := after[len(before):]; !slices.Equal(got, s.hw) {
			t.Fatalf("%s: hardware calls %q, want %q", s.event, got, s.hw)
		}
		before = after
	}
}

// metric is the value of one series on GET /metrics, "" if absent.
func scrapeMetric(t *testing.T, srv *httptest.Server, series string) string {
	t.Helper()
	_, body := call(t, srv, http.MethodGet, "/metrics", nil)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	return ""
}

// TestCoffeeBookSession is the book's session, over HTTP.
func TestCoffeeBookSession(t *testing.T) {
	_, srv := startTestApp(t, nil)
	m := createMachine(t, srv, `{"id":"book"}`)
	if got := hwLog(t, srv, m.ID); !slices.Equal(got, []string{"reboot", "display Make Your Selection"}) {
		t.Fatalf("hardware at start %q", got)
	}
	runCoffeeSteps(t, srv, m.ID, []coffeeStep{
		{`{"event":"cancel"}`, "selection|Make Your Selection", nil},
		{`{"event":"select","drink":"tea"}`, "payment tea 100/0|Please pay:100", []string{"display Please pay:100"}},
		{`{"event":"cancel"}`, "selection|Make Your Selection", []string{"display Make Your Selection", "return_change 0"}},
		{`{"event":"select","drink":"americano"}`, "payment americano 150/0|Please pay:150", []string{"display Please pay:150"}},
		{`{"event":"pay","coin":100}`, "payment americano 150/100|Please pay:50", []string{"display Please pay:50"}},
		{`{"event":"pay","coin":100}`, "remove|Remove Drink.", []string{
			"display Preparing Drink.", "return_change 50", "drop_cup", "prepare americano", "display Remove Drink."}},
		{`{"event":"pay","coin":50}`, "remove|Remove Drink.", []string{"return_change 50"}},
		{`{"event":"cup_removed"}`, "selection|Make Your Selection", []string{"display Make Your Selection"}},
	})
	if got := scrapeMetric(t, srv, `bsc_coffee_drinks_total{drink="americano"}`); got != "1" {
		t.Errorf(`bsc_coffee_drinks_total{drink="americano"} is %q, want 1`, got)
	}
	if got := scrapeMetric(t, srv, `bsc_coffee_drinks_total{drink="tea"}`); got != "0" {
		t.Errorf(`bsc_coffee_drinks_total{drink="tea"} is %q, want 0 (the tea was cancelled)`, got)
	}
}

// TestCoffeeServiceMode is the book's upgrade: open from selection, close
// reboots.
func TestCoffeeServiceMode(t *testing.T) {
	_, srv := startTestApp(t, nil)
	m := createMachine(t, srv, `{}`)
	runCoffeeSteps(t, srv, m.ID, []coffeeStep{
		{`{"event":"open"}`, "service|Make Your Selection", nil},
		{`{"event":"select","drink":"tea"}`, "service|Make Your Selection", nil},
		{`{"event":"pay","coin":20}`, "service|Make Your Selection", []string{"return_change 20"}},
		{`{"event":"close"}`, "selection|Make Your Selection", []string{"reboot", "display Make Your Selection"}},
	})
}

// waitForHardware waits until machine id's hardware log is want and GET
// shows it as state: a timeout or a restart lands on its own.
func waitForHW(t *testing.T, srv *httptest.Server, id string, want []string, state string) {
	t.Helper()
	testutil.Eventually(t, coffeeWait, "hardware log "+strings.Join(want, ", "), func() bool {
		return slices.Equal(hwLog(t, srv, id), want) && getMachine(t, srv, id).String() == state
	})
}

func TestCoffeePaymentTimeoutRefunds(t *testing.T) {
	_, srv := startTestApp(t, nil)
	m := createMachine(t, srv, `{"payment_timeout_ms":1000}`)
	runCoffeeSteps(t, srv, m.ID, []coffeeStep{
		{`{"event":"select","drink":"tea"}`, "payment tea 100/0|Please pay:100", []string{"display Please pay:100"}},
		{`{"event":"pay","coin":50}`, "payment tea 100/50|Please pay:50", []string{"display Please pay:50"}},
	})
	waitForHW(t, srv, m.ID, []string{
		"reboot", "display Make Your Selection", "display Please pay:100", "display Please pay:50",
		"display Make Your Selection", "return_change 50",
	}, "selection|Make Your Selection")
	if got := scrapeMetric(t, srv, `bsc_coffee_refunded_money_total{reason="timeout"}`); got != "50" {
		t.Errorf(`bsc_coffee_refunded_money_total{reason="timeout"} is %q, want 50`, got)
	}
}

// A new selection during payment is ignored: it neither changes the drink
// nor restarts the timer. Selections keep coming, far more often than the
// timeout, until one is answered from selection; a selection that re-armed
// the timer would never let it fire. (The exact timing is proved with a fake
// clock in the coffee package's tests.)
func TestCoffeeSelectionInPaymentIsIgnored(t *testing.T) {
	_, srv := startTestApp(t, nil)
	m := createMachine(t, srv, `{"payment_timeout_ms":1000}`)
	runCoffeeSteps(t, srv, m.ID, []coffeeStep{
		{`{"event":"select","drink":"tea"}`, "payment tea 100/0|Please pay:100", []string{"display Please pay:100"}},
	})
	testutil.Eventually(t, coffeeWait, "the payment to time out despite new selections", func() bool {
		got := sendEvent(t, srv, m.ID, `{"event":"select","drink":"espresso"}`).String()
		if got != "payment tea 100/0|Please pay:100" && got != "payment espresso 150/0|Please pay:150" {
			t.Fatalf("select espresso during payment answered %s", got)
		}
		return strings.Contains(got, "espresso") // selected afresh, after the timeout
	})
	want := []string{
		"reboot", "display Make Your Selection", "display Please pay:100",
		"display Make Your Selection", "return_change 0", "display Please pay:150",
	}
	if got := hwLog(t, srv, m.ID); !slices.Equal(got, want) {
		t.Fatalf("hardware %q, want %q", got, want)
	}
}

func TestCoffeeCrashInPaymentRefundsAndRestarts(t *testing.T) {
	_, srv := startTestApp(t, func(c *config.Config) { c.FaultInjection = true })
	m := createMachine(t, srv, `{"id":"c1"}`)
	runCoffeeSteps(t, srv, m.ID, []coffeeStep{
		{`{"event":"select","drink":"espresso"}`, "payment espresso 150/0|Please pay:150", []string{"display Please pay:150"}},
		{`{"event":"pay","coin":50}`, "payment espresso 150/50|Please pay:100", []string{"display Please pay:100"}},
	})
	callJSON(t, srv, http.MethodPost, "/api/v1/processes/coffee:"+m.ID+":crash", nil, http.StatusAccepted, nil)
	waitForHW(t, srv, m.ID, []string{
		"reboot", "display Make Your Selection", "display Please pay:150", "display Please pay:100",
		"return_change 50", "reboot", "display Make Your Selection",
	}, "selection|Make Your Selection")
	// The restarted machine serves under the same id.
	runCoffeeSteps(t, srv, m.ID, []coffeeStep{
		{`{"event":"select","drink":"tea"}`, "payment tea 100/0|Please pay:100", []string{"display Please pay:100"}},
	})
	if got := scrapeMetric(t, srv, `bsc_coffee_refunded_money_total{reason="crash"}`); got != "50" {
		t.Errorf(`bsc_coffee_refunded_money_total{reason="crash"} is %q, want 50`, got)
	}
}

// Bad input is refused with its code and changes nothing, checked on a
// machine in selection and one in payment (where a pay, select or cancel
// that got through would show on the hardware).
func TestCoffeeBadInput(t *testing.T) {
	_, srv := startTestApp(t, nil)
	idle := createMachine(t, srv, `{"id":"idle"}`)
	paying := createMachine(t, srv, `{"id":"paying"}`)
	runCoffeeSteps(t, srv, paying.ID, []coffeeStep{
		{`{"event":"select","drink":"tea"}`, "payment tea 100/0|Please pay:100", []string{"display Please pay:100"}},
		{`{"event":"pay","coin":50}`, "payment tea 100/50|Please pay:50", []string{"display Please pay:50"}},
	})
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown drink", `{"event":"select","drink":"mocha"}`, 400, "unknown_drink"},
		{"no drink", `{"event":"select"}`, 400, "unknown_drink"},
		{"unknown event", `{"event":"brew"}`, 400, "unknown_event"},
		{"no event", `{}`, 400, "unknown_event"},
		{"zero coin", `{"event":"pay","coin":0}`, 400, "invalid_coin"},
		{"negative coin", `{"event":"pay","coin":-50}`, 400, "invalid_coin"},
		{"no coin", `{"event":"pay"}`, 400, "invalid_coin"},
		{"coin as a string", `{"event":"pay","coin":"50"}`, 400, "invalid_request"},
		{"unknown field", `{"event":"cancel","sugar":2}`, 400, "invalid_request"},
		{"malformed JSON", `{"event":"cancel"`, 400, "invalid_request"},
		{"two values", `{"event":"cancel"}{"event":"cancel"}`, 400, "invalid_request"},
		{"empty body", ``, 400, "invalid_request"},
	}
	for _, id := range []string{idle.ID, paying.ID} {
		state, log := getMachine(t, srv, id), hwLog(t, srv, id)
		for _, c := range cases {
			t.Run(id+"/"+c.name, func(t *testing.T) {
				status, raw := postCoffeeEvent(t, srv, id, c.body)
				var p struct{ Code string }
				if status != c.status || json.Unmarshal(raw, &p) != nil || p.Code != c.code {
					t.Fatalf("status %d body %s, want %d %s", status, raw, c.status, c.code)
				}
				if got := getMachine(t, srv, id); got.String() != state.String() {
					t.Fatalf("machine changed to %s from %s", got, state)
				}
				if got := hwLog(t, srv, id); !slices.Equal(got, log) {
					t.Fatalf("hardware changed to %q from %q", got, log)
				}
			})
		}
	}

	// An unknown machine, with a valid event.
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, coffeeAPI + "/nope"},
		{http.MethodGet, coffeeAPI + "/nope/hardware"},
		{http.MethodDelete, coffeeAPI + "/nope"},
	} {
		wantProblem(t, srv, r.method, r.path, nil, http.StatusNotFound, "not_found")
	}
	wantProblem(t, srv, http.MethodPost, coffeeAPI+"/nope/events", json.RawMessage(`{"event":"cancel"}`), http.StatusNotFound, "not_found")
	// A cursor that names no machine id, as every list refuses a foreign one.
	wantProblem(t, srv, http.MethodGet, coffeeAPI+"?after=garbage", nil, http.StatusBadRequest, "invalid_request")

	// Creation refuses bad ids and timeouts, and a taken id.
	for _, body := range []string{`{"id":"a b"}`, `{"payment_timeout_ms":0}`, `{"payment_timeout_ms":3600001}`, `{"name":"x"}`} {
		wantProblem(t, srv, http.MethodPost, coffeeAPI, json.RawMessage(body), http.StatusBadRequest, "invalid_request")
	}
	wantProblem(t, srv, http.MethodPost, coffeeAPI, json.RawMessage(`{"id":"idle"}`), http.StatusConflict, "already_exists")
}

func TestCoffeeDeleteInPaymentRefunds(t *testing.T) {
	_, srv := startTestApp(t, nil)
	m := createMachine(t, srv, `{"id":"gone"}`)
	runCoffeeSteps(t, srv, m.ID, []coffeeStep{
		{`{"event":"select","drink":"cappuccino"}`, "payment cappuccino 150/0|Please pay:150", []string{"display Please pay:150"}},
		{`{"event":"pay","coin":100}`, "payment cappuccino 150/100|Please pay:50", []string{"display Please pay:50"}},
	})
	callJSON(t, srv, http.MethodDelete, coffeeAPI+"/gone", nil, http.StatusNoContent, nil)
	// The hardware log goes with the machine; the refund shows in the
	// metrics, already counted when the 204 came.
	if got := scrapeMetric(t, srv, `bsc_coffee_refunded_money_total{reason="stop"}`); got != "100" {
		t.Errorf(`bsc_coffee_refunded_money_total{reason="stop"} is %q, want 100`, got)
	}
	wantProblem(t, srv, http.MethodGet, coffeeAPI+"/gone", nil, http.StatusNotFound, "not_found")
	var list struct{ Items []machineJSON }
	callJSON(t, srv, http.MethodGet, coffeeAPI, nil, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Fatalf("machines after delete: %+v", list.Items)
	}
}

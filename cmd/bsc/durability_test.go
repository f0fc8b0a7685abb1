package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// post sends a JSON body and returns the status (0 when the request failed).
func (p *bscProcess) post(t *testing.T, path string, body any) int {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Post(p.url+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	return res.StatusCode
}

type callList struct {
	Items []struct {
		Caller, Callee, Outcome string
		Frequency               int
	}
}

// calls lists the call records with a given outcome.
func (p *bscProcess) calls(t *testing.T, outcome string) callList {
	var l callList
	if status := p.do(t, http.MethodGet, "/api/v1/calls?outcome="+outcome, &l); status != http.StatusOK {
		t.Fatalf("list calls: status %d", status)
	}
	return l
}

// makeCall attaches from and to, and plays a call that to answers; hangup
// says whether from hangs up (the call finishes) or it is left connected.
func (p *bscProcess) makeCall(t *testing.T, from, to string, hangup bool) {
	t.Helper()
	for _, m := range []string{from, to} {
		if status := p.post(t, "/api/v1/phones", map[string]string{"msisdn": m}); status != http.StatusCreated {
			t.Fatalf("attach %s: %d", m, status)
		}
	}
	steps := []struct {
		who  string
		body map[string]string
	}{
		{from, map[string]string{"action": "call", "to": to}},
		{to, map[string]string{"action": "accept"}},
	}
	if hangup {
		steps = append(steps, struct {
			who  string
			body map[string]string
		}{from, map[string]string{"action": "hangup"}})
	}
	for _, s := range steps {
		if status := p.post(t, "/api/v1/phones/"+s.who+"/actions", s.body); status != http.StatusOK {
			t.Fatalf("%s %v: %d", s.who, s.body, status)
		}
	}
}

// testSurvivesKill: provisioned subscribers and the records of finished
// calls that the API has shown survive a kill -9, and a SIGTERM in the
// middle of a call writes its record as dropped.
func testSurvivesKill(t *testing.T, bin string) {
	db := filepath.Join(t.TempDir(), "bsc.db")
	p := startBSC(t, bin, "--db", db)
	if status := p.post(t, "/api/v1/subscribers", map[string]string{"msisdn": "555"}); status != http.StatusCreated {
		t.Fatalf("provision: %d", status)
	}
	p.makeCall(t, "123", "124", true)
	testutil.Eventually(t, binaryWait, "the answered call's record", func() bool { return len(p.calls(t, "answered").Items) == 1 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)

	p = startBSC(t, bin, "--db", db)
	for _, m := range []string{"555", "123", "124"} {
		if status := p.do(t, http.MethodGet, "/api/v1/subscribers/"+m, nil); status != http.StatusOK {
			t.Fatalf("subscriber %s after kill -9: %d", m, status)
		}
	}
	if got := p.calls(t, "answered"); len(got.Items) != 1 || got.Items[0].Caller != "123" || got.Items[0].Frequency == 0 {
		t.Fatalf("answered calls after kill -9: %+v", got)
	}

	// A call still connected when SIGTERM comes ends as dropped, recorded.
	p.makeCall(t, "200", "201", false)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.stderr.String())
	}
	p = startBSC(t, bin, "--db", db)
	dropped := p.calls(t, "dropped")
	if len(dropped.Items) != 1 || fmt.Sprint(dropped.Items[0].Caller, dropped.Items[0].Callee) != "200201" {
		t.Fatalf("dropped calls after SIGTERM: %+v", dropped)
	}
}

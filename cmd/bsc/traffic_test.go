package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// traffic plays call cycles on pairs of phones against a running bsc, as a
// client that keeps books would: per pair and outcome, how many calls
// ended with an action answered 2xx (acknowledged: their records must be
// durable) and how many ended at all (2xx, or 503 when the record was not
// committed in time: the call ended, its record is still queued).
type traffic struct {
	url    string
	client *http.Client
	pairs  [][2]string
	stop   chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	acked map[[2]string]int // (caller, outcome)
	ended map[[2]string]int
	shed  int // 503 answers
}

// cycles are the call cycles a worker plays in turn: who ends the call and
// how, and the record's outcome.
var cycles = []struct {
	accept  bool
	end     string // "caller" hangs up, "callee" hangs up or rejects
	action  string
	outcome string
}{
	{true, "caller", "hangup", "answered"},
	{true, "callee", "hangup", "answered"},
	{false, "callee", "reject", "rejected"},
	{false, "caller", "hangup", "cancelled"},
}

func newTraffic(url string, pairs int, base int) *traffic {
	tr := &traffic{
		url:    url,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * pairs}},
		stop:   make(chan struct{}),
		acked:  map[[2]string]int{},
		ended:  map[[2]string]int{},
	}
	for i := range pairs {
		tr.pairs = append(tr.pairs, [2]string{fmt.Sprint(base + 2*i), fmt.Sprint(base + 2*i + 1)})
	}
	return tr
}

// post sends body as JSON and returns the status and the problem code; a
// status of 0 means no answer (the server is gone).
func (tr *traffic) post(path string, body any) (int, string) {
	raw, _ := json.Marshal(body)
	res, err := tr.client.Post(tr.url+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	var p struct{ Code string }
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &p)
	return res.StatusCode, p.Code
}

func (tr *traffic) act(m string, body map[string]string) (int, string) {
	return tr.post("/api/v1/phones/"+m+"/actions", body)
}

// attach attaches every phone, failing the test on an error.
func (tr *traffic) attach(t *testing.T) {
	t.Helper()
	for _, p := range tr.pairs {
		for _, m := range p {
			if status, code := tr.post("/api/v1/phones", map[string]string{"msisdn": m}); status != http.StatusCreated {
				t.Fatalf("attach %s: %d %s", m, status, code)
			}
		}
	}
}

// start runs one worker per pair until halt, or until the server is gone.
func (tr *traffic) start() {
	for _, p := range tr.pairs {
		tr.wg.Add(1)
		go tr.work(p[0], p[1])
	}
}

// halt stops the workers and waits for them.
func (tr *traffic) halt() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	tr.wg.Wait()
}

func (tr *traffic) work(caller, callee string) {
	defer tr.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-tr.stop:
			return
		default:
		}
		c := cycles[i%len(cycles)]
		status, _ := tr.act(caller, map[string]string{"action": "call", "to": callee})
		switch status {
		case 0:
			return
		case http.StatusServiceUnavailable:
			tr.count(nil, "", "", true)
			backOff(tr.stop)
			continue
		case http.StatusOK:
		default:
			tr.reset(caller, callee)
			continue
		}
		if c.accept {
			if status, _ := tr.act(callee, map[string]string{"action": "accept"}); status != http.StatusOK {
				if status == 0 {
					return
				}
				tr.reset(caller, callee)
				continue
			}
		}
		who := caller
		if c.end == "callee" {
			who = callee
		}
		status, code := tr.act(who, map[string]string{"action": c.action})
		if status == 0 {
			return
		}
		tr.count(&status, caller, c.outcome, status == http.StatusServiceUnavailable && code == "unavailable")
		if status != http.StatusOK {
			tr.reset(caller, callee)
		}
	}
}

// count notes an ending action's answer (status nil: a shed call).
func (tr *traffic) count(status *int, caller, outcome string, shed bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if shed {
		tr.shed++
	}
	if status == nil {
		return
	}
	k := [2]string{caller, outcome}
	switch {
	case *status == http.StatusOK:
		tr.acked[k]++
		tr.ended[k]++
	case shed: // ended, not acknowledged
		tr.ended[k]++
	}
}

// reset hangs both phones up, whatever their state, answers ignored.
func (tr *traffic) reset(caller, callee string) {
	for _, m := range []string{caller, callee} {
		tr.act(m, map[string]string{"action": "hangup"})
	}
}

// backOff waits a little before a retry after a 503, or until stop.
func backOff(stop chan struct{}) {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}

// totals are the acknowledged and ended calls, and the shed answers.
func (tr *traffic) totals() (acked, ended, shed int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, n := range tr.acked {
		acked += n
	}
	for _, n := range tr.ended {
		ended += n
	}
	return acked, ended, tr.shed
}

// recorded counts p's call records by (caller, outcome) for the callers
// of pairs, paging through GET /api/v1/calls?msisdn=.
func recorded(t *testing.T, p *bscProcess, pairs [][2]string) map[[2]string]int {
	t.Helper()
	got, status := tryRecorded(t, p, pairs)
	if status != http.StatusOK {
		t.Fatalf("GET /api/v1/calls: %d", status)
	}
	return got
}

// tryRecorded is recorded, or the status of the first list not answered
// 200 (a cluster node answers 503 while its copy of the records cannot
// catch up, as after a node's death).
func tryRecorded(t *testing.T, p *bscProcess, pairs [][2]string) (map[[2]string]int, int) {
	t.Helper()
	got := map[[2]string]int{}
	for _, pair := range pairs {
		after := ""
		for {
			var page struct {
				Items []struct{ Caller, Outcome string }
				Next  string
			}
			path := "/api/v1/calls?limit=1000&msisdn=" + pair[0]
			if after != "" {
				path += "&after=" + url.QueryEscape(after)
			}
			if status := p.do(t, http.MethodGet, path, &page); status != http.StatusOK {
				return nil, status
			}
			for _, r := range page.Items {
				got[[2]string{r.Caller, r.Outcome}]++
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	return got, http.StatusOK
}

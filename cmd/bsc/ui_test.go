package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The web observer (docs/observer.md) as a person sees it: a real bsc, the
// page in a real browser, the book's session driven through the API, and
// each change checked on the rendered page (its data- attributes), not in
// the API's answers.

// TestObserverSession: a single node with an API token and fault
// injection. The page shows two phones attached, the call ringing then
// connected on its frequency, the record once they hang up, and the
// restarts of a crash sent through the API and of one sent from the page,
// which asks for the token first.
func TestObserverSession(t *testing.T) {
	bin := buildBSC(t)
	const token = "observer-test-token"
	p := startBSC(t, bin, "--fault-injection", "--api-token", token)
	p.token = token
	b := openBrowser(t, p.url+"/ui") // through the redirect to /ui/

	b.waitFor("the event stream open", `#live[data-state="open"]`)
	b.waitFor("a single node", `#server[data-mode="single"]`)
	b.waitFor("the tree", `#tree li[data-path="frequency"][data-restarts="0"][data-state="running"]`)
	b.waitFor("the handlers", `#handlers li[data-handler="alarms"]`)

	p.attach(t, "123", 0)
	p.attach(t, "124", 0)
	b.waitFor("123 idle", `#phone-list tr[data-msisdn="123"][data-state="idle"]`)
	b.waitFor("124 idle", `#phone-list tr[data-msisdn="124"][data-state="idle"]`)

	p.mustAct(t, "123", "call", "124")
	b.waitFor("123 calling", `#phone-list tr[data-msisdn="123"][data-state="calling"]`)
	b.waitFor("124 receiving", `#phone-list tr[data-msisdn="124"][data-state="receiving"]`)
	b.waitFor("the call ringing", `#calls-live li[data-caller="123"][data-callee="124"][data-state="ringing"]`)
	b.waitFor("124's inbound reply", `#replies li[data-msisdn="124"][data-type="inbound"]`)

	p.mustAct(t, "124", "accept", "")
	f := strconv.Itoa(p.phone(t, "123").Frequency)
	b.waitFor("123 connected on "+f, `#phone-list tr[data-msisdn="123"][data-state="connected"][data-frequency="`+f+`"]`)
	b.waitFor("124 connected", `#phone-list tr[data-msisdn="124"][data-state="connected"]`)
	b.waitFor("the call connected", `#calls-live li[data-caller="123"][data-callee="124"][data-state="connected"][data-frequency="`+f+`"]`)
	b.waitFor("frequency "+f+" allocated to 123", `#freq-pool li[data-frequency="`+f+`"][data-status="allocated"][data-owner="msisdn:123"]`)
	b.screenshot("session-call", laptop)
	b.screenshot("session-call", phoneV)

	// The search box keeps the phones that match.
	b.do("search 124", chromedp.SendKeys(chromedp.CSS("#phone-search"), "124"))
	b.waitGone("123 filtered out", `#phone-list tr[data-msisdn="123"]`)
	b.waitFor("124 found", `#phone-list tr[data-msisdn="124"]`)
	b.do("clear the search", chromedp.SendKeys(chromedp.CSS("#phone-search"), kb.Backspace+kb.Backspace+kb.Backspace))
	b.waitFor("123 back", `#phone-list tr[data-msisdn="123"]`)

	p.mustAct(t, "123", "hangup", "")
	b.waitFor("123 idle again", `#phone-list tr[data-msisdn="123"][data-state="idle"]`)
	b.waitFor("124 idle again", `#phone-list tr[data-msisdn="124"][data-state="idle"]`)
	b.waitGone("no call in progress", `#calls-live li`)
	b.waitFor("frequency "+f+" free", `#freq-pool li[data-frequency="`+f+`"][data-status="free"]`)
	b.waitFor("the record", `#call-records tr[data-caller="123"][data-callee="124"][data-outcome="answered"][data-frequency="`+f+`"]`)

	// A crash through the API: rest_for_one restarts the frequency
	// allocator and the phones after it.
	if status, code := p.send(t, http.MethodPost, "/api/v1/processes/frequency:crash", nil, nil); status != http.StatusAccepted {
		t.Fatalf("crash frequency: %d %s", status, code)
	}
	b.waitFor("frequency restarted", `#tree li[data-path="frequency"][data-restarts="1"][data-state="running"]`)
	b.waitFor("phones restarted", `#tree li[data-path="phones"][data-restarts="1"]`)
	b.waitFor("the restart told", `#activity-log li[data-kind="restart"]`)

	// A crash from the page, chosen with the keyboard: the server wants
	// the token, which the page asks for, then sends the crash again.
	b.do("choose overload with the keyboard",
		chromedp.Focus(chromedp.CSS(`#tree li[data-path="overload"] > .tree-row button`)), chromedp.KeyEvent(kb.Enter))
	b.waitFor("overload's process view", `#process-view[data-process="overload"][data-status="running"] #crash-button`)
	b.do("crash overload", chromedp.Click(chromedp.CSS("#crash-button")))
	b.waitFor("the token asked for", `#token-dialog[open]`)
	b.do("give the token", chromedp.SendKeys(chromedp.CSS("#token-input"), token), chromedp.Click(chromedp.CSS("#token-save")))
	b.waitFor("overload restarted", `#tree li[data-path="overload"][data-restarts="1"][data-state="running"]`)
	b.waitFor("frequency restarted again", `#tree li[data-path="frequency"][data-restarts="2"]`)
	b.waitFor("the token kept", `#token-button[data-token="set"]`)

	// The trace switch, with the token the page now has.
	b.waitFor("overload's new incarnation", `#process-view[data-process="overload"][data-trace="false"] #trace-toggle`)
	b.do("trace overload", chromedp.Click(chromedp.CSS("#trace-toggle")))
	b.waitFor("overload traced", `#process-view[data-process="overload"][data-trace="true"]`)
	var info struct{ Trace bool }
	if status := p.do(t, http.MethodGet, "/api/v1/processes/overload", &info); status != http.StatusOK || !info.Trace {
		t.Errorf("overload after the page's trace switch: %d, trace %v; want tracing", status, info.Trace)
	}
	b.screenshot("session-crashes", laptop)

	// More phones than the page reads at once: it says so, and a number
	// searched for beyond its page is looked up.
	for m := 1000; m <= 1500; m++ {
		p.attach(t, strconv.Itoa(m), 0)
	}
	b.waitFor("a full page", `#phone-filter button[data-state="all"][data-count="500"]`)
	b.do("search 1500", chromedp.SendKeys(chromedp.CSS("#phone-search"), "1500"))
	b.waitFor("1500 found beyond the page", `#phone-list tr[data-msisdn="1500"][data-state="idle"]`)
}

// TestObserverCluster: the page on one node of three shows the nodes and
// the owner of each cell, a call between cells of two other nodes, a
// crash in a cell of its own node, and the cells of a node killed moving
// to the others.
func TestObserverCluster(t *testing.T) {
	bin := buildBSC(t)
	c := startCluster(t, bin, "--fault-injection")
	n1 := c.nodes[0]
	view := mustView(t, c, 0)
	b := openBrowser(t, n1.url+"/ui/")

	b.waitFor("the event stream open", `#live[data-state="open"]`)
	b.waitFor("a cluster", `#server[data-mode="embedded"][data-node="n1"]`)
	for _, name := range c.names {
		b.waitFor(name+" up", `#cluster-nodes li[data-node="`+name+`"][data-state="up"]`)
	}
	for cell, owner := range view.owners() {
		b.waitFor(fmt.Sprintf("cell %d served by %s", cell, owner),
			fmt.Sprintf(`#cell-owners tr[data-cell="%d"][data-owner="%s"][data-state="serving"]`, cell, owner))
	}

	// A call between cells of n2 and n3, driven through n1.
	from, to := c.cellOf("n2"), c.cellOf("n3")
	n1.attach(t, "201", from)
	n1.attach(t, "301", to)
	b.waitFor("201 idle in its cell", fmt.Sprintf(`#phone-list tr[data-msisdn="201"][data-state="idle"][data-cell="%d"]`, from))
	b.waitFor("301 idle in its cell", fmt.Sprintf(`#phone-list tr[data-msisdn="301"][data-state="idle"][data-cell="%d"]`, to))
	n1.mustAct(t, "201", "call", "301")
	n1.mustAct(t, "301", "accept", "")
	f := strconv.Itoa(n1.phone(t, "201").Frequency)
	b.waitFor("the call connected", `#calls-live li[data-caller="201"][data-callee="301"][data-state="connected"][data-frequency="`+f+`"]`)
	b.waitFor("the frequency allocated in the caller's cell",
		fmt.Sprintf(`#freq-pool .pool[data-cell="%d"] li[data-frequency="%s"][data-status="allocated"][data-owner="msisdn:201"]`, from, f))
	n1.mustAct(t, "201", "hangup", "")
	b.waitFor("the record", `#call-records tr[data-caller="201"][data-callee="301"][data-outcome="answered"]`)

	// A crash in a cell of n1's, whose tree the page shows.
	own := c.cellOf("n1")
	if status, code := n1.send(t, http.MethodPost, fmt.Sprintf("/api/v1/processes/cell:%d%%2Ffrequency:crash", own), nil, nil); status != http.StatusAccepted {
		t.Fatalf("crash cell:%d/frequency: %d %s", own, status, code)
	}
	b.waitFor("the cell's allocator restarted", fmt.Sprintf(`#tree li[data-path="cell:%d/frequency"][data-restarts="1"][data-state="running"]`, own))
	b.screenshot("cluster", laptop)
	b.screenshot("cluster", phoneV)

	// Kill a node that leads no engine stream (its death waits on no
	// election): its cells move to the others, on the page too.
	victim := ""
	for _, name := range c.names[1:] {
		if name != view.Home {
			victim = name
			break
		}
	}
	i := slices.Index(c.names, victim)
	var lost []int
	for cell, owner := range view.owners() {
		if owner == victim {
			lost = append(lost, cell)
		}
	}
	if err := c.nodes[i].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	failover := clusterWait
	b.waitFor(victim+" down", `#cluster-nodes li[data-node="`+victim+`"][data-state="down"]`, failover)
	for _, cell := range lost {
		b.waitFor(fmt.Sprintf("cell %d served by another node", cell),
			fmt.Sprintf(`#cell-owners tr[data-cell="%d"][data-state="serving"]:not([data-owner="%s"])`, cell, victim), failover)
	}
	b.waitFor("a cell's move told", `#activity-log li[data-kind="cell"]`)
	b.waitFor("the node_down alarm", `#alarm-list li[data-alarm="node_down"]`, failover)
	b.screenshot("cluster-failover", laptop)
}

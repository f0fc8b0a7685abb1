package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// Acknowledged means durable (operations.md, Persistence), tested on the
// real binary: kill -9 at random moments, and a database that cannot be
// written for a while.

// TestKillMidTrafficLosesNothingAcknowledged kills bsc with SIGKILL at
// random moments while calls run and bulk creates compete for the
// database, restarts it on the same file, and checks that every call
// record and subscriber whose request was answered 2xx is there.
func TestKillMidTrafficLosesNothingAcknowledged(t *testing.T) {
	bin := buildBSC(t)
	t.Parallel()
	const kills = 8
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	db := filepath.Join(t.TempDir(), "bsc.db")
	tr := newTraffic("", 16, 4_600_000_000)
	var subs ackedSubscribers
	for round := range kills {
		p := startBSC(t, bin, "--db", db, "--frequencies", "1-64")
		tr.url = p.url
		tr.stop = make(chan struct{})
		tr.attach(t)
		tr.start()
		bulkStop := make(chan struct{})
		var bulk sync.WaitGroup
		bulk.Go(func() { subs.create(p.url, 4_700_000_000+int64(round)*10_000_000, bulkStop) })
		// Some rounds kill almost at once, while the first batches are
		// written; the others once traffic is in full swing.
		wait := time.Duration(rng.IntN(1500)) * time.Millisecond
		testutil.Eventually(t, binaryWait, "some acknowledged calls", func() bool {
			acked, _, _ := tr.totals()
			return acked > 0 || wait < 200*time.Millisecond
		})
		timer := time.NewTimer(wait)
		<-timer.C
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.wait(t)
		tr.halt()
		close(bulkStop)
		bulk.Wait()
	}
	p := startBSC(t, bin, "--db", db)
	got := recorded(t, p, tr.pairs)
	acked, _, _ := tr.totals()
	lost := 0
	for k, n := range tr.acked {
		if got[k] < n {
			lost += n - got[k]
			t.Errorf("caller %s, outcome %s: %d acknowledged, %d recorded", k[0], k[1], n, got[k])
		}
	}
	missing := subs.missing(t, p)
	t.Logf("%d kills: %d acknowledged call records, %d lost; %d bulk creates and %d creates acknowledged, %d subscribers missing",
		kills, acked, lost, len(subs.bulks), len(subs.singles), missing)
	if acked == 0 {
		t.Fatal("no call was acknowledged: the test tested nothing")
	}
}

// ackedSubscribers creates subscribers, by bulk and one by one, and keeps
// those whose creation was answered 2xx.
type ackedSubscribers struct {
	mu      sync.Mutex
	bulks   [][2]int64 // first and last MSISDN of an acknowledged bulk
	singles []int64
}

// create alternates bulks of 20,000 and single creates from base until
// stop or the server is gone.
func (s *ackedSubscribers) create(url string, base int64, stop chan struct{}) {
	const bulkSize = 20_000
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(path string, body any) int {
		raw, _ := json.Marshal(body)
		res, err := client.Post(url+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	next := base
	for {
		select {
		case <-stop:
			return
		default:
		}
		items := make([]map[string]string, bulkSize)
		for i := range items {
			items[i] = map[string]string{"msisdn": fmt.Sprint(next + int64(i))}
		}
		status := post("/api/v1/subscribers:bulk", map[string]any{"items": items})
		if status == 0 {
			return
		}
		if status == http.StatusOK {
			s.mu.Lock()
			s.bulks = append(s.bulks, [2]int64{next, next + bulkSize - 1})
			s.mu.Unlock()
		}
		next += bulkSize
		for range 10 {
			status := post("/api/v1/subscribers", map[string]string{"msisdn": fmt.Sprint(next)})
			if status == 0 {
				return
			}
			if status == http.StatusCreated {
				s.mu.Lock()
				s.singles = append(s.singles, next)
				s.mu.Unlock()
			}
			next++
		}
	}
}

// missing counts the acknowledged subscribers p does not have: both ends
// of each bulk (all or nothing), and each single one.
func (s *ackedSubscribers) missing(t *testing.T, p *bscProcess) int {
	t.Helper()
	var want []int64
	for _, b := range s.bulks {
		want = append(want, b[0], b[1])
	}
	want = append(want, s.singles...)
	n := 0
	for _, m := range want {
		if status := p.do(t, http.MethodGet, fmt.Sprint("/api/v1/subscribers/", m), nil); status != http.StatusOK {
			n++
			t.Errorf("acknowledged subscriber %d: GET answers %d", m, status)
		}
	}
	return n
}

// TestStorageFaultLosesNothing fills the disk under the database while
// calls run, then frees it: while it is full, storage_failed is raised,
// /readyz answers 503 and new calls are shed with 503 + Retry-After; once
// it is free the queued records are committed and the alarm cleared;
// every acknowledged record, and every record of a call that ended, is in
// the database after a restart.
func TestStorageFaultLosesNothing(t *testing.T) {
	bin := buildBSC(t)
	t.Parallel()
	dir := testutil.Tmpfs(t, 64<<20)
	db := filepath.Join(dir, "bsc.db")
	p := startBSC(t, bin, "--db", db, "--frequencies", "1-64")
	tr := newTraffic(p.url, 8, 4_600_000_000)
	tr.attach(t)
	tr.start()
	defer tr.halt()
	testutil.Eventually(t, binaryWait, "calls acknowledged before the fault", func() bool {
		acked, _, _ := tr.totals()
		return acked >= 50
	})

	// The WAL is young (it grows to its checkpoint size before it is
	// reused), so the next commits need space the disk no longer has.
	filler := testutil.FillUp(t, dir)
	testutil.Eventually(t, binaryWait, "readiness 503 and alarm storage_failed", func() bool {
		return p.do(t, http.MethodGet, "/readyz", nil) == http.StatusServiceUnavailable && alarmActive(t, p, "storage_failed", "critical")
	})
	_, _, shedBefore := tr.totals()
	testutil.Eventually(t, binaryWait, "calls shed while the disk is full", func() bool {
		_, _, shed := tr.totals()
		return shed > shedBefore+10
	})
	res, err := client.Post(p.url+"/api/v1/phones/4600000000/actions", "application/json",
		bytes.NewReader([]byte(`{"action":"call","to":"4600000001"}`)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable && res.StatusCode != http.StatusConflict || res.Header.Get("Retry-After") == "" && res.StatusCode == http.StatusServiceUnavailable {
		t.Errorf("a call while the disk is full: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, binaryWait, "readiness back and the alarm cleared", func() bool {
		return p.do(t, http.MethodGet, "/readyz", nil) == http.StatusOK && !alarmActive(t, p, "storage_failed", "critical")
	})
	ackedBefore, _, _ := tr.totals()
	testutil.Eventually(t, binaryWait, "calls acknowledged again", func() bool {
		acked, _, _ := tr.totals()
		return acked > ackedBefore+50
	})
	tr.halt()
	// The records of the calls that ended while the disk was full were
	// kept: a graceful stop commits what is left, and nothing is missing.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.stderr.String())
	}
	p = startBSC(t, bin, "--db", db)
	got := recorded(t, p, tr.pairs)
	acked, ended, shed := tr.totals()
	for k, n := range tr.ended {
		if got[k] != n {
			t.Errorf("caller %s, outcome %s: %d ended (%d acknowledged), %d recorded", k[0], k[1], n, tr.acked[k], got[k])
		}
	}
	var history struct {
		Items []struct{ ID, Action string }
	}
	p.do(t, http.MethodGet, "/api/v1/alarms/history?limit=1000", &history)
	var set, clear int
	for _, h := range history.Items {
		if h.ID == "storage_failed" {
			if h.Action == "set" {
				set++
			} else {
				clear++
			}
		}
	}
	if set == 0 || set != clear {
		t.Errorf("storage_failed history: %d set, %d clear; want both, as many", set, clear)
	}
	t.Logf("%d calls acknowledged, %d ended unacknowledged (503 while the disk was full), %d answers 503; every one recorded",
		acked, ended-acked, shed)
}

// alarmActive tells whether alarm id is active with the severity.
func alarmActive(t *testing.T, p *bscProcess, id, severity string) bool {
	var alarms struct {
		Items []struct{ ID, Severity string }
	}
	if p.do(t, http.MethodGet, "/api/v1/alarms", &alarms) != http.StatusOK {
		return false
	}
	for _, a := range alarms.Items {
		if a.ID == id && a.Severity == severity {
			return true
		}
	}
	return false
}

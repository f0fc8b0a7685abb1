package load

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testConfig is a small, fast run against targets.
func testConfig(targets ...string) Config {
	cfg := DefaultConfig()
	cfg.Targets = targets
	cfg.Phones = 20
	cfg.Calls = 60
	cfg.AnswerMin, cfg.AnswerMax = time.Millisecond, 20*time.Millisecond
	cfg.TalkMin, cfg.TalkMax = time.Millisecond, 30*time.Millisecond
	cfg.Timeout = 2 * time.Second
	cfg.Concurrency = 16
	cfg.Workers = 4
	return cfg
}

// runBounded runs with a deadline that turns a hang into a failure.
func runBounded(t *testing.T, ctx context.Context, cfg Config, bound time.Duration) (*Report, error) {
	t.Helper()
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Run(ctx, cfg, nil)
		done <- result{rep, err}
	}()
	select {
	case r := <-done:
		return r.rep, r.err
	case <-time.After(bound):
		t.Fatalf("run did not end within %v", bound)
		return nil, nil
	}
}

// checkConsistent checks what holds for every complete report: every
// attempt has exactly one outcome.
func checkConsistent(t *testing.T, r *Report) {
	t.Helper()
	var sum int64
	for _, n := range r.Calls.Outcomes {
		sum += n
	}
	if sum != r.Calls.Attempts {
		t.Errorf("outcomes %v add up to %d, want the %d attempts", r.Calls.Outcomes, sum, r.Calls.Attempts)
	}
}

func TestRunClosedModelFake(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	cfg.MaxP99, cfg.MaxErrorRate = time.Minute, 0
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Partial || rep.Verdict() != nil {
		t.Fatalf("partial %v, verdict %v\n%s", rep.Partial, rep.Verdict(), text(t, rep))
	}
	if rep.Calls.Attempts != 60 || rep.Attached != 20 {
		t.Errorf("attempts %d attached %d, want 60 and 20", rep.Calls.Attempts, rep.Attached)
	}
	checkConsistent(t, rep)
	if rep.Calls.Outcomes["answered"] == 0 || rep.Books.AnsweredSeen != int(rep.Calls.Outcomes["answered"]) {
		t.Errorf("answered %d, books saw %d", rep.Calls.Outcomes["answered"], rep.Books.AnsweredSeen)
	}
	if n := rep.Operations[opAttach].Count; n != 20 {
		t.Errorf("attach count %d, want 20", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.phones) != 0 {
		t.Errorf("%d phones left attached on the server", len(f.phones))
	}
}

func TestRunOpenModelFake(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	cfg.Rate, cfg.Calls, cfg.Ramp = 400, 80, 50*time.Millisecond
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	if got := rep.Calls.Attempts + rep.Calls.Skipped; got != 80 {
		t.Errorf("attempts %d + skipped %d, want the 80 scheduled", rep.Calls.Attempts, rep.Calls.Skipped)
	}
	checkConsistent(t, rep)
	if rep.Model != "open" {
		t.Errorf("model %q", rep.Model)
	}
}

func TestRunDurationFake(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	cfg.Duration, cfg.Rate = 300*time.Millisecond, 100
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v", err, rep.Verdict())
	}
	if rep.IssuingS < 0.25 || rep.IssuingS > 5 {
		t.Errorf("issued for %.3fs, want about 0.3s", rep.IssuingS)
	}
}

// A reply lost by the stream leaves a phone waiting: the driver reads its
// replies back (the server's ring has it) and goes on from there, and the
// books still balance.
func TestLostRepliesResync(t *testing.T) {
	f := newFakeBSC(t, 6)
	f.dropEvery = 7
	cfg := testConfig(f.srv.URL)
	cfg.Timeout = 500 * time.Millisecond // the wait for a lost reply is answer delay + timeout + grace; it also bounds every request, which a loaded machine can stall for 100 ms
	rep, err := runBounded(t, context.Background(), cfg, 60*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	checkConsistent(t, rep)
	if rep.Calls.Resyncs == 0 || rep.Calls.CaughtUp == 0 {
		t.Errorf("%d resyncs, %d replies caught up, although replies were dropped", rep.Calls.Resyncs, rep.Calls.CaughtUp)
	}
}

// With a single frequency, concurrent accepted calls find none.
func TestNoFrequencyFake(t *testing.T) {
	f := newFakeBSC(t, 1)
	cfg := testConfig(f.srv.URL)
	cfg.Accept = 1
	cfg.TalkMin, cfg.TalkMax = 50*time.Millisecond, 100*time.Millisecond
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	if rep.Calls.Outcomes["no_frequency"] == 0 {
		t.Errorf("no no_frequency outcome with one frequency:\n%s", text(t, rep))
	}
}

func TestImpossibleThreshold(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	cfg.Calls, cfg.MaxP99 = 10, time.Nanosecond
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v := rep.Verdict(); !errors.Is(v, ErrThresholds) || errors.Is(v, ErrBooks) {
		t.Errorf("verdict %v, want thresholds missed and books fine", v)
	}
}

// A server that dies mid-run: a clear error and a partial report, soon.
func TestServerDiesFake(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	cfg.Calls = 1_000_000
	var once sync.Once
	f.onAction = func(n int) {
		if n >= 40 {
			once.Do(func() {
				go func() { // not from the handler: closing waits for it
					f.stop()
					f.srv.Listener.Close()
					f.srv.CloseClientConnections()
				}()
			})
		}
	}
	rep, err := runBounded(t, context.Background(), cfg, 20*time.Second)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
	if !rep.Partial || !strings.Contains(rep.Reason, "target unreachable") || rep.Books != nil {
		t.Errorf("partial %v reason %q books %v", rep.Partial, rep.Reason, rep.Books)
	}
	if rep.Calls.Attempts == 0 {
		t.Error("no attempt counted before the server died")
	}
}

// A server that stops answering: the watchdog ends the run.
func TestServerHangsFake(t *testing.T) {
	f := newFakeBSC(t, 6)
	f.hold = make(chan struct{})
	t.Cleanup(func() { close(f.hold) })
	cfg := testConfig(f.srv.URL)
	cfg.Timeout = 200 * time.Millisecond
	rep, err := runBounded(t, context.Background(), cfg, 20*time.Second)
	if !errors.Is(err, ErrUnreachable) || !rep.Partial {
		t.Fatalf("err %v partial %v, want ErrUnreachable and a partial report", err, rep.Partial)
	}
	if rep.Errors[codeTimeout] == 0 {
		t.Errorf("errors %v, want timeouts", rep.Errors)
	}
}

// An interrupt stops issuing, detaches every phone and reports partially.
func TestInterruptFake(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	cfg.Calls = 1_000_000
	cfg.TalkMin, cfg.TalkMax = time.Second, 2*time.Second // calls in progress at the interrupt
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.onAction = func(n int) {
		if n == 50 {
			cancel()
		}
	}
	rep, err := runBounded(t, ctx, cfg, 20*time.Second)
	if !errors.Is(err, ErrInterrupted) || !rep.Partial || rep.Reason != "interrupted" {
		t.Fatalf("err %v partial %v reason %q", err, rep.Partial, rep.Reason)
	}
	if rep.Books == nil || !rep.Books.OK {
		t.Errorf("books %+v, want checked and fine after detaching", rep.Books)
	}
	if n := rep.Operations[opDetach].Count; n != 20 {
		t.Errorf("detach count %d, want 20", n)
	}
	checkConsistent(t, rep)
}

func TestTargetDownAtStart(t *testing.T) {
	f := newFakeBSC(t, 6)
	url := f.srv.URL
	f.srv.Close()
	rep, err := runBounded(t, context.Background(), testConfig(url), 10*time.Second)
	if !errors.Is(err, ErrUnreachable) || !rep.Partial {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
}

func text(t *testing.T, r *Report) string {
	t.Helper()
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A setup the server refuses (here all attaches but one) ends the run with
// that error, after detaching what was attached.
func TestAttachRefused(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	f.refuse = func(m string) bool { return m != cfg.msisdn(0) }
	rep, err := runBounded(t, context.Background(), cfg, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "attach: 1 of 20 phones attached (errors: forbidden 19)") ||
		errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v", err)
	}
	if !rep.Partial || rep.Operations[opDetach].Count != 1 || rep.Books == nil || !rep.Books.OK {
		t.Errorf("partial %v, detaches %d, books %+v", rep.Partial, rep.Operations[opDetach].Count, rep.Books)
	}
}

// An earlier run killed with its phones attached: they are taken over.
func TestLeftoverPhones(t *testing.T) {
	f := newFakeBSC(t, 6)
	cfg := testConfig(f.srv.URL)
	f.mu.Lock()
	for i := range 5 {
		f.phones[cfg.msisdn(i)] = &fakePhone{state: "idle"}
	}
	f.mu.Unlock()
	rep, err := runBounded(t, context.Background(), cfg, 20*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v", err, rep.Verdict())
	}
	if rep.Races["already_attached"] != 5 || rep.Attached != 20 {
		t.Errorf("races %v attached %d", rep.Races, rep.Attached)
	}
}

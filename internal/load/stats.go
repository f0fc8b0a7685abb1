package load

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// op is an operation the report gives latencies for.
type op int

const (
	opAttach op = iota
	opCall
	opAccept
	opReject
	opHangup
	opDetach
	numOps
)

var opNames = [numOps]string{"attach", "call", "accept", "reject", "hangup", "detach"}

func (o op) String() string { return opNames[o] }

// outcome is how a call attempt ended, as its caller saw it.
type outcome int

const (
	outAnswered    outcome = iota // the caller got accepted
	outBusy                       // the callee was in a call
	outRejected                   // the callee rejected
	outNoFrequency                // accepted, but no frequency was free
	outInvalid                    // the callee was not attached
	outCancelled                  // the driver hung up before an answer (stop, or no answer in time)
	outDropped                    // the call ended for the caller before an answer for another reason
	outFailed                     // the call request itself failed: the call never started
	outUnfinished                 // still undecided when the run stopped
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"answered", "busy", "rejected", "no_frequency", "invalid", "cancelled", "dropped", "failed", "unfinished",
}

func (o outcome) String() string { return outcomeNames[o] }

// class is how a request's answer counts against the error rate.
type class int

const (
	classOK    class = iota // 2xx
	classRace               // an expected loss of a race the driver cannot see coming
	classError              // everything else
)

// raceCodes are the answers that the driver's own view of a phone cannot
// rule out, because the server's view moves on while a request is on its
// way: a dial crossing an inbound call (busy), an answer or hangup crossing
// the peer's hangup (invalid_state), and a phone left attached by an
// earlier run that was killed (already_attached: detached and attached
// again). They are counted apart and are not errors.
var raceCodes = map[string]bool{"busy": true, "invalid_state": true, "already_attached": true}

func classify(status int, code string) class {
	switch {
	case status >= 200 && status < 300:
		return classOK
	case raceCodes[code]:
		return classRace
	default:
		return classError
	}
}

// Latencies are recorded in microseconds, from 1 µs to an hour, to three
// significant digits: under 0.1 % error at every magnitude.
const (
	histMin    = 1
	histMax    = int64(time.Hour / time.Microsecond)
	histDigits = 3
)

// stats is everything counted during a run, under one mutex: recording is
// a few hundred nanoseconds, far below the cost of the request measured.
type stats struct {
	mu       sync.Mutex
	hist     [numOps]*hdrhistogram.Histogram
	actions  *hdrhistogram.Histogram // call, accept, reject and hangup together
	lag      *hdrhistogram.Histogram // from an operation's intended time to its sending
	statuses map[int]int64           // answers by HTTP status
	noAnswer int64                   // requests that got none (timeout, unreachable)
	// retries counts the requests sent again after a refusal for now, by
	// the refusal's status, and gaveUp those still refused after the
	// last retry: of every request, setup and books included.
	retries  map[int]int64
	gaveUp   int64
	count    [numOps]int64
	errs     [numOps]int64
	codes    map[string]int64 // errors by code
	races    map[string]int64 // races by code
	outcomes [numOutcomes]int64
	attempts int64 // call attempts sent
	skipped  int64 // open model: no idle phone to dial from at the intended time
	resyncs  int64 // phones whose replies the driver had to read back
	caughtUp int64 // replies a resync read back that the stream had not brought
	stale    int64 // replies the driver had had already, or its view of the phone did not expect
	// phoneWaits counts actions that waited for their phone's action
	// before them to be answered.
	phoneWaits int64
	answered   map[pair]int
	// Answered calls whose holding time the driver measured, and the sum
	// of those times.
	heldCalls int64
	heldTime  time.Duration
}

// pair is a caller and a callee.
type pair struct{ caller, callee string }

func newStats() *stats {
	s := &stats{codes: map[string]int64{}, races: map[string]int64{}, answered: map[pair]int{},
		statuses: map[int]int64{}, retries: map[int]int64{}, actions: newHist(), lag: newHist()}
	for i := range s.hist {
		s.hist[i] = newHist()
	}
	return s
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// micros is d in the histograms' unit and range.
func micros(d time.Duration) int64 { return min(max(d.Microseconds(), histMin), histMax) }

// isAction tells the phone actions apart from attaching and detaching.
func (o op) isAction() bool { return o != opAttach && o != opDetach }

// record counts one answered (or failed) request of o, sent lag after its
// intended time.
func (s *stats) record(o op, a answer, lag time.Duration) {
	took := micros(a.took)
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.hist[o].RecordValue(took) // cannot fail: clamped to the range
	if o.isAction() {
		_ = s.actions.RecordValue(took)
		_ = s.lag.RecordValue(micros(lag))
	}
	s.count[o]++
	if a.status == 0 {
		s.noAnswer++
	} else {
		s.statuses[a.status]++
	}
	switch classify(a.status, a.code) {
	case classRace:
		s.races[a.code]++
	case classError:
		s.errs[o]++
		s.codes[a.code]++
	}
}

// retried counts a request sent again after an answer of status.
func (s *stats) retried(status int) {
	s.mu.Lock()
	s.retries[status]++
	s.mu.Unlock()
}

func (s *stats) outcome(o outcome) {
	s.mu.Lock()
	s.outcomes[o]++
	s.mu.Unlock()
}

// answer counts an answered call and remembers it for the books.
func (s *stats) answer(caller, callee string) {
	s.mu.Lock()
	s.outcomes[outAnswered]++
	s.answered[pair{caller, callee}]++
	s.mu.Unlock()
}

// held counts the holding time of an answered call.
func (s *stats) held(d time.Duration) {
	s.mu.Lock()
	s.heldCalls++
	s.heldTime += d
	s.mu.Unlock()
}

// add bumps one of the plain counters under the lock.
func (s *stats) add(counter *int64, n int64) {
	s.mu.Lock()
	*counter += n
	s.mu.Unlock()
}

// progress is what the live display shows.
type progress struct {
	attempts, requests, errors int64
}

func (s *stats) progress() progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p progress
	p.attempts = s.attempts
	for o := range numOps {
		p.requests += s.count[o]
		p.errors += s.errs[o]
	}
	return p
}

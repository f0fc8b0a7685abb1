// Package load is `bsc load` (operations.md, "The load driver"): it drives
// a population of phones against a running bsc through the public HTTP API
// only, as an outside client would, and reports latencies, call outcomes,
// errors and whether the server's books balance at the end.
//
// The driver plays the users of manual phones: it dials, answers or rejects
// the inbound calls it learns of through the global event stream, and hangs
// up. Its own view of each phone's state keeps it from sending actions that
// cannot be valid, and the races it cannot see coming (an inbound call
// crossing a dial) are counted as such, not as errors.
package load

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// Config is what a run does. Zero values are not defaults: start from
// DefaultConfig.
type Config struct {
	// Targets are the base URLs of the server, e.g. http://127.0.0.1:8080,
	// or of every node of a cluster: phone i's actions go to target
	// i mod len(Targets), the other requests round-robin (driver.go).
	Targets    []string
	Token      string        // bearer token; "" sends none
	Phones     int           // population size
	Calls      int           // call attempts to make; ignored when Duration > 0
	Duration   time.Duration // run for this long instead of a number of calls
	Rate       float64       // call attempts per second (open model); 0 = closed model
	Workers    int           // closed model: dialling workers
	Ramp       time.Duration // rate (or workers) grow linearly from 0 over this time
	AnswerMin  time.Duration // a callee answers after a uniform delay in [AnswerMin, AnswerMax]
	AnswerMax  time.Duration
	Accept     float64 // probability that a callee accepts
	TalkMin    time.Duration
	TalkMax    time.Duration // a caller hangs up after a uniform talk time in [TalkMin, TalkMax]
	Seed       uint64        // seeds every random choice, for a reproducible run
	MSISDNBase uint64        // first MSISDN of the population
	Timeout    time.Duration // bound of every request
	// Retries is how often a request refused for now (503, 429) is sent
	// again, after a back-off honouring its Retry-After (client.go).
	Retries int
	// Concurrency bounds the driver's requests in flight (its connections
	// and action workers); the excess waits its turn, a wait the report
	// gives as the driver's lag. Attaching and detaching go at most
	// setupConcurrency at once.
	Concurrency int
	// Traffic, when on, replaces Rate, the answer delay, Accept and the
	// talk time with the teletraffic model (traffic.go).
	Traffic Traffic

	MaxP99       time.Duration // threshold on every operation's p99; 0 = none
	MaxErrorRate float64       // threshold on errors/requests; negative = none
	MaxGoS       float64       // traffic model: threshold on the measured blocking; negative = none
}

// DefaultConfig is the book's test, phone:start_test(150, 500), with the
// book's phone behaviour.
func DefaultConfig() Config {
	return Config{
		Targets:    []string{"http://127.0.0.1:8080"},
		Phones:     150,
		Calls:      500,
		Workers:    8,
		AnswerMin:  time.Millisecond,
		AnswerMax:  1500 * time.Millisecond,
		Accept:     0.5,
		TalkMin:    time.Millisecond,
		TalkMax:    3000 * time.Millisecond,
		Seed:       1,
		MSISDNBase: 4670000000,
		Timeout:    5 * time.Second,
		Retries:    3,
		// Far above the server's gate (16 per CPU): the driver must not be
		// what queues the requests of an open model, the server must, and
		// shed past its bound (503) where the report shows it.
		Concurrency:  256,
		MaxErrorRate: -1,
		MaxGoS:       -1,
		// Erlang B depends on the holding time only through A, so the
		// default compresses time: a 1 s call stands for a 2 min one, and
		// a run measures in minutes what a cell sees in hours.
		Traffic: Traffic{HoldingTime: time.Second},
	}
}

// maxMSISDN is the largest 15-digit number: MSISDNs have 1 to 15 digits.
const maxMSISDN = 999_999_999_999_999

// maxConcurrency bounds the requests in flight, and so the driver's
// connections and workers.
const maxConcurrency = 10_000

// maxPhones bounds the population, and so every per-phone structure.
const maxPhones = 1_000_000

// maxTargets bounds the nodes a run spreads over, and so its connection
// pools and event streams.
const maxTargets = 64

// maxRetries bounds the retries of one request: each may wait the back-off's
// cap (client.go).
const maxRetries = 20

// Validate checks that the run is possible before anything is sent.
func (c Config) Validate() error {
	if err := c.validateTargets(); err != nil {
		return err
	}
	switch {
	case c.Phones < 2 || c.Phones > maxPhones:
		return fmt.Errorf("phones %d: want 2 to %d (a call needs two)", c.Phones, maxPhones)
	case c.Duration < 0:
		return errors.New("duration must not be negative")
	case c.Duration == 0 && c.Calls <= 0:
		return errors.New("calls must be positive (or give a duration)")
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0:
		return fmt.Errorf("rate %v: want a non-negative number of call attempts per second", c.Rate)
	case c.Rate == 0 && c.Workers <= 0:
		return errors.New("workers must be positive")
	case c.Ramp < 0:
		return errors.New("ramp must not be negative")
	case c.AnswerMin < 0 || c.AnswerMin > c.AnswerMax:
		return fmt.Errorf("answer delay %v-%v is not a range", c.AnswerMin, c.AnswerMax)
	case c.TalkMin < 0 || c.TalkMin > c.TalkMax:
		return fmt.Errorf("talk time %v-%v is not a range", c.TalkMin, c.TalkMax)
	case math.IsNaN(c.Accept) || c.Accept < 0 || c.Accept > 1:
		return fmt.Errorf("accept probability %v is not within [0, 1]", c.Accept)
	case c.MSISDNBase == 0 || c.MSISDNBase+uint64(c.Phones)-1 > maxMSISDN:
		return fmt.Errorf("msisdn base %d: the population must fit in 1 to 15 digits", c.MSISDNBase)
	case c.Timeout <= 0:
		return errors.New("timeout must be positive")
	case c.Retries < 0 || c.Retries > maxRetries:
		return fmt.Errorf("retries %d: want 0 to %d", c.Retries, maxRetries)
	case c.Concurrency <= 0 || c.Concurrency > maxConcurrency:
		return fmt.Errorf("concurrency %d: want 1 to %d", c.Concurrency, maxConcurrency)
	case c.MaxP99 < 0:
		return errors.New("max-p99 must not be negative")
	case math.IsNaN(c.MaxErrorRate) || c.MaxErrorRate > 1:
		return fmt.Errorf("max error rate %v is not within [0, 1]", c.MaxErrorRate)
	case math.IsNaN(c.MaxGoS) || c.MaxGoS > 1:
		return fmt.Errorf("max gos %v is not within [0, 1]", c.MaxGoS)
	}
	return c.validateTraffic()
}

// validateTargets checks that there are targets, each an http(s) URL of
// its own.
func (c Config) validateTargets() error {
	if len(c.Targets) == 0 || len(c.Targets) > maxTargets {
		return fmt.Errorf("%d targets: want 1 to %d", len(c.Targets), maxTargets)
	}
	seen := map[string]bool{}
	for _, t := range c.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("target %q is not an http(s)://host:port URL", t)
		}
		key := strings.TrimRight(u.String(), "/")
		if seen[key] {
			return fmt.Errorf("target %q is given twice", t)
		}
		seen[key] = true
	}
	return nil
}

// validateTraffic checks the traffic model and what conflicts with it.
func (c Config) validateTraffic() error {
	if err := c.Traffic.Validate(c.Phones); err != nil {
		return err
	}
	on := c.Traffic.On()
	switch {
	case on && c.Traffic.rate(c.Phones) < minRate:
		return fmt.Errorf("offered traffic %.4g E with a %v mean holding time is one call attempt in %.3g days: want one a day at least",
			c.Traffic.Offered(c.Phones), c.Traffic.HoldingTime, 1/c.Traffic.rate(c.Phones)/86400)
	case on && c.Rate > 0:
		return errors.New("rate conflicts with the traffic model: it offers A / holding time call attempts per second")
	case on && c.Ramp > 0:
		return errors.New("ramp conflicts with the traffic model: Erlang B is for a steady offered traffic")
	case !on && c.MaxGoS >= 0:
		return errors.New("max-gos needs the traffic model (erlangs or busy-hour-calls): only it measures the blocking")
	case !on && c.Traffic.Cell != nil:
		return errors.New("cell needs the traffic model (erlangs or busy-hour-calls): the book's test attaches each phone in its home cell")
	}
	return nil
}

// openModel tells whether attempts arrive on a schedule (Rate > 0) rather
// than as fast as the workers and the idle population allow.
func (c Config) openModel() bool { return c.Rate > 0 }

// msisdn is the number of phone i of the population.
func (c Config) msisdn(i int) string { return fmt.Sprint(c.MSISDNBase + uint64(i)) }

package load

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"duration instead of calls", func(c *Config) { c.Calls, c.Duration = 0, time.Second }, ""},
		{"bad target", func(c *Config) { c.Targets = []string{"127.0.0.1:8080"} }, "target"},
		{"three targets", func(c *Config) { c.Targets = []string{"http://a:1", "http://b:1", "https://c:1/"} }, ""},
		{"a bad target among others", func(c *Config) { c.Targets = []string{"http://a:1", "ftp://b:1"} }, `target "ftp://b:1"`},
		{"a target twice", func(c *Config) { c.Targets = []string{"http://a:1", "http://a:1/"} }, `target "http://a:1/" is given twice`},
		{"no target", func(c *Config) { c.Targets = nil }, "0 targets"},
		{"too many targets", func(c *Config) { c.Targets = make([]string, maxTargets+1) }, "65 targets: want 1 to 64"},
		{"no retries", func(c *Config) { c.Retries = 0 }, ""},
		{"negative retries", func(c *Config) { c.Retries = -1 }, "retries -1"},
		{"too many retries", func(c *Config) { c.Retries = maxRetries + 1 }, "retries 21: want 0 to 20"},
		{"one phone", func(c *Config) { c.Phones = 1 }, "phones 1"},
		{"no calls", func(c *Config) { c.Calls = 0 }, "calls must be positive"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate"},
		{"no workers", func(c *Config) { c.Workers = 0 }, "workers"},
		{"no workers, open model", func(c *Config) { c.Workers, c.Rate = 0, 10 }, ""},
		{"answer range", func(c *Config) { c.AnswerMin = 2 * c.AnswerMax }, "answer delay"},
		{"talk range", func(c *Config) { c.TalkMin = -1 }, "talk time"},
		{"accept", func(c *Config) { c.Accept = 1.5 }, "accept probability"},
		{"msisdn too long", func(c *Config) { c.MSISDNBase = maxMSISDN }, "msisdn base"},
		{"msisdn zero", func(c *Config) { c.MSISDNBase = 0 }, "msisdn base"},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }, "concurrency"},
		{"concurrency beyond the bound", func(c *Config) { c.Concurrency = maxConcurrency + 1 }, "concurrency 10001: want 1 to 10000"},
		{"max error rate", func(c *Config) { c.MaxErrorRate = 2 }, "max error rate"},
		{"traffic", func(c *Config) { c.Traffic.Erlangs, c.MaxGoS = 5, 0.02 }, ""},
		{"busy-hour calls", func(c *Config) { c.Traffic.BusyHourCalls = 1.5 }, ""},
		{"both offered", func(c *Config) { c.Traffic.Erlangs, c.Traffic.BusyHourCalls = 5, 1 }, "both set"},
		{"negative erlangs", func(c *Config) { c.Traffic.Erlangs = -1 }, "erlangs -1"},
		{"infinite erlangs", func(c *Config) { c.Traffic.Erlangs = math.Inf(1) }, "erlangs +Inf"},
		{"NaN busy-hour calls", func(c *Config) { c.Traffic.BusyHourCalls = math.NaN() }, "busy-hour-calls NaN"},
		{"no holding time", func(c *Config) { c.Traffic.Erlangs, c.Traffic.HoldingTime = 5, 0 }, "holding time 0s"},
		{"holding time too long", func(c *Config) { c.Traffic.Erlangs, c.Traffic.HoldingTime = 5, 25*time.Hour }, "holding time 25h"},
		{"holding time without traffic", func(c *Config) { c.Traffic.HoldingTime = 0 }, ""},
		{"too much traffic", func(c *Config) { c.Traffic.Erlangs = 2e6 }, "offered traffic 2e+06 E"},
		{"too little traffic", func(c *Config) { c.Traffic.Erlangs = 1e-9 }, "offered traffic 1e-09 E with a 1s mean holding time is one call attempt in 1.16e+04 days"},
		{"traffic and rate", func(c *Config) { c.Traffic.Erlangs, c.Rate = 5, 10 }, "rate conflicts with the traffic model"},
		{"traffic and ramp", func(c *Config) { c.Traffic.Erlangs, c.Ramp = 5, time.Second }, "ramp conflicts with the traffic model"},
		{"max gos without traffic", func(c *Config) { c.MaxGoS = 0.02 }, "max-gos needs the traffic model"},
		{"max gos out of range", func(c *Config) { c.Traffic.Erlangs, c.MaxGoS = 5, 1.5 }, "max gos 1.5"},
		{"traffic in a cell", func(c *Config) { c.Traffic.Erlangs, c.Traffic.Cell = 5, new(3) }, ""},
		{"a cell without traffic", func(c *Config) { c.Traffic.Cell = new(0) }, "cell needs the traffic model"},
		{"a negative cell", func(c *Config) { c.Traffic.Erlangs, c.Traffic.Cell = 5, new(-1) }, "cell -1: want a cell number, 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}

package load

import (
	"fmt"
	"strings"
	"time"
)

// ThresholdsReport says whether the run met --max-p99, --max-error-rate
// and --max-gos.
type ThresholdsReport struct {
	MaxP99       string   `json:"max_p99,omitempty"`        // a duration; "": none
	MaxErrorRate *float64 `json:"max_error_rate,omitempty"` // nil: none
	MaxGoS       *float64 `json:"max_gos,omitempty"`        // nil: none
	OK           bool     `json:"ok"`
	Violations   []string `json:"violations,omitempty"`
}

// checkThresholds checks maxP99 (0: none) against every operation that was
// performed and against the driver's lag (a driver that sends late offers
// less than it says and would hide a slow server), maxErrorRate (negative: none) against the error rate, and
// maxGoS (negative: none) against the blocking of the traffic model.
func checkThresholds(r *Report, maxP99 time.Duration, maxErrorRate, maxGoS float64) ThresholdsReport {
	t := ThresholdsReport{}
	if maxP99 > 0 {
		t.MaxP99 = maxP99.String()
		for _, o := range r.Operations {
			if p99 := time.Duration(o.Latency.P99) * time.Microsecond; o.Count > 0 && p99 > maxP99 {
				t.Violations = append(t.Violations, fmt.Sprintf("%s p99 %v > %v", o.Name, p99, maxP99))
			}
		}
		if lag := time.Duration(r.Lag.P99) * time.Microsecond; lag > maxP99 {
			t.Violations = append(t.Violations, fmt.Sprintf("driver lag p99 %v > %v: actions were sent late, the latencies understate", lag, maxP99))
		}
	}
	if maxErrorRate >= 0 {
		t.MaxErrorRate = &maxErrorRate
		if r.Requests.ErrorRate > maxErrorRate {
			t.Violations = append(t.Violations, fmt.Sprintf("error rate %.4f > %.4f (%d errors in %d requests)",
				r.Requests.ErrorRate, maxErrorRate, r.Requests.Errors, r.Requests.Total))
		}
	}
	if maxGoS >= 0 {
		t.MaxGoS = &maxGoS
		t.Violations = append(t.Violations, checkGoS(r.Traffic, maxGoS)...)
	}
	t.OK = len(t.Violations) == 0
	return t
}

func (t ThresholdsReport) text() string {
	var set []string
	if t.MaxP99 != "" {
		set = append(set, "every p99 <= "+t.MaxP99)
	}
	if t.MaxErrorRate != nil {
		set = append(set, fmt.Sprintf("error rate <= %g", *t.MaxErrorRate))
	}
	if t.MaxGoS != nil {
		set = append(set, fmt.Sprintf("blocking <= %g", *t.MaxGoS))
	}
	switch {
	case len(set) == 0:
		return "none set"
	case t.OK:
		return "ok (" + strings.Join(set, ", ") + ")"
	}
	return "MISSED: " + strings.Join(t.Violations, "; ")
}

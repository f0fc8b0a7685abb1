package deploytest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// grafanaVars are what Grafana puts in place of a dashboard query's
// variables when it sends the query to one Prometheus.
type grafanaVars struct {
	job       string   // the job variable: one value
	instances []string // the instance variable: the values chosen (All: every one)
	// scrape is the datasource's scrape interval (its timeInterval), which
	// should be that of the Prometheus behind it.
	scrape time.Duration
	// interval is the panel's $__interval: the time range over the panel's
	// data points, never shorter than scrape.
	interval time.Duration
}

// rateInterval is Grafana's $__rate_interval: max($__interval + scrape
// interval, 4 × scrape interval), $__interval taken no shorter than the
// scrape interval.
func (v grafanaVars) rateInterval() time.Duration {
	return max(max(v.interval, v.scrape)+v.scrape, 4*v.scrape)
}

// grafanaVarRE matches $name and ${name}.
var grafanaVarRE = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))`)

// interpolate puts the values of v into a dashboard query the way
// Grafana's Prometheus datasource does: $job as it is (a single-value
// variable), $instance regex-escaped for the string literal of a =~ matcher
// (a multi-value variable: one value alone, several as (a|b|c)),
// $__rate_interval as a Prometheus duration. Any other variable is an
// error: the dashboard has no other.
func interpolate(expr string, v grafanaVars) (string, error) {
	var unknown []string
	out := grafanaVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVarRE.FindStringSubmatch(m)
		switch name := sub[1] + sub[2]; name {
		case "job":
			return v.job
		case "instance":
			// A regex escape, then the backslashes doubled for the
			// PromQL string that holds the regex.
			escaped := make([]string, len(v.instances))
			for i, in := range v.instances {
				escaped[i] = strings.ReplaceAll(regexp.QuoteMeta(in), `\`, `\\`)
			}
			if len(escaped) == 1 {
				return escaped[0]
			}
			return "(" + strings.Join(escaped, "|") + ")"
		case "__rate_interval":
			return promDuration(v.rateInterval())
		default:
			unknown = append(unknown, m)
			return m
		}
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown variables %v in %s", unknown, expr)
	}
	return out, nil
}

func TestInterpolate(t *testing.T) {
	expr := `sum(rate(x{job="$job", instance=~"${instance}"}[$__rate_interval]))`
	for _, c := range []struct {
		v    grafanaVars
		want string
	}{
		{grafanaVars{"bsc", []string{"127.0.0.1:8080"}, 5 * time.Second, 0},
			`sum(rate(x{job="bsc", instance=~"127\\.0\\.0\\.1:8080"}[20s]))`},
		{grafanaVars{"bsc", []string{"bsc:8080"}, 15 * time.Second, 15 * time.Second},
			`sum(rate(x{job="bsc", instance=~"bsc:8080"}[60s]))`},
		// Zoomed out: $__interval past three scrape intervals.
		{grafanaVars{"bsc", []string{"bsc:8080"}, 15 * time.Second, time.Minute},
			`sum(rate(x{job="bsc", instance=~"bsc:8080"}[75s]))`},
		{grafanaVars{"b", []string{"h"}, time.Minute, time.Second}, `sum(rate(x{job="b", instance=~"h"}[240s]))`},
		// Several instances, or All: each escaped, in one group.
		{grafanaVars{"bsc-cluster", []string{"bsc-n1:8080", "10.0.0.2:8080"}, 5 * time.Second, 0},
			`sum(rate(x{job="bsc-cluster", instance=~"(bsc-n1:8080|10\\.0\\.0\\.2:8080)"}[20s]))`},
	} {
		got, err := interpolate(expr, c.v)
		if err != nil || got != c.want {
			t.Errorf("interpolate(%+v) = %q, %v; want %q", c.v, got, err, c.want)
		}
	}
	if _, err := interpolate(`rate(x{route="$route"}[$__interval])`, grafanaVars{scrape: time.Second}); err == nil ||
		!strings.Contains(err.Error(), "$route") || !strings.Contains(err.Error(), "$__interval") {
		t.Errorf("unknown variables: %v", err)
	}
}

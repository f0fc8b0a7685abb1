package deploytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// Helpers of TestPrometheusE2E: processes, waiting, Prometheus' HTTP API,
// the text exposition format and the values written into the panel table.

// httpClient bounds every request of the end-to-end test.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// stop is an error that ends a wait at once instead of being retried.
type stop struct{ error }

// waitFor calls cond every interval until it returns nil, a stop error
// (returned unwrapped) or the timeout passes (its last error, wrapped). It
// is testutil.Eventually with an interval fit for HTTP round trips to
// Prometheus, and an error that says what was still wrong.
func waitFor(timeout, every time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var s stop
		if errors.As(err, &s) {
			return s.error
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not so after %v: %w", timeout, err)
		}
		<-tick.C
	}
}

// mustWait is waitFor failing the test, saying what it waited for.
func mustWait(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := waitFor(timeout, 100*time.Millisecond, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// lockedBuffer collects a process's output for the test to read.
type lockedBuffer = testutil.LogBuffer

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc is a process the test started; it is killed when the test ends, and
// its output shown if the test failed.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{} // closed once the process has exited
	err  error         // cmd.Wait's, valid once done is closed
}

// startProc starts path with args; onLine, if not nil, sees every line the
// process writes to stderr.
func startProc(t *testing.T, name, path string, args []string, onLine func([]byte)) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(path, args...), done: make(chan struct{})}
	p.cmd.Stdout = &p.out
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output (last lines):\n%s", name, tail(p.out.String(), 40))
		}
	})
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	go func() {
		r := bufio.NewReader(stderr)
		for {
			line, err := r.ReadBytes('\n')
			_, _ = p.out.Write(line)
			if onLine != nil && len(line) > 0 {
				onLine(line)
			}
			if err != nil {
				break
			}
		}
		p.err = p.cmd.Wait() // only once stderr is read to its end
		close(p.done)
	}()
	return p
}

// exited tells whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// prometheusBinary is Debian's prometheus. Its absence is a failure, not
// a skip: CI's .ci/run installs it.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	t.Fatal("prometheus not found: run .ci/run, which installs the Debian package prometheus " +
		"(or: apt-get install prometheus)")
	return ""
}

// buildBSC builds the real binary, with build labels the way `make build`
// sets them.
func buildBSC(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bsc")
	const pkg = "github.com/bsc-sim/bsc/internal/version"
	cmd := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X "+pkg+".Version=e2e -X "+pkg+".Commit=e2e", "./cmd/bsc")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// bscProc is a running `bsc serve`.
type bscProc struct {
	*proc
	addr string // host:port
	url  string
}

// startBSC runs `bsc serve` on a free loopback port with its own database,
// and returns once it serves. With port 0 the kernel picks a free one and
// nothing can take it in between.
func startBSC(t *testing.T, bin string, args ...string) *bscProc {
	t.Helper()
	return startServe(t, "bsc", bin,
		append([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "bsc.db")}, args...))
}

// startServe runs `bsc serve` with args, which give its --listen and --db,
// and returns once it serves, at the address its "serving" log line says.
func startServe(t *testing.T, name, bin string, args []string) *bscProc {
	t.Helper()
	listen := make(chan string, 1)
	p := startProc(t, name, bin, append([]string{"serve"}, args...), func(line []byte) {
		var rec struct{ Message, Listen string }
		if json.Unmarshal(line, &rec) == nil && rec.Message == "serving" {
			select {
			case listen <- rec.Listen:
			default:
			}
		}
	})
	select {
	case addr := <-listen:
		return &bscProc{proc: p, addr: addr, url: "http://" + addr}
	case <-p.done:
		t.Fatalf("%s exited before serving: %v", name, p.err)
	case <-time.After(e2eWait):
		t.Fatalf("%s not serving after %v", name, e2eWait)
	}
	return nil
}

// do sends a request with a JSON body (nil: none) and decodes a 2xx JSON
// answer into out (nil: not read). It returns the status and, for an
// error answer, its problem code; a request that fails fails the test.
func (b *bscProc) do(t *testing.T, method, path string, body, out any) (int, string) {
	t.Helper()
	status, code, err := b.request(context.Background(), method, path, body, out)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, code
}

// request is do for any goroutine: a failed request, or a 2xx answer out
// cannot hold, is an error.
func (b *bscProc) request(ctx context.Context, method, path string, body, out any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, rd)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", err
	}
	if res.StatusCode >= 300 {
		var problem struct{ Code string }
		_ = json.Unmarshal(raw, &problem)
		return res.StatusCode, problem.Code, nil
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, "", fmt.Errorf("%w\n%s", err, raw)
		}
	}
	return res.StatusCode, "", nil
}

// expect is do failing the test unless the answer has the given status
// (and problem code, if not "").
func (b *bscProc) expect(t *testing.T, status int, code, method, path string, body, out any) {
	t.Helper()
	got, gotCode := b.do(t, method, path, body, out)
	if got != status || (code != "" && gotCode != code) {
		t.Fatalf("%s %s: %d %q, want %d %q", method, path, got, gotCode, status, code)
	}
}

// promProc is a running Prometheus.
type promProc struct {
	*proc
	url string
}

// startPrometheus runs Prometheus on a free loopback port with config,
// and returns once it is ready. A port taken in between is retried.
func startPrometheus(t *testing.T, config []byte) *promProc {
	t.Helper()
	bin := prometheusBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, config, 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		addr := testutil.FreeAddrs(t, 1)[0] // startPrometheus retries if another process takes it
		p := &promProc{url: "http://" + addr}
		p.proc = startProc(t, "prometheus", bin, []string{
			"--config.file=" + conf,
			"--storage.tsdb.path=" + filepath.Join(dir, fmt.Sprintf("data%d", attempt)),
			"--web.listen-address=" + addr,
			"--storage.tsdb.retention.time=1h",
			"--log.level=warn",
		}, nil)
		err := waitFor(e2eWait, 50*time.Millisecond, func() error {
			if p.exited() {
				return stop{fmt.Errorf("prometheus exited: %v", p.err)}
			}
			res, err := httpClient.Get(p.url + "/-/ready")
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("/-/ready: %s", res.Status)
			}
			return nil
		})
		switch {
		case err == nil:
			return p
		case attempt < 3 && p.exited() && strings.Contains(p.out.String(), "address already in use"):
			t.Logf("prometheus: %s was taken, trying another port", addr)
			continue
		}
		t.Fatalf("prometheus not ready: %v", err)
	}
}

// sample is one series of an instant query's answer.
type sample struct {
	labels map[string]string
	value  float64
}

// query evaluates expr now through Prometheus' HTTP API. An error is a
// failed request or an error answer; warnings are errors too.
func (p *promProc) query(expr string) ([]sample, error) {
	res, err := httpClient.Get(p.url + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var ans struct {
		Status    string   `json:"status"`
		ErrorType string   `json:"errorType"`
		Error     string   `json:"error"`
		Warnings  []string `json:"warnings"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ans); err != nil {
		return nil, fmt.Errorf("%s: %w", res.Status, err)
	}
	switch {
	case ans.Status != "success":
		return nil, fmt.Errorf("%s: %s: %s", res.Status, ans.ErrorType, ans.Error)
	case len(ans.Warnings) > 0:
		return nil, fmt.Errorf("warnings: %s", strings.Join(ans.Warnings, "; "))
	}
	var out []sample
	switch ans.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(ans.Data.Result, &vec); err != nil {
			return nil, err
		}
		for _, s := range vec {
			v, err := promValue(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, sample{labels: s.Metric, value: v})
		}
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(ans.Data.Result, &sc); err != nil {
			return nil, err
		}
		v, err := promValue(sc)
		if err != nil {
			return nil, err
		}
		out = append(out, sample{labels: map[string]string{}, value: v})
	default:
		return nil, fmt.Errorf("result type %q, want vector or scalar", ans.Data.ResultType)
	}
	return out, nil
}

// promValue reads the [time, "value"] pair of the HTTP API.
func promValue(pair [2]any) (float64, error) {
	s, ok := pair[1].(string)
	if !ok {
		return 0, fmt.Errorf("value %v is not a string", pair[1])
	}
	return strconv.ParseFloat(s, 64)
}

// holds is a wait condition: expr returns at least one series.
func (p *promProc) holds(expr string) func() error {
	return func() error {
		ss, err := p.query(expr)
		if err != nil {
			return stop{fmt.Errorf("%s: %w", expr, err)}
		}
		if len(ss) == 0 {
			return fmt.Errorf("%s: empty", expr)
		}
		return nil
	}
}

// rulesHealthy is a wait condition: Prometheus has loaded n rules or more
// and evaluated each without error.
func (p *promProc) rulesHealthy(n int) func() error {
	return func() error {
		res, err := httpClient.Get(p.url + "/api/v1/rules")
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var ans struct {
			Status string `json:"status"`
			Data   struct {
				Groups []struct {
					Rules []struct {
						Name      string `json:"name"`
						Health    string `json:"health"`
						LastError string `json:"lastError"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := json.NewDecoder(res.Body).Decode(&ans); err != nil || ans.Status != "success" {
			return stop{fmt.Errorf("/api/v1/rules: %s %q: %v", res.Status, ans.Status, err)}
		}
		seen := 0
		for _, g := range ans.Data.Groups {
			for _, r := range g.Rules {
				seen++
				switch {
				case r.LastError != "" || r.Health == "err":
					return stop{fmt.Errorf("rule %s: %s %s", r.Name, r.Health, r.LastError)}
				case r.Health != "ok":
					return fmt.Errorf("rule %s: %s", r.Name, r.Health)
				}
			}
		}
		if seen < n {
			return stop{fmt.Errorf("%d rules loaded, want %d", seen, n)}
		}
		return nil
	}
}

// series is one sample line of the text exposition format.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// exposition is a parsed /metrics page.
type exposition struct {
	types  map[string]string // family name → counter, gauge, histogram, ...
	series []series
}

// scrape reads bsc's /metrics.
func scrape(t *testing.T, base string) exposition {
	t.Helper()
	res, err := httpClient.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", res.Status)
	}
	e, err := parseExposition(res.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return e
}

// parseExposition reads the Prometheus text format (version 0.0.4).
func parseExposition(r io.Reader) (exposition, error) {
	e := exposition{types: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			e.types[f[2]] = f[3]
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSeries(line)
		if err != nil {
			return e, fmt.Errorf("line %d %q: %w", n, line, err)
		}
		e.series = append(e.series, s)
	}
	return e, sc.Err()
}

func parseSeries(line string) (series, error) {
	s := series{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, errors.New("no metric name")
	}
	s.name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return s, errors.New("bad label")
			}
			name := rest[:eq]
			rest = rest[eq+2:]
			var val strings.Builder
			j := 0
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[j])
					}
					continue
				}
				val.WriteByte(rest[j])
			}
			if j == len(rest) {
				return s, errors.New("unterminated label value")
			}
			s.labels[name] = val.String()
			rest = rest[j+1:]
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return s, errors.New("no value")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

// named are the samples called name.
func (e exposition) named(name string) []series {
	var out []series
	for _, s := range e.series {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// sum adds the samples called name whose labels include match.
func (e exposition) sum(name string, match map[string]string) (float64, bool) {
	var total float64
	found := false
	for _, s := range e.named(name) {
		ok := true
		for k, v := range match {
			ok = ok && s.labels[k] == v
		}
		if ok {
			total += s.value
			found = true
		}
	}
	return total, found
}

// legendRE matches Grafana's {{label}} legend placeholders.
var legendRE = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// seriesName is a series as its panel's legend names it.
func seriesName(legend string, labels map[string]string) string {
	if legendRE.MatchString(legend) {
		return strings.TrimSpace(legendRE.ReplaceAllStringFunc(legend, func(m string) string {
			return labels[legendRE.FindStringSubmatch(m)[1]]
		}))
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

// formatValue writes v in the panel's Grafana unit.
func formatValue(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	num := func(x float64) string {
		if math.Abs(x) >= 1000 {
			return strconv.FormatFloat(x, 'f', 0, 64)
		}
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	switch unit {
	case "s":
		switch a := math.Abs(v); {
		case a == 0:
			return "0 s"
		case a < 1e-3:
			return num(v*1e6) + " µs"
		case a < 1:
			return num(v*1e3) + " ms"
		}
		return num(v) + " s"
	case "ms":
		return num(v) + " ms"
	case "bytes":
		for i, u := range []string{"B", "KiB", "MiB", "GiB"} {
			if math.Abs(v) < 1024 || i == 3 {
				return num(v) + " " + u
			}
			v /= 1024
		}
	case "percentunit":
		return num(v*100) + " %"
	case "percent":
		return num(v) + " %"
	case "reqps":
		return num(v) + " req/s"
	case "ops":
		return num(v) + " ops/s"
	}
	return num(v)
}

// summarise is a query's answer in a table cell: the value of a single
// series; up to four series each by its legend; more as their number and
// the three largest.
func summarise(ss []sample, legend, unit string) string {
	type named struct {
		name  string
		value float64
	}
	items := make([]named, len(ss))
	nans := 0
	for i, s := range ss {
		items[i] = named{seriesName(legend, s.labels), s.value}
		if math.IsNaN(s.value) {
			nans++
		}
	}
	item := func(n named) string { return n.name + ": " + formatValue(n.value, unit) }
	switch {
	case len(items) == 0:
		return "no data"
	case len(items) == 1 && !legendRE.MatchString(legend):
		return formatValue(items[0].value, unit)
	case len(items) <= 4:
		slices.SortFunc(items, func(a, b named) int { return strings.Compare(a.name, b.name) })
		parts := make([]string, len(items))
		for i, n := range items {
			parts[i] = item(n)
		}
		return strings.Join(parts, ", ")
	}
	// Largest first, NaN last, then by name: a stable order for the table.
	slices.SortFunc(items, func(a, b named) int {
		an, bn := math.IsNaN(a.value), math.IsNaN(b.value)
		switch {
		case an != bn:
			if an {
				return 1
			}
			return -1
		case !an && a.value != b.value:
			if a.value > b.value {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	head := fmt.Sprintf("%d series", len(items))
	if nans > 0 {
		head += fmt.Sprintf(" (%d NaN)", nans)
	}
	parts := make([]string, 0, 3)
	for _, n := range items[:3] {
		parts = append(parts, item(n))
	}
	return head + "; top: " + strings.Join(parts, ", ")
}

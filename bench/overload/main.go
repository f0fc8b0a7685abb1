// Command overload offers bsc a load of call -> accept -> hangup cycles
// over many connections at a fixed rate (for instance twice what it can
// serve), honouring Retry-After on 503, while it probes /healthz and
// samples the server's resident memory; it prints what BENCHMARKS.md
// records for load regulation: goodput, shed and failed answers, action
// and health latencies, RSS before, during and after.
//
//	go run ./bench/overload --target 127.0.0.1:8080 --pid PID --conns 2000 --rate 30000 --duration 20s
//
// Each connection plays its own pair of phones (4690000000 + 2i and + 2i +
// 1, attached first) over raw HTTP/1.1 keep-alive, which costs the client
// far less than net/http's client: on a shared two-core machine the
// client's own cost is the load's ceiling.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func main() {
	target := flag.String("target", "127.0.0.1:8080", "host:port of bsc")
	pid := flag.Int("pid", 0, "the server's process id, to sample its RSS (0: no sampling)")
	conns := flag.Int("conns", 2000, "connections, one pair of phones each")
	rate := flag.Float64("rate", 0, "offered actions per second over all connections (0: as fast as answered)")
	duration := flag.Duration("duration", 20*time.Second, "how long to offer the load")
	settle := flag.Duration("settle", 10*time.Second, "how long after the load to sample RSS again")
	attach := flag.Bool("attach", true, "provision and attach the phones first")
	flag.Parse()

	if *attach {
		if err := attachPhones(*target, *conns); err != nil {
			log.Fatal(err)
		}
	}
	rssBefore := rss(*pid)
	cpuBefore, selfBefore := procCPU(*pid), selfCPU()
	var st stats
	st.lat = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	interval := time.Duration(0)
	if *rate > 0 {
		interval = time.Duration(float64(*conns) / *rate * float64(time.Second))
	}
	start := time.Now()
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the first requests over one interval.
			first := start
			if interval > 0 {
				first = start.Add(time.Duration(int64(interval) * int64(i) / int64(*conns)))
			}
			play(*target, i, first, interval, stop, &st)
		}()
	}
	health := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	var healthFail atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		probe(*target, stop, health, &healthFail)
	}()
	peakRSS := int64(0)
	tick := time.NewTicker(500 * time.Millisecond)
	deadline := time.After(*duration)
loop:
	for {
		select {
		case <-tick.C:
			peakRSS = max(peakRSS, rss(*pid))
		case <-deadline:
			break loop
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	serverCPU, clientCPU := procCPU(*pid)-cpuBefore, selfCPU()-selfBefore
	rssEnd := rss(*pid)
	time.Sleep(*settle)
	rssSettled := rss(*pid)

	secs := elapsed.Seconds()
	fmt.Printf("conns %d, offered %.0f actions/s, %v\n", *conns, *rate, elapsed.Round(time.Millisecond))
	fmt.Printf("answered 2xx %d (%.0f/s), 503 %d (%.0f/s), other %d, connection errors %d\n",
		st.ok.Load(), float64(st.ok.Load())/secs, st.shed.Load(), float64(st.shed.Load())/secs, st.other.Load(), st.connErr.Load())
	fmt.Printf("action latency (2xx and 503): p50 %v p99 %v p99.9 %v max %v\n", us(st.lat.ValueAtQuantile(50)),
		us(st.lat.ValueAtQuantile(99)), us(st.lat.ValueAtQuantile(99.9)), us(st.lat.Max()))
	fmt.Printf("/healthz: %d probes, %d failed, p50 %v p99 %v max %v\n", health.TotalCount(), healthFail.Load(),
		us(health.ValueAtQuantile(50)), us(health.ValueAtQuantile(99)), us(health.Max()))
	fmt.Printf("CPU: client %.2f cores", clientCPU.Seconds()/secs)
	if *pid != 0 {
		fmt.Printf(", server %.2f cores, %.0f µs of server CPU per 2xx action", serverCPU.Seconds()/secs,
			float64(serverCPU.Microseconds())/float64(max(1, st.ok.Load())))
	}
	fmt.Println()
	if *pid != 0 {
		fmt.Printf("RSS: before %d MiB, peak %d MiB, at the end %d MiB, %v later %d MiB\n",
			rssBefore>>20, peakRSS>>20, rssEnd>>20, *settle, rssSettled>>20)
	}
}

func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

type stats struct {
	ok, shed, other, connErr atomic.Int64
	mu                       sync.Mutex
	lat                      *hdrhistogram.Histogram
}

func (s *stats) record(d time.Duration) {
	s.mu.Lock()
	_ = s.lat.RecordValue(max(1, d.Microseconds()))
	s.mu.Unlock()
}

// play runs one connection's cycles until stop.
func play(target string, i int, next time.Time, interval time.Duration, stop <-chan struct{}, st *stats) {
	caller, callee := fmt.Sprint(4690000000+2*i), fmt.Sprint(4690000000+2*i+1)
	reqs := [3][]byte{
		request(caller, `{"action":"call","to":"`+callee+`"}`),
		request(callee, `{"action":"accept"}`),
		request(caller, `{"action":"hangup"}`),
	}
	var c net.Conn
	var r *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	step := 0
	for {
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
				return
			}
		}
		select {
		case <-stop:
			return
		default:
		}
		if c == nil {
			var err error
			if c, err = net.Dial("tcp", target); err != nil {
				st.connErr.Add(1)
				next = time.Now().Add(time.Second)
				continue
			}
			r = bufio.NewReader(c)
		}
		sent := time.Now()
		status, retry, closed, err := roundTrip(c, r, reqs[step])
		if err != nil {
			st.connErr.Add(1)
			c.Close()
			c = nil
			next = time.Now().Add(100 * time.Millisecond)
			continue
		}
		st.record(time.Since(sent))
		next = next.Add(interval)
		if interval == 0 || time.Until(next) < -time.Second {
			next = time.Now().Add(interval) // far behind: do not burst to catch up
		}
		switch {
		case status/100 == 2:
			st.ok.Add(1)
			step = (step + 1) % 3
		case status == http.StatusServiceUnavailable:
			st.shed.Add(1)
			next = time.Now().Add(retry)
			step = afterFailure[step]
		default: // out of step with the phones (a 409): hang up, start over
			st.other.Add(1)
			step = map[bool]int{true: 0, false: 2}[step == 2]
		}
		if closed {
			c.Close()
			c = nil
		}
	}
}

// afterFailure is the step after a refused one: a refused call leaves both
// phones idle (dial again), a refused accept leaves the call ringing (the
// caller hangs up), a refused hangup ended the call anyway or found none.
var afterFailure = [3]int{0, 2, 0}

func request(m, body string) []byte {
	return fmt.Appendf(nil, "POST /api/v1/phones/%s/actions HTTP/1.1\r\nHost: bsc\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		m, len(body), body)
}

// roundTrip sends req and reads the answer: status, Retry-After (1 s when
// absent), and whether the server closes the connection.
func roundTrip(c net.Conn, r *bufio.Reader, req []byte) (status int, retry time.Duration, closed bool, err error) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err = c.Write(req); err != nil {
		return
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	if f := strings.Fields(line); len(f) >= 2 {
		status, _ = strconv.Atoi(f[1])
	}
	retry, length := time.Second, 0
	for {
		h, e := r.ReadString('\n')
		if e != nil {
			return 0, 0, false, e
		}
		h = strings.TrimSpace(h)
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			length, _ = strconv.Atoi(v)
		case "retry-after":
			if s, e := strconv.Atoi(v); e == nil {
				retry = time.Duration(s) * time.Second
			}
		case "connection":
			closed = strings.EqualFold(v, "close")
		}
	}
	_, err = io.CopyN(io.Discard, r, int64(length))
	return status, retry, closed, err
}

// probe gets /healthz every 50 ms on connections of its own, as a health
// checker does, and records the latency.
func probe(target string, stop <-chan struct{}, h *hdrhistogram.Histogram, failed *atomic.Int64) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		t0 := time.Now()
		res, err := client.Get("http://" + target + "/healthz")
		if err != nil {
			failed.Add(1)
			continue
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			failed.Add(1)
			continue
		}
		_ = h.RecordValue(max(1, time.Since(t0).Microseconds()))
	}
}

// attachPhones provisions and attaches 2 × n phones.
func attachPhones(target string, n int) error {
	client := &http.Client{Timeout: time.Minute}
	items := make([]map[string]string, 2*n)
	for i := range items {
		items[i] = map[string]string{"msisdn": fmt.Sprint(4690000000 + i)}
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	res, err := client.Post("http://"+target+"/api/v1/subscribers:bulk", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	res.Body.Close()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var failed atomic.Int64
	for i := range 2 * n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for {
				res, err := client.Post("http://"+target+"/api/v1/phones", "application/json",
					strings.NewReader(fmt.Sprintf(`{"msisdn":"%d"}`, 4690000000+i)))
				if err != nil {
					failed.Add(1)
					return
				}
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusCreated, http.StatusConflict:
					return
				case http.StatusServiceUnavailable:
					time.Sleep(time.Second) // Retry-After
				default:
					failed.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d attaches failed", n)
	}
	return nil
}

// procCPU is the CPU time process pid used (user and system), 0 without
// a pid.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// selfCPU is the CPU time this process used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is the resident set of process pid in bytes (0 without a pid).
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

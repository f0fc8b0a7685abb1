package load

import (
	"context"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// trafficConfig is a small traffic-model run against targets.
func trafficConfig(erlangs float64, targets ...string) Config {
	cfg := testConfig(targets...)
	cfg.Calls = 80
	cfg.Traffic = Traffic{Erlangs: erlangs, HoldingTime: 20 * time.Millisecond}
	return cfg
}

// The traffic model's calls reach the allocator: callees are idle and
// accept, holding times are measured, and the blocking is no_frequency
// over the attempts that got there.
func TestTrafficModelFake(t *testing.T) {
	f := newFakeBSC(t, 2)
	cfg := trafficConfig(3, f.srv.URL) // B(3, 2) = 53 %: plenty of no_frequency
	cfg.MaxGoS = 0.01
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, rep)
	tr, out := rep.Traffic, rep.Calls.Outcomes
	if rep.Model != "traffic" || tr == nil || rep.Rate != 150 {
		t.Fatalf("model %q rate %v traffic %+v, want the traffic model at 3 E / 20 ms = 150/s", rep.Model, rep.Rate, tr)
	}
	// With 20 phones and callees picked at random, some would be busy.
	if out["busy"] != 0 || out["rejected"] != 0 || tr.CalleeBusy != 0 {
		t.Errorf("outcomes %v: callees busy or rejecting", out)
	}
	if tr.Channels != 2 || tr.Reached != out["answered"]+out["no_frequency"] || tr.NoFrequency == 0 {
		t.Errorf("channels %d, reached %d, no_frequency %d; outcomes %v", tr.Channels, tr.Reached, tr.NoFrequency, out)
	}
	if tr.Held != out["answered"] || tr.MeanHoldingS <= 0 || tr.OfferedMeasured <= 0 {
		t.Errorf("held %d of %d answered, mean %v s, offered measured %v", tr.Held, out["answered"], tr.MeanHoldingS, tr.OfferedMeasured)
	}
	if v := rep.Verdict(); !errors.Is(v, ErrThresholds) || !strings.Contains(v.Error(), "blocking") || errors.Is(v, ErrBooks) {
		t.Errorf("verdict %v, want the blocking threshold missed, books fine", v)
	}
}

// The channels are the pool less its blocked frequencies; those other
// owners hold when the traffic starts are counted and warned of.
func TestTrafficReadsTheCell(t *testing.T) {
	f := newFakeBSC(t, 3)
	f.pool = append(f.pool, 99)
	f.blocked = []int{99}
	f.owners[99] = "client-1" // a blocked frequency stays with its owner until released
	f.owners[10], f.free = "client-2", f.free[1:]
	cfg := trafficConfig(1, f.srv.URL)
	cfg.Calls = 30
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	tr := rep.Traffic
	if tr.Channels != 3 || tr.HeldAtStart != 1 {
		t.Errorf("channels %d held %d, want 3 (pool 4 less 1 blocked) and 1", tr.Channels, tr.HeldAtStart)
	}
	if !strings.Contains(strings.Join(tr.Warnings, "\n"), "1 of the 3 channels were allocated to other owners") {
		t.Errorf("warnings %q", tr.Warnings)
	}
}

// With --cell N over a cluster, every phone is attached in cell N and the
// model measures that cell: N is its pool, read with ?cell=N, not another
// cell's. The fake's phones block on cell 2's 3 frequencies; the other
// cells are idle with 8 each.
func TestTrafficCellOfCluster(t *testing.T) {
	f := newFakeCluster(t, 3, 3)
	f.cells, f.cell = 4, 2
	cfg := trafficConfig(3, f.urls()...)
	cfg.Phones = 30
	cfg.Traffic.Cell = new(2) // B(3, 3) = 35 %, B(3, 8) = 0.8 %
	rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
	if err != nil || rep.Verdict() != nil {
		t.Fatalf("err %v verdict %v\n%s", err, rep.Verdict(), text(t, rep))
	}
	checkConsistent(t, rep)
	tr := rep.Traffic
	if tr.Cell == nil || *tr.Cell != 2 || tr.Channels != 3 || tr.NoFrequency == 0 {
		t.Errorf("cell %v channels %d no_frequency %d: want cell 2's 3 channels blocking", tr.Cell, tr.Channels, tr.NoFrequency)
	}
	f.mu.Lock()
	attached, reads := maps.Clone(f.attachedIn), slices.Clone(f.freqReads)
	f.mu.Unlock()
	if !maps.Equal(attached, map[int]int{2: 30}) {
		t.Errorf("attaches by the cell they named %v, want all 30 in cell 2", attached)
	}
	if !slices.Contains(reads, "cell=2") {
		t.Errorf("frequencies read with %q, never ?cell=2", reads)
	}
	var js strings.Builder
	if err := rep.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"cell": 2,`) {
		t.Errorf("JSON report lacks the cell (%v):\n%s", err, js.String())
	}
	for _, want := range []string{"traffic model, 3.000 E offered to cell 2, seed 1\n",
		"channels       3 in cell 2, where every phone was attached (the pool less its blocked frequencies)\n",
		"Erlang B       34.62% for 3.000 E asked on 3 channels"} {
		if !strings.Contains(text(t, rep), want) {
			t.Errorf("report lacks %q:\n%s", want, text(t, rep))
		}
	}
}

// The model measures one cell: a target of several cells needs --cell, a
// cell the target does not have is refused, both before anything is
// provisioned or attached. A single node's cell 0 may be named.
func TestTrafficCellChecked(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nodes   int
		cell    *int
		want    string // "": the run goes
		channel int
	}{
		{"cluster without a cell", 3, nil,
			"traffic model: the target has 4 cells (cluster mode), each with a pool of its own, and the model measures one: " +
				"pass --cell N (0 to 3) to attach every phone in cell N and measure its pool", 0},
		{"cluster, a cell beyond", 3, new(4), "traffic model: --cell 4: the target's cells are 0 to 3", 0},
		{"single node, cell 1", 1, new(1), "traffic model: --cell 1: the target's cells are 0 to 0", 0},
		{"single node, cell 0", 1, new(0), "", 3},
		{"single node, no cell", 1, nil, "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCluster(t, 3, tc.nodes)
			if tc.nodes > 1 {
				f.cells = 4
			}
			cfg := trafficConfig(3, f.urls()...)
			cfg.Calls, cfg.Traffic.Cell = 10, tc.cell
			rep, err := runBounded(t, context.Background(), cfg, 30*time.Second)
			if tc.want != "" {
				if err == nil || err.Error() != tc.want || !rep.Partial || rep.Requests.Total != 0 {
					t.Errorf("err %v, %d requests; want %q and nothing sent", err, rep.Requests.Total, tc.want)
				}
				return
			}
			if err != nil || rep.Traffic.Channels != tc.channel {
				t.Fatalf("err %v\n%s", err, text(t, rep))
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			key, query := -1, ""
			if tc.cell != nil {
				key, query = *tc.cell, "cell=0"
			}
			if f.attachedIn[key] != cfg.Phones || f.freqReads[0] != query {
				t.Errorf("attaches by cell %v, first frequencies read %q: want every attach in %d, read %q", f.attachedIn, f.freqReads[0], key, query)
			}
		})
	}
}

func TestTrafficNoChannel(t *testing.T) {
	f := newFakeBSC(t, 1)
	f.blocked = []int{f.pool[0]}
	rep, err := runBounded(t, context.Background(), trafficConfig(1, f.srv.URL), 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "no frequency to allocate") || !rep.Partial {
		t.Errorf("err %v partial %v, want the run refused for want of a channel", err, rep.Partial)
	}
	if rep.Books == nil || !rep.Books.OK {
		t.Errorf("books %+v: the phones were not detached", rep.Books)
	}
}

// The offered traffic, the rate the driver runs at, and the holding times
// it draws.
func TestTrafficApplied(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Phones = 600
	cfg.Traffic = Traffic{BusyHourCalls: 2, HoldingTime: 90 * time.Second}
	if a := cfg.Traffic.Offered(cfg.Phones); math.Abs(a-30) > 1e-9 {
		t.Errorf("600 phones x 2 calls an hour x 90 s = %v E, want 30", a)
	}
	d := newDriver(cfg)
	if c := d.cfg; math.Abs(c.Rate-1.0/3) > 1e-12 || c.Accept != 1 || c.AnswerMax != 0 || c.TalkMax != holdingCap*90*time.Second {
		t.Errorf("applied: rate %v accept %v answer max %v talk max %v", c.Rate, c.Accept, c.AnswerMax, c.TalkMax)
	}
	d.rng = rand.New(rand.NewPCG(1, 2))
	const n = 20000
	var sum, over time.Duration
	for range n {
		h := d.talkTime()
		sum += h
		if h > 90*time.Second {
			over++
		}
	}
	// Exponential: mean 90 s (±0.7 % at one standard deviation over 20000
	// draws), and e⁻¹ = 36.8 % of the draws above the mean.
	if mean := sum / n; mean < 87*time.Second || mean > 93*time.Second {
		t.Errorf("mean holding time %v, want 90s", mean)
	}
	if frac := float64(over) / n; frac < 0.35 || frac > 0.385 {
		t.Errorf("%.3f of the holding times above the mean, want e⁻¹ = 0.368", frac)
	}
	off := DefaultConfig()
	if !reflect.DeepEqual(newDriver(off).cfg, off) {
		t.Error("the config changed with the traffic model off")
	}
}

func TestPickOtherIdle(t *testing.T) {
	d, ph := testDriver(t)
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[*phone]int{}
	for range 300 {
		q := d.pop.pickOtherIdle(rng, ph[1])
		if q == nil || q == ph[1] || q.state != stIdle {
			t.Fatalf("picked %v", q)
		}
		seen[q]++
	}
	if seen[ph[0]] < 100 || seen[ph[2]] < 100 {
		t.Errorf("picks %d and %d of 300: not both others, evenly", seen[ph[0]], seen[ph[2]])
	}
	d.pop.set(ph[0], stTalking, true, ph[2].msisdn)
	d.pop.set(ph[2], stTalking, false, ph[0].msisdn)
	if q := d.pop.pickOtherIdle(rng, ph[1]); q != nil {
		t.Errorf("picked %s with only the caller idle", q.msisdn)
	}
}

// trafficReportOf is the report of a traffic-model run made from known
// counts: 4 channels offered 2 E asked; 100 attempts over 10 s of issuing
// reached the allocator, 10 blocked, 90 answered and held 220 ms on average.
func trafficReportOf(t *testing.T, attached int, maxGoS float64) *Report {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Traffic = Traffic{Erlangs: 2, HoldingTime: 200 * time.Millisecond}
	cfg.MaxGoS = maxGoS
	d := newDriver(cfg)
	d.cell = cellView{pool: 5, blocked: 1}
	for _, ph := range d.pop.phones[:attached] {
		d.pop.attach(ph)
	}
	d.start = time.Now().Add(-11 * time.Second)
	d.issuing = window{d.start, d.start.Add(10 * time.Second)}
	d.trafficWindow = window{d.start, d.start.Add(11 * time.Second)}
	d.st.attempts = 100
	d.st.outcomes[outAnswered], d.st.outcomes[outNoFrequency] = 90, 10
	d.st.heldCalls, d.st.heldTime = 90, 90*220*time.Millisecond
	return d.report(t.Context(), nil)
}

func TestTrafficReportFigures(t *testing.T) {
	r := trafficReportOf(t, 150, -1)
	tr := r.Traffic
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s %v, want %v", name, got, want)
		}
	}
	near("offered asked", tr.OfferedErlangs, 2)
	near("rate", tr.Rate, 10)
	near("mean holding", tr.MeanHoldingS, 0.22)
	near("offered measured", tr.OfferedMeasured, 10*0.22) // 100 reached in 10 s × 0.22 s
	near("carried", tr.Carried, 9*0.22)                   // 90 answered in 10 s × 0.22 s
	near("blocking", tr.Blocking, 0.1)
	near("Erlang B asked", tr.ErlangB, 2.0/3/(1+2+2+4.0/3+2.0/3)) // B(2, 4) = (2⁴/4!) / Σ 2ᵏ/k!
	// B(2.2, 4) = (2.2⁴/4!) / Σ 2.2ᵏ/k! = 0.1166047...
	if math.Abs(tr.ErlangBMeasured-0.1166047) > 1e-7 {
		t.Errorf("Erlang B measured %.7f, want B(2.2, 4) = 0.1166047", tr.ErlangBMeasured)
	}
	if lo, hi := tr.BlockingCI95[0], tr.BlockingCI95[1]; !(lo < 0.1 && 0.1 < hi) || hi-lo < 0.1 {
		// 10 of 100 with the dispersion of 4 channels: wider than the
		// binomial interval [0.055, 0.174].
		t.Errorf("95 %% interval [%v, %v]", lo, hi)
	}
	if tr.Channels != 4 || len(tr.Warnings) != 0 || !r.Thresholds.OK {
		t.Errorf("channels %d warnings %q thresholds %+v", tr.Channels, tr.Warnings, r.Thresholds)
	}
}

func TestTrafficReportText(t *testing.T) {
	r := trafficReportOf(t, 6, 0.05)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"6 attached), traffic model, 2.000 E offered, seed 1\n",
		"traffic        asked 2.000 E: 10.00 call attempts/s x 200ms mean holding\n",
		"               measured 2.200 E offered (100 reached the allocator, 220ms mean holding of 90), 1.980 E carried\n",
		"channels       4 (the pool less its blocked frequencies)\n",
		"blocking       10.00% (10 no_frequency of 100), 95% CI ",
		"callee busy 0 (not blocking)\n",
		"Erlang B       9.52% for 2.000 E asked on 4 channels, 11.66% for the 2.200 E measured\n",
		"warning        6 phones attached for 4 channels: a call takes two phones, so no attempt can find every channel busy; give --phones well above 10\n",
		"thresholds     MISSED: blocking 0.1000 > 0.0500 (10 no_frequency of 100 attempts that reached the allocator)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if v := r.Verdict(); !errors.Is(v, ErrThresholds) {
		t.Errorf("verdict %v", v)
	}
}

func TestTrafficReportJSON(t *testing.T) {
	var b strings.Builder
	if err := trafficReportOf(t, 150, 0.2).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"model": "traffic"`, `"offered_erlangs": 2,`, `"offered_measured_erlangs": 2.2`,
		`"carried_erlangs": 1.98`, `"blocking": 0.1,`, `"blocking_ci95": [`, `"erlang_b": 0.095238`, `"channels": 4,`,
		`"max_gos": 0.2`, `"reached": 100,`, `"callee_busy": 0,`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), `"cell"`) {
		t.Errorf("JSON names a cell, though the run named none:\n%s", b.String())
	}
	var plain strings.Builder
	if err := sampleReport(t, nil, 0, -1).WriteJSON(&plain); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), `"traffic"`) || strings.Contains(plain.String(), "max_gos") {
		t.Errorf("a run without the traffic model reports traffic:\n%s", plain.String())
	}
}

// --max-gos with nothing measured is missed, not met.
func TestMaxGoSUnmeasured(t *testing.T) {
	if v := checkGoS(&TrafficReport{}, 0.5); len(v) != 1 || !strings.Contains(v[0], "not measured") {
		t.Errorf("violations %q", v)
	}
}

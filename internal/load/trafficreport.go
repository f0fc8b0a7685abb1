package load

import (
	"fmt"
	"strings"
	"time"

	"github.com/bsc-sim/bsc/internal/teletraffic"
)

// TrafficReport is a traffic-model run read as a teletraffic measurement
// (docs/traffic.md): the traffic asked for and the traffic measured, the
// blocking measured and Erlang B's.
type TrafficReport struct {
	// The cell measured, read when the traffic started. Cell is the one
	// --cell named, every phone attached in it (nil: the target's only
	// cell); Channels is Erlang B's N, the pool less its blocked
	// frequencies; HeldAtStart of them were allocated to other owners then.
	Cell        *int `json:"cell,omitempty"`
	Channels    int  `json:"channels"`
	HeldAtStart int  `json:"held_at_start"`

	// Asked: OfferedErlangs = Rate × HoldingTimeS.
	OfferedErlangs float64 `json:"offered_erlangs"`
	BusyHourCalls  float64 `json:"busy_hour_calls,omitempty"` // per phone, when given that way
	HoldingTimeS   float64 `json:"holding_time_s"`            // mean
	Rate           float64 `json:"rate"`                      // call attempts per second

	// Measured. Reached is the attempts that reached the allocator
	// (answered + no_frequency), NoFrequency those it refused; CalleeBusy
	// is attempts whose callee was busy after all, which are neither.
	Reached     int64 `json:"reached"`
	NoFrequency int64 `json:"no_frequency"`
	CalleeBusy  int64 `json:"callee_busy"`
	// Held answered calls had their holding time measured, from the
	// caller's accepted reply to the answer to its hangup.
	Held         int64   `json:"held"`
	MeanHoldingS float64 `json:"mean_holding_s"`
	// OfferedMeasured is reached attempts per second of issuing × the
	// mean holding time measured; Carried is answered calls per second of
	// issuing × the same, i.e. OfferedMeasured × (1 − Blocking).
	OfferedMeasured float64 `json:"offered_measured_erlangs"`
	Carried         float64 `json:"carried_erlangs"`
	// Blocking is NoFrequency / Reached, with its 95 % confidence
	// interval (teletraffic.BlockingInterval).
	Blocking     float64    `json:"blocking"`
	BlockingCI95 [2]float64 `json:"blocking_ci95"`

	// Erlang B's blocking for the offered traffic asked and for the one
	// measured, on Channels.
	ErlangB         float64 `json:"erlang_b"`
	ErlangBMeasured float64 `json:"erlang_b_measured"`

	// Warnings say where the run left the model's assumptions.
	Warnings []string `json:"warnings,omitempty"`
}

// trafficReport reads the run as a teletraffic measurement. Under st.mu.
func (d *driver) trafficReport(r *Report) *TrafficReport {
	st, tr := d.st, d.cfg.Traffic
	t := &TrafficReport{
		Cell: tr.Cell, Channels: d.cell.channels(), HeldAtStart: d.cell.held,
		OfferedErlangs: tr.Offered(d.cfg.Phones), HoldingTimeS: tr.HoldingTime.Seconds(), Rate: d.cfg.Rate,
		NoFrequency: st.outcomes[outNoFrequency], CalleeBusy: st.outcomes[outBusy], Held: st.heldCalls,
	}
	if tr.Erlangs == 0 {
		t.BusyHourCalls = tr.BusyHourCalls
	}
	answered := st.outcomes[outAnswered]
	t.Reached = answered + t.NoFrequency
	if t.Held > 0 {
		t.MeanHoldingS = (st.heldTime / time.Duration(t.Held)).Seconds()
		t.OfferedMeasured = perSecond(t.Reached, r.IssuingS) * t.MeanHoldingS
		t.Carried = perSecond(answered, r.IssuingS) * t.MeanHoldingS
	}
	if t.Reached > 0 {
		t.Blocking = float64(t.NoFrequency) / float64(t.Reached)
	}
	// The interval's width depends on the load (teletraffic.Dispersion):
	// the load measured if there is one.
	a := t.OfferedMeasured
	if a == 0 {
		a = t.OfferedErlangs
	}
	t.BlockingCI95[0], t.BlockingCI95[1] = teletraffic.BlockingInterval(t.NoFrequency, t.Reached, a, t.Channels, 0.95)
	t.ErlangB = teletraffic.ErlangB(t.OfferedErlangs, t.Channels)
	t.ErlangBMeasured = teletraffic.ErlangB(t.OfferedMeasured, t.Channels)
	t.Warnings = d.trafficWarnings(t, r)
	return t
}

// trafficWarnings lists where the run left Erlang B's assumptions.
func (d *driver) trafficWarnings(t *TrafficReport, r *Report) []string {
	var w []string
	if t.Channels > 0 && r.Attached < 2*t.Channels+2 {
		w = append(w, fmt.Sprintf("%d phones attached for %d channels: a call takes two phones, so no attempt can find "+
			"every channel busy; give --phones well above %d", r.Attached, t.Channels, 2*t.Channels+2))
	}
	if r.Calls.Skipped > 0 {
		w = append(w, fmt.Sprintf("%d attempts found no two idle phones and were not made: the traffic offered is less "+
			"than asked, and burstier; give more --phones", r.Calls.Skipped))
	}
	if t.HeldAtStart > 0 {
		w = append(w, fmt.Sprintf("%d of the %d channels were allocated to other owners when the traffic started: "+
			"the run had fewer", t.HeldAtStart, t.Channels))
	}
	if t.Reached > 0 && t.Held == 0 {
		w = append(w, "no holding time measured: the traffic measured is unknown")
	}
	return w
}

// checkGoS is --max-gos: a threshold on the blocking measured (its point
// estimate; the interval says how far to trust it).
func checkGoS(t *TrafficReport, maxGoS float64) []string {
	switch {
	case t == nil || t.Reached == 0:
		return []string{"blocking not measured: no attempt reached the allocator"}
	case t.Blocking > maxGoS:
		return []string{fmt.Sprintf("blocking %.4f > %.4f (%d no_frequency of %d attempts that reached the allocator)",
			t.Blocking, maxGoS, t.NoFrequency, t.Reached)}
	}
	return nil
}

// text writes the traffic lines of the text report.
func (t *TrafficReport) text(b *strings.Builder) {
	pct := func(p float64) string { return fmt.Sprintf("%.2f%%", 100*p) }
	fmt.Fprintf(b, "traffic        asked %.3f E: %.2f call attempts/s x %v mean holding", t.OfferedErlangs, t.Rate,
		time.Duration(t.HoldingTimeS*float64(time.Second)))
	if t.BusyHourCalls > 0 {
		fmt.Fprintf(b, " (%g busy-hour calls per phone)", t.BusyHourCalls)
	}
	fmt.Fprintf(b, "\n               measured %.3f E offered (%d reached the allocator, %v mean holding of %d), %.3f E carried\n",
		t.OfferedMeasured, t.Reached, time.Duration(t.MeanHoldingS*float64(time.Second)).Round(10*time.Microsecond), t.Held, t.Carried)
	fmt.Fprintf(b, "channels       %d", t.Channels)
	if t.Cell != nil {
		fmt.Fprintf(b, " in cell %d, where every phone was attached", *t.Cell)
	}
	b.WriteString(" (the pool less its blocked frequencies)\n")
	fmt.Fprintf(b, "blocking       %s (%d no_frequency of %d), 95%% CI %s-%s; callee busy %d (not blocking)\n",
		pct(t.Blocking), t.NoFrequency, t.Reached, pct(t.BlockingCI95[0]), pct(t.BlockingCI95[1]), t.CalleeBusy)
	fmt.Fprintf(b, "Erlang B       %s for %.3f E asked on %d channels, %s for the %.3f E measured\n",
		pct(t.ErlangB), t.OfferedErlangs, t.Channels, pct(t.ErlangBMeasured), t.OfferedMeasured)
	for _, w := range t.Warnings {
		fmt.Fprintf(b, "warning        %s\n", w)
	}
}

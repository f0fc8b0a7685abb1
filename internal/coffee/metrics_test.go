package coffee

import (
	"github.com/bsc-sim/bsc/internal/testutil"

	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func wantMetric(t *testing.T, reg *prometheus.Registry, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := testutil.Metric(t, reg, name, labels...)
	if !ok {
		t.Fatalf("%s%v: no series", name, labels)
	}
	if got != want {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	for _, d := range []string{"tea", "espresso", "americano", "cappuccino"} {
		wantMetric(t, reg, 0, "bsc_coffee_drinks_total", "drink", d)
	}
	wantMetric(t, reg, 0, "bsc_coffee_money_taken_total")
	for _, r := range []string{"cancel", "timeout", "stop", "crash"} {
		wantMetric(t, reg, 0, "bsc_coffee_refunds_total", "reason", r)
		wantMetric(t, reg, 0, "bsc_coffee_refunded_money_total", "reason", r)
	}
}

func TestMetricsCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)

	s := startMachine(t, Options{Metrics: metrics})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "cancel"}) // nothing paid: not a refund
	send(t, s.m, Event{Kind: "select", Drink: "americano"})
	send(t, s.m, Event{Kind: "pay", Coin: 100})
	send(t, s.m, Event{Kind: "pay", Coin: 100}) // served, 50 change
	send(t, s.m, Event{Kind: "cup_removed"})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "pay", Coin: 70})
	send(t, s.m, Event{Kind: "cancel"})
	send(t, s.m, Event{Kind: "select", Drink: "tea"})
	send(t, s.m, Event{Kind: "pay", Coin: 20})
	s.m.Crash()
	s.waitExit(t)

	wantMetric(t, reg, 1, "bsc_coffee_drinks_total", "drink", "americano")
	wantMetric(t, reg, 0, "bsc_coffee_drinks_total", "drink", "tea")
	wantMetric(t, reg, 150, "bsc_coffee_money_taken_total")
	wantMetric(t, reg, 1, "bsc_coffee_refunds_total", "reason", "cancel")
	wantMetric(t, reg, 70, "bsc_coffee_refunded_money_total", "reason", "cancel")
	wantMetric(t, reg, 1, "bsc_coffee_refunds_total", "reason", "crash")
	wantMetric(t, reg, 20, "bsc_coffee_refunded_money_total", "reason", "crash")

	// Counters outlive the machine: a new one adds to them.
	s2 := startMachine(t, Options{Metrics: metrics})
	send(t, s2.m, Event{Kind: "select", Drink: "tea"})
	send(t, s2.m, Event{Kind: "pay", Coin: 30})
	s2.m.Stop()
	s2.waitExit(t)
	wantMetric(t, reg, 1, "bsc_coffee_refunds_total", "reason", "stop")
	wantMetric(t, reg, 30, "bsc_coffee_refunded_money_total", "reason", "stop")
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.served("tea", 100)
	m.refunded(reasonCancel, 10)
}

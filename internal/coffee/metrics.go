package coffee

import "github.com/prometheus/client_golang/prometheus"

// Why paid money went back without a drink: the refunds metric's label.
const (
	reasonCancel  = "cancel"
	reasonTimeout = "timeout"
	reasonStop    = "stop"
	reasonCrash   = "crash"
)

// Metrics are the coffee counters, created once and shared by every machine
// and every incarnation so that they survive restarts. A nil *Metrics
// counts nothing.
type Metrics struct {
	drinks        *prometheus.CounterVec
	moneyTaken    prometheus.Counter
	refunds       *prometheus.CounterVec
	refundedMoney *prometheus.CounterVec
}

// NewMetrics registers the coffee metrics on reg, every labelled series
// initialised to zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		drinks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_coffee_drinks_total", Help: "Drinks served, by drink.",
		}, []string{"drink"}),
		moneyTaken: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bsc_coffee_money_taken_total", Help: "Price of the drinks served, in the smallest currency unit.",
		}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_coffee_refunds_total", Help: "Payments returned without a drink, by reason (cancel, timeout, stop, crash).",
		}, []string{"reason"}),
		refundedMoney: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_coffee_refunded_money_total", Help: "Money returned without a drink, in the smallest currency unit, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.drinks, m.moneyTaken, m.refunds, m.refundedMoney)
	for _, d := range drinks {
		m.drinks.WithLabelValues(d.name)
	}
	for _, r := range []string{reasonCancel, reasonTimeout, reasonStop, reasonCrash} {
		m.refunds.WithLabelValues(r)
		m.refundedMoney.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) served(drink string, price int) {
	if m == nil {
		return
	}
	m.drinks.WithLabelValues(drink).Inc()
	m.moneyTaken.Add(float64(price))
}

// refunded counts a payment given back; a cancel before any coin gives back
// nothing and is not a refund.
func (m *Metrics) refunded(reason string, amount int) {
	if m == nil || amount <= 0 {
		return
	}
	m.refunds.WithLabelValues(reason).Inc()
	m.refundedMoney.WithLabelValues(reason).Add(float64(amount))
}

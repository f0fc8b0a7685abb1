package sup

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Reporter receives what the book's SASL logged as progress, supervisor and
// crash reports. Calls come from supervisor goroutines and from exiting
// children; they must not block.
type Reporter interface {
	// ChildStarted: a child started (a progress report).
	ChildStarted(sup, child string, dynamic bool)
	// ChildExited: a child ended; an abnormal reason is a crash report.
	ChildExited(sup, child string, dynamic bool, reason error)
	// ChildRestarted: a child was restarted; inWindow restarts happened
	// within the intensity period, out of maxRestarts allowed.
	ChildRestarted(sup, child string, inWindow, maxRestarts int)
	// RestartStorm: the supervisor entered (active) or left a restart storm,
	// restarting faster than half its intensity allows.
	RestartStorm(sup string, active bool)
	// Abandoned: children that ignored their shutdown time were left behind.
	Abandoned(sup, child string, count int, after time.Duration)
	// GaveUp: the supervisor exceeded its intensity and is stopping.
	GaveUp(sup string, reason error)
}

// Metrics are the supervision counters, shared by every supervisor of a
// service so that they survive restarts.
type Metrics struct {
	starts    *prometheus.CounterVec
	exits     *prometheus.CounterVec
	restarts  *prometheus.CounterVec
	giveUps   *prometheus.CounterVec
	abandoned *prometheus.CounterVec
}

// NewMetrics registers the supervision metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_supervisor_child_starts_total", Help: "Children started, restarts included.",
		}, []string{"supervisor", "child"}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_supervisor_child_exits_total", Help: "Children that ended, by normal or abnormal exit.",
		}, []string{"supervisor", "child", "exit"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_supervisor_restarts_total", Help: "Children restarted by their supervisor.",
		}, []string{"supervisor", "child"}),
		giveUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_supervisor_give_ups_total", Help: "Supervisors that exceeded their restart intensity.",
		}, []string{"supervisor"}),
		abandoned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_supervisor_abandoned_total", Help: "Children abandoned after ignoring their shutdown time.",
		}, []string{"supervisor", "child"}),
	}
	reg.MustRegister(m.starts, m.exits, m.restarts, m.giveUps, m.abandoned)
	return m
}

// Init creates the zero series of a supervisor's children, so dashboards
// see 0 rather than nothing before the first restart.
func (m *Metrics) Init(sup string, children ...string) {
	if m == nil {
		return
	}
	m.giveUps.WithLabelValues(sup)
	for _, c := range children {
		m.starts.WithLabelValues(sup, c)
		m.exits.WithLabelValues(sup, c, "normal")
		m.exits.WithLabelValues(sup, c, "abnormal")
		m.restarts.WithLabelValues(sup, c)
		m.abandoned.WithLabelValues(sup, c)
	}
}

// LogReporter reports to zerolog and to Metrics (either may be zero/nil).
// Starts and normal exits of dynamic children are logged at debug level
// only: with a million phones they are traffic, not news.
type LogReporter struct {
	Log     zerolog.Logger
	Metrics *Metrics
	// OnStorm, when set, is told about restart storms (the service raises
	// the restart_storm alarm with it).
	OnStorm func(sup string, active bool)
}

func (r *LogReporter) ChildStarted(sup, child string, dynamic bool) {
	if r.Metrics != nil {
		r.Metrics.starts.WithLabelValues(sup, child).Inc()
	}
	ev := r.Log.Info()
	if dynamic {
		ev = r.Log.Debug()
	}
	ev.Str("report", "progress").Str("supervisor", sup).Str("child", child).Msg("child started")
}

func (r *LogReporter) ChildExited(sup, child string, dynamic bool, reason error) {
	normal := IsNormal(reason)
	if r.Metrics != nil {
		kind := "abnormal"
		if normal {
			kind = "normal"
		}
		r.Metrics.exits.WithLabelValues(sup, child, kind).Inc()
	}
	if normal {
		ev := r.Log.Info()
		if dynamic {
			ev = r.Log.Debug()
		}
		ev.Str("report", "progress").Str("supervisor", sup).Str("child", child).Msg("child stopped")
		return
	}
	ev := r.Log.Error().Str("report", "crash").Str("supervisor", sup).Str("child", child).Err(reason)
	if p, ok := reason.(*PanicError); ok {
		ev = ev.Bytes("stack", p.Stack)
	}
	ev.Msg("child crashed")
}

func (r *LogReporter) ChildRestarted(sup, child string, inWindow, maxRestarts int) {
	if r.Metrics != nil {
		r.Metrics.restarts.WithLabelValues(sup, child).Inc()
	}
	r.Log.Warn().Str("report", "supervisor").Str("supervisor", sup).Str("child", child).
		Int("restarts_in_window", inWindow).Int("max_restarts", maxRestarts).Msg("child restarted")
}

func (r *LogReporter) RestartStorm(sup string, active bool) {
	r.Log.Warn().Str("report", "supervisor").Str("supervisor", sup).Bool("active", active).Msg("restart storm")
	if r.OnStorm != nil {
		r.OnStorm(sup, active)
	}
}

func (r *LogReporter) Abandoned(sup, child string, count int, after time.Duration) {
	if r.Metrics != nil {
		r.Metrics.abandoned.WithLabelValues(sup, child).Add(float64(count))
	}
	r.Log.Error().Str("report", "supervisor").Str("supervisor", sup).Str("child", child).
		Int("count", count).Dur("shutdown", after).Msg("child ignored its shutdown time and was abandoned")
}

func (r *LogReporter) GaveUp(sup string, reason error) {
	if r.Metrics != nil {
		r.Metrics.giveUps.WithLabelValues(sup).Inc()
	}
	r.Log.Error().Str("report", "supervisor").Str("supervisor", sup).Err(reason).Msg("supervisor gave up")
}

// nopReporter is the Reporter of a Spec that names none.
type nopReporter struct{}

func (nopReporter) ChildStarted(string, string, bool)            {}
func (nopReporter) ChildExited(string, string, bool, error)      {}
func (nopReporter) ChildRestarted(string, string, int, int)      {}
func (nopReporter) RestartStorm(string, bool)                    {}
func (nopReporter) Abandoned(string, string, int, time.Duration) {}
func (nopReporter) GaveUp(string, error)                         {}

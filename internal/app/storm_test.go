package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// One restart_storm alarm stands for every supervisor in a storm: raised by
// the first, cleared by the last.
func TestStormsShareOneAlarm(t *testing.T) {
	type step struct {
		sup    string
		active bool
	}
	for name, steps := range map[string][]step{
		"the raiser leaves last": {{"bsc", true}, {"phones", true}, {"bsc", false}, {"bsc", true}, {"phones", false}, {"bsc", false}, {"coffee", false}},
		// The clear names the source the alarm was raised under, or it
		// would clear nothing (an alarm is its id and its source).
		"another leaves last": {{"bsc", true}, {"phones", true}, {"bsc", false}, {"phones", false}},
	} {
		t.Run(name, func(t *testing.T) {
			var s storms
			var got []string
			notify := func(e overload.Event) { got = append(got, e.Key()+"/"+e.Source) }
			for _, st := range steps {
				s.report(st.sup, st.active, notify)
			}
			want := []string{"set_alarm:restart_storm/bsc", "clear_alarm:restart_storm/bsc"}
			if !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
		})
	}
}

// crashOverload crashes the running overload manager and returns its
// successor once the supervisor started it.
func crashOverload(t *testing.T, a *App) *overload.Manager {
	t.Helper()
	old, err := a.overloadManager()
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Process("overload")
	if err != nil {
		t.Fatal(err)
	}
	p.(interface{ Crash() }).Crash()
	var next *overload.Manager
	testutil.Eventually(t, waitLimit, "a new overload manager", func() bool {
		next, _ = a.overloadManager()
		return next != old
	})
	return next
}

func activeIDs(t *testing.T, m *overload.Manager) string {
	t.Helper()
	active, err := m.ActiveAlarms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, al := range active {
		ids = append(ids, al.ID+"/"+al.Source)
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// TestAppAlarmsOutliveOverload: the alarms the App raises itself are up on
// a restarted overload manager, once each, even when overload's own crashes
// cause the restart storm, which bsc reports while overload is down.
func TestAppAlarmsOutliveOverload(t *testing.T) {
	a := newTestApp(t, nil)
	a.overloaded.quiet = time.Hour // overloaded stays up for the whole test
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.shed()

	m := crashOverload(t, a) // bsc's first restart: no storm yet
	if got := activeIDs(t, m); got != "overloaded/load regulation" {
		t.Fatalf("active alarms after a restart %q, want overloaded only", got)
	}

	m = crashOverload(t, a) // the second within the hour: a storm
	if got := activeIDs(t, m); got != "overloaded/load regulation,restart_storm/bsc" {
		t.Fatalf("active alarms after the storm began %q, want overloaded and restart_storm from bsc", got)
	}
	counted, err := m.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counted["set_alarm:restart_storm"] != 1 || counted["set_alarm:overloaded"] != 1 {
		t.Errorf("counters %v, want each alarm raised once on the new manager", counted)
	}
}

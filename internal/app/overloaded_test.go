package app

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// The overloaded alarm is raised once while requests are shed and cleared
// after a quiet period.
func TestOverloadAlarmRaisesOnceAndClears(t *testing.T) {
	var mu sync.Mutex
	var got []overload.Kind
	var sources []string
	o := &overloadAlarm{quiet: 200 * time.Millisecond, notify: func(e overload.Event) {
		mu.Lock()
		got, sources = append(got, e.Kind), append(sources, e.Source)
		mu.Unlock()
	}}
	defer o.stop()
	for i := 0; i < 100; i++ {
		o.shed("test")
	}
	events := func() []overload.Kind {
		mu.Lock()
		defer mu.Unlock()
		return append([]overload.Kind(nil), got...)
	}
	testutil.Eventually(t, 5*time.Second, "the alarm cleared", func() bool { return len(events()) == 2 })
	if e := events(); e[0] != overload.SetAlarm || e[1] != overload.ClearAlarm {
		t.Fatalf("events %v, want one set then one clear", e)
	}
	mu.Lock()
	if !slices.Equal(sources, []string{"test", "test"}) { // an alarm is its id and its source
		t.Errorf("sources %v, want the clear under the raise's", sources)
	}
	mu.Unlock()
	o.shed("test")
	testutil.Eventually(t, 5*time.Second, "raised and cleared again", func() bool { return len(events()) == 4 })
}

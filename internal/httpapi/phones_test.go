package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/phonefsm"
)

// fakePhones records what the routes ask of the phone layer and answers
// actErr to every action.
type fakePhones struct {
	mu     sync.Mutex
	specs  []hw.DeviceSpec
	actErr error
}

func (f *fakePhones) Attach(_ context.Context, m hlr.MSISDN, spec hw.DeviceSpec, _ int) (phonefsm.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, spec)
	return phonefsm.Status{MSISDN: m, State: "idle", Since: time.Now()}, nil
}

func (f *fakePhones) Act(_ context.Context, m hlr.MSISDN, _ phonefsm.Action, _ hlr.MSISDN) (phonefsm.Status, phonefsm.Commit, error) {
	return phonefsm.Status{MSISDN: m, State: "idle", Since: time.Now()}, phonefsm.Commit{}, f.actErr
}

func (f *fakePhones) Detach(context.Context, hlr.MSISDN) (phonefsm.Commit, error) {
	return phonefsm.Commit{}, nil
}

// TestReleasesAreNeverShed: a hangup or a reject releases a call, so they
// pass a full in-flight limit, and so do detaches; a call, an accept and
// an attach take resources and are shed.
func TestReleasesAreNeverShed(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock()
	phones := &fakePhones{}
	h := httpapi.NewWithRoutes(httpapi.Deps{MaxInflight: 1, Phones: phones}, func(r chi.Router) {
		r.Get("/test/block", func(http.ResponseWriter, *http.Request) {
			entered <- struct{}{}
			<-release
		})
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, h, request{path: "/test/block"})
	}()
	<-entered // the only slot is taken

	json := map[string]string{"Content-Type": "application/json"}
	for _, action := range []string{"hangup", "reject"} {
		if res := do(t, h, request{method: "POST", path: "/api/v1/phones/123/actions", body: `{"action":"` + action + `"}`, header: json}); res.StatusCode != http.StatusOK {
			t.Errorf("%s while full: %d, want 200", action, res.StatusCode)
		}
	}
	for _, body := range []string{`{"action":"call","to":"124"}`, `{"action":"accept"}`} {
		problemOf(t, do(t, h, request{method: "POST", path: "/api/v1/phones/123/actions", body: body, header: json}),
			http.StatusServiceUnavailable, "overloaded")
	}
	if res := do(t, h, request{method: "DELETE", path: "/api/v1/phones/123"}); res.StatusCode != http.StatusNoContent {
		t.Errorf("detach while full: %d, want 204", res.StatusCode)
	}
	problemOf(t, do(t, h, request{method: "POST", path: "/api/v1/phones", body: `{"msisdn":"123"}`, header: json}),
		http.StatusServiceUnavailable, "overloaded")
	unblock()
	<-done

	// The phone layer's own shedding is a 503 with Retry-After too.
	phones.actErr = phonefsm.ErrOverloaded
	res := do(t, h, request{method: "POST", path: "/api/v1/phones/123/actions", body: `{"action":"call","to":"124"}`, header: json})
	if res.Header.Get("Retry-After") == "" {
		t.Error("overloaded action without Retry-After")
	}
	problemOf(t, res, http.StatusServiceUnavailable, "overloaded")
}

// TestAttachDeviceSpec: the device of an attach request reaches the phone
// layer with the book's values for what it leaves out.
func TestAttachDeviceSpec(t *testing.T) {
	phones := &fakePhones{}
	h := httpapi.New(httpapi.Deps{Phones: phones})
	custom := hw.DefaultAutoPolicy()
	custom.AnswerDelay = [2]time.Duration{5 * time.Millisecond, 10 * time.Millisecond}
	custom.AcceptProbability = 1
	def := hw.DefaultAutoPolicy()
	tests := []struct {
		device string
		want   hw.DeviceSpec
	}{
		{``, hw.DeviceSpec{}},
		{`,"device":{"mode":"manual"}`, hw.DeviceSpec{}},
		{`,"device":{"mode":"auto"}`, hw.DeviceSpec{Auto: &def}},
		{`,"device":{"mode":"auto","answer_delay_ms":[5,10],"accept_probability":1,"seed":3}`, hw.DeviceSpec{Auto: &custom, Seed: 3}},
	}
	for _, tt := range tests {
		res := do(t, h, request{method: "POST", path: "/api/v1/phones", body: `{"msisdn":"123"` + tt.device + `}`})
		if res.StatusCode != http.StatusCreated || res.Header.Get("Location") != "/api/v1/phones/123" {
			t.Fatalf("attach with %s: %d %s", tt.device, res.StatusCode, readBody(t, res))
		}
		got := phones.specs[len(phones.specs)-1]
		if (got.Auto == nil) != (tt.want.Auto == nil) || got.Auto != nil && *got.Auto != *tt.want.Auto || got.Seed != tt.want.Seed {
			t.Errorf("attach with %s: spec %+v (auto %+v), want %+v (auto %+v)", tt.device, got, got.Auto, tt.want, tt.want.Auto)
		}
	}
}

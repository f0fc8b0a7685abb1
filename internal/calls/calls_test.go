package calls

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
)

func TestOutcomeNames(t *testing.T) {
	names := map[Outcome]string{Answered: "answered", Rejected: "rejected", Busy: "busy",
		NoFrequency: "no_frequency", Cancelled: "cancelled", Dropped: "dropped"}
	for o, name := range names {
		if o.String() != name {
			t.Errorf("%d.String() = %q, want %q", uint8(o), o.String(), name)
		}
		b, err := json.Marshal(o)
		if err != nil || string(b) != `"`+name+`"` {
			t.Errorf("json of %s = %s, %v", name, b, err)
		}
		var back Outcome
		if err := json.Unmarshal(b, &back); err != nil || back != o {
			t.Errorf("json %s read back as %v, %v", b, back, err)
		}
		if p, ok := ParseOutcome(name); !ok || p != o {
			t.Errorf("ParseOutcome(%q) = %v, %v", name, p, ok)
		}
	}
	for _, bad := range []string{"", "Answered", "hangup"} {
		if _, ok := ParseOutcome(bad); ok {
			t.Errorf("ParseOutcome(%q) accepted", bad)
		}
		var o Outcome
		if err := json.Unmarshal([]byte(`"`+bad+`"`), &o); !errors.Is(err, ErrInvalid) {
			t.Errorf("json %q: err %v, want ErrInvalid", bad, err)
		}
	}
	for _, o := range []Outcome{0, 7} {
		if _, err := json.Marshal(o); err == nil {
			t.Errorf("outcome %d marshalled", uint8(o))
		}
	}
}

func TestRecordJSON(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		rec  Record
		want string
	}{
		{"answered", Record{ID: 7, Caller: msisdn("123"), Callee: msisdn("124"), Frequency: 10, Outcome: Answered, EndedBy: "caller",
			SetupAt: at, AnsweredAt: at.Add(time.Second), EndedAt: at.Add(2 * time.Second)},
			`{"id":7,"caller":"123","callee":"124","frequency":10,"outcome":"answered","ended_by":"caller",` +
				`"setup_at":"2025-01-02T03:04:05Z","answered_at":"2025-01-02T03:04:06Z","ended_at":"2025-01-02T03:04:07Z"}`},
		{"no frequency, never answered", Record{ID: 8, Caller: msisdn("125"), Callee: msisdn("123"), Outcome: Busy, EndedBy: "callee",
			SetupAt: at, EndedAt: at},
			`{"id":8,"caller":"125","callee":"123","outcome":"busy","ended_by":"callee",` +
				`"setup_at":"2025-01-02T03:04:05Z","ended_at":"2025-01-02T03:04:05Z"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.rec)
			if err != nil || string(b) != c.want {
				t.Fatalf("got %s, %v\nwant %s", b, err, c.want)
			}
			var back Record
			if err := json.Unmarshal(b, &back); err != nil || back != c.rec {
				t.Fatalf("read back %+v, %v", back, err)
			}
		})
	}
}

func TestErrorCodes(t *testing.T) {
	for err, code := range map[error]string{ErrNotFound: "not_found", ErrOverloaded: "overloaded",
		ErrClosed: "unavailable", ErrInvalid: "invalid_request", ErrLost: "internal"} {
		if got := errcode.Of(err).String(); got != code {
			t.Errorf("%v: code %q, want %q", err, got, code)
		}
	}
}

package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/phonefsm"
)

// The request decoders take any bytes a client sends: none may panic, and
// each either accepts a request that is valid or refuses it with one of
// the codes api.md gives bad input.

func fuzzRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func wantInputCode(t *testing.T, err error, body string) {
	t.Helper()
	switch code := errcode.Of(err); code {
	case errcode.InvalidRequest, errcode.InvalidMSISDN:
	default:
		t.Fatalf("body %q: error %v has code %q, want invalid_request or invalid_msisdn", body, err, code)
	}
}

func FuzzDecodeAction(f *testing.F) {
	for _, seed := range []string{
		`{"action":"call","to":"124"}`, `{"action":"accept"}`, `{"action":"reject"}`, `{"action":"hangup"}`,
		`{"action":"call"}`, `{"action":"call","to":"12a"}`, `{"action":"call","to":""}`,
		`{"action":"call","to":"1234567890123456"}`, `{"action":"accept","to":"124"}`, `{"action":"dance"}`,
		`{"action":"call","to":124}`, `{"action":"hangup","extra":true}`, `{}`, `null`, `[]`, ``, `{"action":`,
		`{"action":"call","to":"\u0031\u0032"}`, `{"action":"accept"} {}`, `{"action":"call","to":null}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		act, err := httpapi.DecodeAction(fuzzRequest(body))
		if err != nil {
			wantInputCode(t, err, body)
			return
		}
		if act.Action < phonefsm.ActCall || act.Action > phonefsm.ActHangup {
			t.Fatalf("body %q: accepted action %d", body, act.Action)
		}
		if isCall := act.Action == phonefsm.ActCall; isCall != (act.To != 0) || act.To != 0 && !act.To.Valid() {
			t.Fatalf("body %q: accepted %s with to %#x", body, act.Action, uint64(act.To))
		}
		// What was accepted reads back the same from its canonical form.
		req := httpapi.ActionRequest{Action: act.Action.String()}
		if act.To != 0 {
			to := act.To.String()
			req.To = &to
		}
		canon, _ := json.Marshal(req)
		again, err := httpapi.DecodeAction(fuzzRequest(string(canon)))
		if err != nil || again != act {
			t.Fatalf("body %q: accepted %+v, but its canonical form %s reads as %+v, %v", body, act, canon, again, err)
		}
	})
}

func FuzzDecodeSubscriber(f *testing.F) {
	for _, seed := range []string{
		`{"msisdn":"123"}`, `{"msisdn":"123","imsi":"001010000000001"}`, `{"msisdn":"0123"}`,
		`{"msisdn":"123456789012345"}`, `{"msisdn":"1234567890123456"}`, `{"msisdn":""}`, `{"msisdn":123}`,
		`{"msisdn":"+123"}`, `{"msisdn":"١٢٣"}`, `{"imsi":"001010000000001"}`, `{"msisdn":"123","name":"x"}`,
		`{}`, `null`, ``, `{"msisdn":"12"}x`, `{"msisdn":"\u0030"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sub, err := httpapi.DecodeSubscriber(fuzzRequest(body))
		if err != nil {
			wantInputCode(t, err, body)
			return
		}
		if !sub.MSISDN.Valid() {
			t.Fatalf("body %q: accepted MSISDN %#x", body, uint64(sub.MSISDN))
		}
		m, err := hlr.ParseMSISDN(sub.MSISDN.String())
		if err != nil || m != sub.MSISDN {
			t.Fatalf("body %q: accepted MSISDN %s does not read back: %v", body, sub.MSISDN, err)
		}
		req := httpapi.SubscriberRequest{MSISDN: sub.MSISDN.String()}
		if sub.IMSI != "" {
			req.IMSI = &sub.IMSI
		}
		canon, _ := json.Marshal(req)
		again, err := httpapi.DecodeSubscriber(fuzzRequest(string(canon)))
		if err != nil || again != sub {
			t.Fatalf("body %q: accepted %+v, but its canonical form %s reads as %+v, %v", body, sub, canon, again, err)
		}
	})
}

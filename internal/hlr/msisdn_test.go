package hlr

import (
	"cmp"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
)

func TestParseMSISDN(t *testing.T) {
	cases := []struct {
		name, in string
		why      string // part of the error message; "" = valid
	}{
		{"one digit", "7", ""},
		{"zero", "0", ""},
		{"book number", "123", ""},
		{"leading zero", "0123", ""},
		{"all zeros", "000000000000000", ""},
		{"fifteen digits", "999999999999999", ""},
		{"fifteen with zeros", "100000000000000", ""},
		{"empty", "", "empty"},
		{"sixteen digits", "1234567890123456", "16 bytes long"},
		{"letter", "12a4", "byte 3 is not a digit"},
		{"leading space", " 123", "byte 1 is not a digit"},
		{"trailing space", "123 ", "byte 4 is not a digit"},
		{"plus sign", "+4412", "byte 1 is not a digit"},
		{"minus sign", "-1", "byte 1 is not a digit"},
		{"arabic-indic digits", "١٢٣", "byte 1 is not a digit"},
		{"fullwidth digit", "12３", "byte 3 is not a digit"},
		{"long unicode", "١٢٣٤٥٦٧٨", "16 bytes long"},
		{"nul", "12\x00", "byte 3 is not a digit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseMSISDN(c.in)
			if c.why != "" {
				if errcode.Of(err) != errcode.InvalidMSISDN || !strings.Contains(err.Error(), c.why) {
					t.Fatalf("ParseMSISDN(%q) = %v, %v; want invalid_msisdn saying %q", c.in, m, err, c.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMSISDN(%q): %v", c.in, err)
			}
			if !m.Valid() || m.String() != c.in {
				t.Fatalf("ParseMSISDN(%q) = %#x, String %q, Valid %v", c.in, uint64(m), m, m.Valid())
			}
		})
	}
}

func TestMSISDNLeadingZerosAreDistinct(t *testing.T) {
	seen := map[MSISDN]string{}
	for _, s := range []string{"0", "00", "000", "1", "01", "001", "10", "100", "123", "0123", "00123", "1230"} {
		m := msisdn(t, s)
		if other, dup := seen[m]; dup {
			t.Fatalf("%q and %q are the same MSISDN %#x", s, other, uint64(m))
		}
		seen[m] = s
	}
}

// TestMSISDNOrderIsStringOrder is what lets the registry and SQLite page
// with the same cursor.
func TestMSISDNOrderIsStringOrder(t *testing.T) {
	strs := []string{"2", "1", "10", "0", "00", "09", "100", "100000000000000", "999999999999999", "0123", "123", "1230", "12"}
	ms := make([]MSISDN, len(strs))
	for i, s := range strs {
		ms[i] = msisdn(t, s)
	}
	slices.Sort(strs)
	slices.Sort(ms)
	for i := range strs {
		if ms[i].String() != strs[i] {
			t.Fatalf("position %d: MSISDN order has %q, string order %q", i, ms[i], strs[i])
		}
	}
}

func TestMSISDNInvalidValues(t *testing.T) {
	cases := []struct {
		name string
		m    MSISDN
	}{
		{"zero", 0},
		{"no length", MSISDN(5 << lenBits)},
		{"digits below the length", MSISDN(1<<lenBits | 3)}, // "0000…1" padded is not a multiple of 10^12
		{"too many digits", MSISDN(pow10[maxDigits]<<lenBits | 15)},
	}
	for _, c := range cases {
		if c.m.Valid() {
			t.Errorf("%s: %#x is valid", c.name, uint64(c.m))
		}
		if _, err := json.Marshal(c.m); err == nil {
			t.Errorf("%s: %#x marshals", c.name, uint64(c.m))
		}
	}
	if MSISDN(0).String() != "" {
		t.Errorf("zero MSISDN prints %q", MSISDN(0))
	}
}

func TestMSISDNJSON(t *testing.T) {
	type doc struct {
		M    MSISDN `json:"m"`
		Peer MSISDN `json:"peer,omitempty"`
	}
	b, err := json.Marshal(doc{M: msisdn(t, "0123")})
	if err != nil || string(b) != `{"m":"0123"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	cases := []struct {
		in   string
		want string // String of the result; "" = error invalid_msisdn
	}{
		{`{"m":"0123"}`, "0123"},
		{`{"m":"\u0031\u0032"}`, "12"},
		{`{"m":null}`, ""},
		{`{"m":123}`, "!"},
		{`{"m":""}`, "!"},
		{`{"m":"12 3"}`, "!"},
		{`{"m":"1234567890123456"}`, "!"},
		{`{"m":true}`, "!"},
	}
	for _, c := range cases {
		var d doc
		err := json.Unmarshal([]byte(c.in), &d)
		if c.want == "!" {
			if errcode.Of(err) != errcode.InvalidMSISDN {
				t.Errorf("Unmarshal(%s) = %v, want invalid_msisdn", c.in, err)
			}
			continue
		}
		if err != nil || d.M.String() != c.want {
			t.Errorf("Unmarshal(%s) = %q, %v; want %q", c.in, d.M, err, c.want)
		}
	}
}

var msisdnPattern = regexp.MustCompile(`^[0-9]{1,15}$`)

func FuzzParseMSISDN(f *testing.F) {
	for _, s := range []string{"", "0", "0123", "123", "999999999999999", "1234567890123456", "+1", " 1", "١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMSISDN(s)
		if valid := msisdnPattern.MatchString(s); valid != (err == nil) {
			t.Fatalf("ParseMSISDN(%q) error %v, but the pattern says valid=%v", s, err, valid)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidMSISDN) {
				t.Fatalf("ParseMSISDN(%q) error %v is not ErrInvalidMSISDN", s, err)
			}
			return
		}
		if !m.Valid() || m.String() != s {
			t.Fatalf("ParseMSISDN(%q) round trips to %q (valid %v)", s, m, m.Valid())
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back MSISDN
		if err := json.Unmarshal(b, &back); err != nil || back != m {
			t.Fatalf("JSON %s round trips to %#x, %v; want %#x", b, uint64(back), err, uint64(m))
		}
	})
}

func FuzzMSISDNOrder(f *testing.F) {
	f.Add("1", "10")
	f.Add("0123", "123")
	f.Add("09", "1")
	f.Fuzz(func(t *testing.T, a, b string) {
		ma, errA := ParseMSISDN(a)
		mb, errB := ParseMSISDN(b)
		if errA != nil || errB != nil {
			return
		}
		if got, want := cmp.Compare(ma, mb), strings.Compare(a, b); got != want {
			t.Fatalf("%q vs %q: MSISDNs compare %d, strings %d", a, b, got, want)
		}
	})
}

package hlr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// MSISDN is a subscriber number of 1 to 15 decimal digits packed into one
// word, so that the maps keyed by it hold 8 bytes and no pointer (nothing
// for the garbage collector to scan) instead of a string header and its
// bytes.
//
// The low 4 bits are the number of digits, which keeps "0123" and "123"
// apart. Above them are the digits right-padded with zeros to 15: that
// makes the order of MSISDNs as integers the byte order of their strings,
// the order SQLite sorts the msisdn column in, so a page cursor means the
// same in the registry and in the database.
//
// The zero MSISDN has no digits. It is not a number: it means "none"
// (omitempty drops it) and, as a cursor, "from the start".
type MSISDN uint64

const (
	maxDigits = 15
	lenBits   = 4
	lenMask   = 1<<lenBits - 1
)

var pow10 = [maxDigits + 1]uint64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
}

// ParseMSISDN reads 1 to 15 ASCII digits. Anything else, signs, spaces and
// non-ASCII digits included, is ErrInvalidMSISDN with the reason.
func ParseMSISDN(s string) (MSISDN, error) { return parseMSISDN(s) }

// parseMSISDN also takes bytes, so that loading a million rows and decoding
// JSON do not copy each number into a string first.
func parseMSISDN[S string | []byte](s S) (MSISDN, error) {
	switch {
	case len(s) == 0:
		return 0, fmt.Errorf("%w: empty, want 1 to %d digits", ErrInvalidMSISDN, maxDigits)
	case len(s) > maxDigits:
		// Not quoted: the input may be arbitrarily long.
		return 0, fmt.Errorf("%w: %d bytes long, want 1 to %d digits", ErrInvalidMSISDN, len(s), maxDigits)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q: byte %d is not a digit 0-9", ErrInvalidMSISDN, s, i+1)
		}
		v = v*10 + uint64(c-'0')
	}
	return MSISDN(v*pow10[maxDigits-len(s)]<<lenBits | uint64(len(s))), nil
}

// Valid reports whether m is a number ParseMSISDN could have returned.
func (m MSISDN) Valid() bool {
	n := int(m & lenMask)
	padded := uint64(m) >> lenBits
	return n >= 1 && n <= maxDigits && padded < pow10[maxDigits] && padded%pow10[maxDigits-n] == 0
}

// String is the number's digits, "" for the zero MSISDN.
func (m MSISDN) String() string {
	switch {
	case m == 0:
		return ""
	case !m.Valid():
		return "invalid-msisdn-" + strconv.FormatUint(uint64(m), 16)
	}
	var buf [maxDigits]byte
	return string(m.appendDigits(buf[:0]))
}

// appendDigits appends the digits of a valid m.
func (m MSISDN) appendDigits(b []byte) []byte {
	n := int(m & lenMask)
	v := uint64(m) >> lenBits / pow10[maxDigits-n]
	start := len(b)
	b = append(b, "000000000000000"[:n]...)
	for i := len(b) - 1; i >= start && v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// MarshalJSON writes m as a JSON string: as a number it would lose its
// leading zeros. The zero or an invalid MSISDN is an error; use omitempty
// (or a pointer) for "none".
func (m MSISDN) MarshalJSON() ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("%w: %#x cannot be encoded", ErrInvalidMSISDN, uint64(m))
	}
	b := make([]byte, 0, maxDigits+2)
	b = append(b, '"')
	b = m.appendDigits(b)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a JSON string of digits. A JSON number is refused (it
// cannot carry leading zeros); null leaves m unchanged, as encoding/json
// does for other types.
func (m *MSISDN) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("%w: want a JSON string of digits", ErrInvalidMSISDN)
	}
	digits := b[1 : len(b)-1]
	if bytes.IndexByte(digits, '\\') >= 0 {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidMSISDN, err)
		}
		digits = []byte(s)
	}
	v, err := parseMSISDN(digits)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

package config

import "testing"

func TestWarnings(t *testing.T) {
	cases := []struct {
		listen, token string
		warn          bool
	}{
		{"127.0.0.1:8080", "", false},
		{"localhost:8080", "", false},
		{"[::1]:8080", "", false},
		{"0.0.0.0:8080", "", true},
		{":8080", "", true},
		{"[::]:8080", "", true},
		{"10.1.2.3:8080", "", true},
		{"0.0.0.0:8080", "secret", false},
	}
	for _, tc := range cases {
		c := Default()
		c.Listen, c.APIToken = tc.listen, tc.token
		if got := len(c.Warnings()) > 0; got != tc.warn {
			t.Errorf("listen %s token %q: warnings %v, want a warning: %v", tc.listen, tc.token, c.Warnings(), tc.warn)
		}
	}
}

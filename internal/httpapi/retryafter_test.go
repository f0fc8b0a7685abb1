package httpapi

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// TestRetryAfterSpreadsRetries: a 503's Retry-After is 1 or 2 seconds,
// drawn, so that the clients shed in one burst do not all come back in
// one; a connection refused past the bound says the same.
func TestRetryAfterSpreadsRetries(t *testing.T) {
	seen := map[string]int{}
	for range 200 {
		w := httptest.NewRecorder()
		writeProblem(w, newProblem(errcode.Overloaded, "shed"))
		seen[w.Header().Get("Retry-After")]++
	}
	if len(seen) != 2 || seen["1"] == 0 || seen["2"] == 0 {
		t.Errorf("Retry-After over 200 sheds: %v, want both 1 and 2", seen)
	}
	for _, r := range refusals {
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(r)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if after := res.Header.Get("Retry-After"); after != "1" && after != "2" {
			t.Errorf("a refused connection's Retry-After %q", after)
		}
	}
}

// A forwarded request is refused for room with a 503 and a drawn
// Retry-After, as any shed; one that does not parse is a 400, which
// retrying does not mend: no Retry-After.
func TestForwardedRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer []byte
		status int
		after  []string
	}{
		{"no room", RefuseForwarded(nil), http.StatusServiceUnavailable, []string{"1", "2"}},
		{"does not parse", New(Deps{}).ServeForwarded(t.Context(), []byte("not http")), http.StatusBadRequest, []string{""}},
	} {
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(c.answer)), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.StatusCode != c.status || res.Header.Get("Content-Type") != "application/problem+json" ||
			!slices.Contains(c.after, res.Header.Get("Retry-After")) {
			t.Errorf("%s: %d %q, Retry-After %q; want %d, one of %q", c.name, res.StatusCode,
				res.Header.Get("Content-Type"), res.Header.Get("Retry-After"), c.status, c.after)
		}
	}
}

package testutil

import (
	"net"
	"testing"
)

// FreeAddrs reserves n loopback addresses with free ports, closed again
// before they are returned: a race with other programs, but a short one,
// and what binds them says so if it loses.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	out, err := ReserveAddrs(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ReserveAddrs is FreeAddrs for a program that is not a test (the bench
// harnesses).
func ReserveAddrs(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

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
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

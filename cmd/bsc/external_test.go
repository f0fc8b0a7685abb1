package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestClusterExternalNATS: two bsc nodes on an existing NATS cluster of
// three servers (--nats-url), holding no engine state of their own, share
// the cells between them and carry a call from a phone of one's cell to a
// phone of the other's, recorded once and listed by both.
func TestClusterExternalNATS(t *testing.T) {
	t.Parallel()
	bin := buildBSC(t)
	urls := startNATSCluster(t, 3)
	clusterSlots <- struct{}{}
	t.Cleanup(func() { <-clusterSlots })
	dir := t.TempDir()
	c := &testCluster{t: t, bin: bin, names: []string{"n1", "n2"}}
	for _, name := range c.names {
		c.nodes = append(c.nodes, startBSC(t, bin, "--node", name, "--db", filepath.Join(dir, name+".db"),
			"--nats-url", strings.Join(urls, ",")))
	}
	t.Cleanup(c.keepLogsIfFailed)
	var owners []string
	testutil.Eventually(t, clusterWait, "every cell served by n1 or n2, the same owners on both", func() bool {
		var views [][]string
		for i, p := range c.nodes {
			if p.do(t, http.MethodGet, "/readyz", nil) != http.StatusOK {
				return false
			}
			v, ok := c.view(i)
			if !ok {
				return false
			}
			views = append(views, v.owners())
		}
		owners = views[0]
		return slices.Equal(views[0], views[1]) && !slices.Contains(owners, "") &&
			slices.Contains(owners, "n1") && slices.Contains(owners, "n2")
	})
	n1, n2 := c.nodes[0], c.nodes[1]
	caller, callee := "4400001", "4400002"
	n2.attach(t, caller, slices.Index(owners, "n1"))
	n2.attach(t, callee, slices.Index(owners, "n2"))
	n2.mustAct(t, caller, "call", callee)
	n1.mustAct(t, callee, "accept", "")
	n2.mustAct(t, caller, "hangup", "")
	for _, p := range c.nodes {
		var recs []record
		testutil.Eventually(t, clusterWait, "the call's record on "+p.url, func() bool {
			recs = p.records(t, caller)
			return len(recs) > 0
		})
		if got := outcomes(recs); !slices.Equal(got, []string{"answered"}) {
			t.Errorf("records on %s: %v, want one answered", p.url, got)
		}
	}
}

// startNATSCluster runs n NATS servers in the test's process, joined by
// routes into one cluster with JetStream (every write synced, as bsc asks
// of an external cluster), and returns their client URLs.
func startNATSCluster(t *testing.T, n int) []string {
	t.Helper()
	addrs := testutil.FreeAddrs(t, 2*n)
	clients, routes := addrs[:n], addrs[n:]
	var routeURLs []*url.URL
	for _, r := range routes {
		routeURLs = append(routeURLs, &url.URL{Scheme: "nats-route", Host: r})
	}
	name := fmt.Sprintf("external-%d", time.Now().UnixNano())
	var urls []string
	for i := range n {
		host, port := splitAddr(t, clients[i])
		rhost, rport := splitAddr(t, routes[i])
		opts := &server.Options{
			ServerName: fmt.Sprintf("s%d", i+1), Host: host, Port: port,
			Cluster:   server.ClusterOpts{Name: name, Host: rhost, Port: rport},
			Routes:    routeURLs,
			JetStream: true, StoreDir: t.TempDir(), SyncAlways: true,
			NoSigs: true, NoLog: true,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("NATS server %s not ready", opts.ServerName)
		}
		urls = append(urls, s.ClientURL())
	}
	return urls
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	port, errPort := strconv.Atoi(p)
	if err != nil || errPort != nil {
		t.Fatalf("address %q: %v %v", addr, err, errPort)
	}
	return host, port
}

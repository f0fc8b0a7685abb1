package cluster

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// Two embedded servers given each other as peers but named for two
// clusters refuse each other's routes: two bsc clusters on one network
// (or a port one of them left and the other was given) stay apart.
func TestEnginesOfTwoClustersStayApart(t *testing.T) {
	ports := testutil.FreeAddrs(t, 2)
	dir := t.TempDir()
	logs := [2]*testutil.LogBuffer{{}, {}}
	var engines [2]*Engine
	for i, name := range []string{"east", "west"} {
		e, err := StartEngine(EngineConfig{Node: "n1", ClusterName: name, ClusterListen: ports[i], Peers: []string{ports[1-i]},
			StoreDir: filepath.Join(dir, name), Log: zerolog.New(logs[i]).Level(zerolog.WarnLevel)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		engines[i] = e
	}
	testutil.Eventually(t, 20*time.Second, "a route refused for its cluster name", func() bool {
		return strings.Contains(logs[0].String()+logs[1].String(), "does not match")
	})
	for i, e := range engines {
		if n := e.srv.NumRoutes(); n != 0 {
			t.Errorf("the %d server has %d routes, want none", i, n)
		}
	}
}

func TestCheckServerVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"2.11.0": true, "2.12.3": true, "2.15.3": true, "3.0.0": true, "2.11.0-beta.1": true,
		"2.10.22": false, "2.9.0": false, "1.4.1": false, "": false, "v2": false,
	} {
		if err := checkServerVersion(v); (err == nil) != ok {
			t.Errorf("%q: %v, want ok %v", v, err, ok)
		}
	}
}

package config

import (
	"strings"
	"testing"
)

func TestClusterFlags(t *testing.T) {
	cases := []struct {
		args []string
		mode Mode
		err  string
	}{
		{nil, Single, ""},
		{[]string{"--node=n1", "--cluster-listen=127.0.0.1:6222", "--cluster-peers=127.0.0.1:6223"}, Embedded, ""},
		{[]string{"--node=n1", "--nats-url=nats://a:4222,nats://b:4222"}, External, ""},
		{[]string{"--cluster-listen=127.0.0.1:6222", "--nats-url=nats://a:4222"}, "", "exclude each other"},
		{[]string{"--cluster-peers=127.0.0.1:6223"}, "", "needs --cluster-listen"},
		{[]string{"--node=n1"}, "", "give --cluster-listen or --nats-url"},
		{[]string{"--node=a.b", "--nats-url=nats://a:4222"}, "", "not a node name"},
		{[]string{"--nats-url=http://a:4222"}, "", "not a nats://host:port URL"},
		{[]string{"--cluster-listen=x", "--node=n1"}, "", "host:port"},
		{[]string{"--cells=0"}, "", "number of cells"},
		{[]string{"--cells=1025"}, "", "number of cells"},
	}
	for _, tc := range cases {
		cfg, err := Load(tc.args, envOf(nil))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one saying %q", tc.args, err, tc.err)
		case tc.err == "" && cfg.Mode() != tc.mode:
			t.Errorf("%q: mode %s, want %s", tc.args, cfg.Mode(), tc.mode)
		}
	}
}

package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Mode is how the service runs: one process (single, the default), or a
// node of a cluster with the NATS server in the process (embedded) or
// beside it (external). docs/cluster.md.
type Mode string

const (
	Single   Mode = "single"
	Embedded Mode = "embedded"
	External Mode = "external"
)

// Mode is the mode the cluster flags ask for.
func (c Config) Mode() Mode {
	switch {
	case c.NATSURL != "":
		return External
	case c.ClusterListen != "":
		return Embedded
	}
	return Single
}

// DefaultCells is --cells' default.
const DefaultCells = 12

// MaxCells bounds --cells: a cell is a supervision tree and a label value.
const MaxCells = 1024

// checkCluster checks what the cluster flags mean together.
func (c Config) checkCluster() error {
	var errs []error
	if c.ClusterListen != "" && c.NATSURL != "" {
		errs = append(errs, errors.New("--cluster-listen (embedded NATS) and --nats-url (external NATS) exclude each other"))
	}
	if c.ClusterPeers != "" && c.ClusterListen == "" {
		errs = append(errs, errors.New("--cluster-peers needs --cluster-listen: the peers are the routes of the embedded NATS server"))
	}
	if c.Mode() == Single && c.Node != DefaultNode() {
		errs = append(errs, errors.New("--node names a cluster node: give --cluster-listen or --nats-url too"))
	}
	return errors.Join(errs...)
}

// DefaultNode is --node's default: the host name, made a valid node name.
func DefaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "bsc"
	}
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, strings.SplitN(h, ".", 2)[0])
	if len(h) > 64 {
		h = h[:64]
	}
	return h
}

// nodeValue is a node name: it goes into NATS subjects and key names.
type nodeValue string

var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// DefaultClusterName names the embedded NATS cluster unless
// --cluster-name does: two clusters on one network (or a test machine
// reusing ports) need different names, or their servers may join.
const DefaultClusterName = "bsc"

func (v *nodeValue) String() string { return string(*v) }
func (v *nodeValue) Type() string   { return "name" }

func (v *nodeValue) Set(s string) error {
	if !nodeName.MatchString(s) {
		return fmt.Errorf("%q is not a node name: 1 to 64 letters, digits, - and _", s)
	}
	*v = nodeValue(s)
	return nil
}

// addrList is a list of host:port addresses.
type addrList string

func (v *addrList) String() string { return string(*v) }
func (v *addrList) Type() string   { return "list" }

func (v *addrList) checkItem(s string) error {
	var a addrValue
	return a.Set(strings.TrimSpace(s))
}

func (v *addrList) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if err := v.checkItem(item); err != nil {
			return err
		}
	}
	*v = addrList(s)
	return nil
}

// urlList is a list of nats:// (or tls://) URLs.
type urlList string

func (v *urlList) String() string { return string(*v) }
func (v *urlList) Type() string   { return "list" }

func (v *urlList) checkItem(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.Scheme != "nats" && u.Scheme != "tls" {
		return fmt.Errorf("%q is not a nats://host:port URL", s)
	}
	return nil
}

func (v *urlList) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if err := v.checkItem(item); err != nil {
			return err
		}
	}
	*v = urlList(s)
	return nil
}

// cellsValue is --cells: 1 to MaxCells.
type cellsValue int

func (v *cellsValue) String() string { return fmt.Sprint(int(*v)) }
func (v *cellsValue) Type() string   { return "int" }

func (v *cellsValue) Set(s string) error {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n < 1 || n > MaxCells || fmt.Sprint(n) != strings.TrimSpace(s) {
		return fmt.Errorf("%q is not a number of cells from 1 to %d", s, MaxCells)
	}
	*v = cellsValue(n)
	return nil
}

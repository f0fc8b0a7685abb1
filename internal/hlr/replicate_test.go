package hlr

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// sharedLog is a log in memory that several nodes' Subscribers write
// through, as the cluster's stream is: a write is taken only at the
// position it was checked at.
type sharedLog struct {
	mu   sync.Mutex
	msgs [][]byte
	// before, if set, runs before a write is taken: another node's write
	// may come first there.
	before func()
}

// nodeLog is one node's view of the shared log.
type nodeLog struct {
	l       *sharedLog
	s       *Subscribers
	applied uint64
}

const testStream = "BSC_SUBSCRIBERS"

func (n *nodeLog) CatchUp(ctx context.Context) (uint64, error) {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	return n.catchUp(ctx)
}

func (n *nodeLog) catchUp(ctx context.Context) (uint64, error) {
	if last := uint64(len(n.l.msgs)); last > n.applied {
		if err := n.s.ApplyLog(ctx, testStream, n.l.msgs[n.applied:], last); err != nil {
			return 0, err
		}
		n.applied = last
	}
	return n.applied, nil
}

func (n *nodeLog) AppendAt(ctx context.Context, data []byte, at uint64) (bool, error) {
	if n.l.before != nil {
		before := n.l.before
		n.l.before = nil
		before()
	}
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	if uint64(len(n.l.msgs)) != at {
		return true, nil
	}
	n.l.msgs = append(n.l.msgs, data)
	_, err := n.catchUp(ctx)
	return false, err
}

// nodes makes k nodes' Subscribers, each with its own database, over one
// shared log.
func nodes(t *testing.T, k int) (*sharedLog, []*Subscribers) {
	t.Helper()
	l := &sharedLog{}
	var out []*Subscribers
	for range k {
		s := newSubs(t, tempDB(t))
		if err := s.ResetLog(context.Background(), testStream, "uid"); err != nil {
			t.Fatal(err)
		}
		s.UseLog(&nodeLog{l: l, s: s})
		out = append(out, s)
	}
	return l, out
}

// A subscriber created on one node is read, listed and deleted on another,
// and attaches there: the log is the table of every node.
func TestLoggedWritesReadOnEveryNode(t *testing.T) {
	ctx := context.Background()
	_, n := nodes(t, 3)
	a, b, c := n[0], n[1], n[2]
	if _, err := a.Create(ctx, Subscriber{MSISDN: msisdn(t, "4670001"), IMSI: "240010000000011"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, msisdn(t, "4670001"))
	if err != nil || got.IMSI != "240010000000011" {
		t.Fatalf("Get on another node: %+v, %v", got, err)
	}
	if err := c.EnsureProvisioned(ctx, msisdn(t, "4670001"), false); err != nil {
		t.Errorf("attach check on a third node: %v", err)
	}
	if created, existing, err := c.CreateBulk(ctx, []Subscriber{{MSISDN: msisdn(t, "4670001")}, {MSISDN: msisdn(t, "4670002")}}); err != nil || created != 1 || existing != 1 {
		t.Errorf("bulk on a third node: created %d existing %d, %v; want 1 1", created, existing, err)
	}
	list, err := a.List(ctx, 0, 10)
	if err != nil || len(list) != 2 {
		t.Errorf("List on the first node: %v, %v; want both", list, err)
	}
	if err := b.Delete(ctx, msisdn(t, "4670002")); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, msisdn(t, "4670002")); !errors.Is(err, ErrUnknownSubscriber) {
		t.Errorf("second delete, on another node: %v, want unknown_subscriber", err)
	}
	if err := c.EnsureProvisioned(ctx, msisdn(t, "4670002"), false); !errors.Is(err, ErrUnknownSubscriber) {
		t.Errorf("attach of a deleted subscriber: %v, want unknown_subscriber", err)
	}
	if err := c.EnsureProvisioned(ctx, msisdn(t, "4670003"), true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, msisdn(t, "4670003")); err != nil {
		t.Errorf("auto-provisioned on a third node, read on the first: %v", err)
	}
	for i, s := range n {
		if _, err := s.repl.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if rows := rowCount(t, s.st); rows != 2 {
			t.Errorf("node %d: %d rows, want 2", i, rows)
		}
	}
}

// Two nodes write what only one may have, each having checked it against
// the log as it read it: the one that logs second is checked again, and
// refused. Nothing of a refused bulk is written on any node.
func TestLoggedWritesUniqueAcrossNodes(t *testing.T) {
	ctx := context.Background()
	ms := func(s string) MSISDN { return msisdn(t, s) }
	tests := []struct {
		name   string
		first  Subscriber // written on node b while node a's write is on its way
		delete bool       // first is deleted on b, having been created before
		write  func(a *Subscribers) error
		code   errcode.Code
		rows   int // on every node after
		wantOK bool
	}{
		{name: "same msisdn", first: Subscriber{MSISDN: ms("4670001")}, write: func(a *Subscribers) error {
			_, err := a.Create(ctx, Subscriber{MSISDN: ms("4670001")})
			return err
		}, code: errcode.AlreadyExists, rows: 1},
		{name: "same imsi", first: Subscriber{MSISDN: ms("4670001"), IMSI: "240010000000011"}, write: func(a *Subscribers) error {
			_, err := a.Create(ctx, Subscriber{MSISDN: ms("4670002"), IMSI: "240010000000011"})
			return err
		}, code: errcode.AlreadyExists, rows: 1},
		{name: "bulk with a taken imsi", first: Subscriber{MSISDN: ms("4670001"), IMSI: "240010000000011"}, write: func(a *Subscribers) error {
			_, _, err := a.CreateBulk(ctx, []Subscriber{{MSISDN: ms("4670005")}, {MSISDN: ms("4670006"), IMSI: "240010000000011"}})
			return err
		}, code: errcode.InvalidRequest, rows: 1},
		{name: "delete of what another deleted meanwhile", first: Subscriber{MSISDN: ms("4670001")}, delete: true, write: func(a *Subscribers) error {
			return a.Delete(ctx, ms("4670001"))
		}, code: errcode.UnknownSubscriber, rows: 0},
		{name: "another msisdn", first: Subscriber{MSISDN: ms("4670001")}, write: func(a *Subscribers) error {
			_, err := a.Create(ctx, Subscriber{MSISDN: ms("4670002")})
			return err
		}, rows: 2, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, n := nodes(t, 2)
			a, b := n[0], n[1]
			if tt.delete {
				if _, err := b.Create(ctx, tt.first); err != nil {
					t.Fatal(err)
				}
			}
			// a checks its write, then b's comes first: a's create finds
			// no conflict and its delete something to delete, unless a
			// checks again.
			l.before = func() {
				var err error
				if tt.delete {
					err = b.Delete(ctx, tt.first.MSISDN)
				} else {
					_, err = b.Create(ctx, tt.first)
				}
				if err != nil {
					t.Error(err)
				}
			}
			err := tt.write(a)
			if tt.wantOK && err != nil {
				t.Fatalf("write: %v", err)
			}
			if !tt.wantOK && errcode.Of(err) != tt.code {
				t.Fatalf("write: %v, want code %s", err, tt.code)
			}
			for i, s := range n {
				if _, err := s.List(ctx, 0, 10); err != nil {
					t.Fatal(err)
				}
				if rows := rowCount(t, s.st); rows != tt.rows {
					t.Errorf("node %d: %d rows, want %d", i, rows, tt.rows)
				}
			}
		})
	}
}

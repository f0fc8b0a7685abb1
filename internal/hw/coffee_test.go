package hw

import (
	"strconv"
	"sync"
	"testing"
)

var _ CoffeeHW = (*CoffeeStub)(nil)

func TestCoffeeStubRecordsCallsInOrder(t *testing.T) {
	s := NewCoffeeStub()
	s.Reboot()
	s.Display("Please pay:150")
	s.ReturnChange(50)
	s.ReturnChange(0)
	s.DropCup()
	s.Prepare("americano")

	want := []HWOp{
		{Seq: 1, Op: "reboot"},
		{Seq: 2, Op: "display", Arg: "Please pay:150"},
		{Seq: 3, Op: "return_change", Arg: "50"},
		{Seq: 4, Op: "return_change", Arg: "0"},
		{Seq: 5, Op: "drop_cup"},
		{Seq: 6, Op: "prepare", Arg: "americano"},
	}
	got := s.Ops()
	if len(got) != len(want) {
		t.Fatalf("got %d ops, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Seq != w.Seq || g.Op != w.Op || g.Arg != w.Arg {
			t.Errorf("op %d = %+v, want %+v", i, g, w)
		}
		if g.At.IsZero() {
			t.Errorf("op %d has no time", i)
		}
	}
}

func TestCoffeeStubOpsIsACopy(t *testing.T) {
	s := NewCoffeeStub()
	s.DropCup()
	ops := s.Ops()
	ops[0].Op = "changed"
	if s.Ops()[0].Op != "drop_cup" {
		t.Fatal("Ops shares its slice with the stub")
	}
}

func TestCoffeeStubKeepsTheLastCalls(t *testing.T) {
	s := NewCoffeeStub()
	const extra = 25
	for i := range CoffeeLogSize + extra {
		s.ReturnChange(i)
	}
	ops := s.Ops()
	if len(ops) != CoffeeLogSize {
		t.Fatalf("kept %d ops, want %d", len(ops), CoffeeLogSize)
	}
	if d := s.Dropped(); d != extra {
		t.Errorf("dropped %d, want %d", d, extra)
	}
	for i, op := range ops {
		if want := uint64(extra + i + 1); op.Seq != want {
			t.Fatalf("op %d has seq %d, want %d", i, op.Seq, want)
		}
		if want := strconv.Itoa(extra + i); op.Arg != want {
			t.Fatalf("op %d has arg %s, want %s", i, op.Arg, want)
		}
	}
}

func TestCoffeeStubConcurrentCalls(t *testing.T) {
	s := NewCoffeeStub()
	const writers, each = 4, 300
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				s.DropCup()
				_ = s.Ops()
			}
		})
	}
	wg.Wait()
	ops := s.Ops()
	if total := uint64(len(ops)) + s.Dropped(); total != writers*each {
		t.Fatalf("kept+dropped = %d, want %d", total, writers*each)
	}
	for i := 1; i < len(ops); i++ {
		if ops[i].Seq != ops[i-1].Seq+1 {
			t.Fatalf("seq %d follows %d", ops[i].Seq, ops[i-1].Seq)
		}
	}
}

package app

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/celllabel"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/phonefsm"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// twoCellNode is an App shaped as a cluster node running cells 0 and 1:
// the bsc tree one_for_one over cell:0 and cell:1, started and stopped by
// the cluster node's own code, without an engine (leases do not come into
// what is measured here).
func twoCellNode(t *testing.T) (*App, *clusterNode) {
	t.Helper()
	a := newTestApp(t, nil)
	ctx := context.Background()
	bsc, err := sup.Start(ctx, clusterSpec(a.reporter), a.topExit(rootName))
	if err != nil {
		t.Fatal(err)
	}
	a.bsc = bsc
	n := &clusterNode{a: a, running: map[int]*cell{}, ctx: ctx}
	n.ex = phonefsm.NewExchange("n1", n, a.phoneMetrics, a.log)
	for _, id := range []int{0, 1} {
		runCell(t, n, id)
	}
	return a, n
}

// runCell starts cell id on n as startCell does.
func runCell(t *testing.T, n *clusterNode, id int) *cell {
	t.Helper()
	c := newCell(n.a, id, 1, "cell:"+strconv.Itoa(id))
	if err := n.a.bsc.AddChild(n.ctx, c.childSpec()); err != nil {
		t.Fatal(err)
	}
	n.running[id] = c
	n.a.addCell(c)
	return c
}

// A node running two cells keeps a series per cell: what happens in cell
// 1 moves cell 1's series only.
func TestPerCellSeries(t *testing.T) {
	a, _ := twoCellNode(t)
	metric := func(name string, labels ...string) float64 {
		v, ok := testutil.Metric(t, a.reg, name, labels...)
		if !ok {
			t.Fatalf("%s%v: no series", name, labels)
		}
		return v
	}
	pool := float64(len(*a.pool.Load()))
	c1, err := a.cell(1)
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := c1.allocator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alloc.Allocate("test", 0); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		cell, state string
		want        float64
	}{{"1", "allocated", 1}, {"1", "free", pool - 1}, {"0", "allocated", 0}, {"0", "free", pool}} {
		if got := metric("bsc_frequencies", "cell", w.cell, "state", w.state); got != w.want {
			t.Errorf(`bsc_frequencies{cell=%q,state=%q} = %v, want %v`, w.cell, w.state, got, w.want)
		}
	}
	if got := metric("bsc_frequency_allocations_total", "cell", "0", "result", "ok"); got != 0 {
		t.Errorf("cell 0's allocations: %v, want 0", got)
	}

	// Emptying cell 1's pool raises no_frequency in cell 1's manager only.
	for range int(pool) - 1 {
		if _, err := alloc.Allocate("test", 0); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "no_frequency active in cell 1", func() bool {
		return metric("bsc_alarm_active", "cell", "1", "alarm", "no_frequency") == 1
	})
	if got := metric("bsc_alarm_active", "cell", "0", "alarm", "no_frequency"); got != 0 {
		t.Errorf("no_frequency in cell 0: %v, want 0", got)
	}

	// A phone attached in cell 1 is counted there.
	m, err := hlr.ParseMSISDN("46700000001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Attach(context.Background(), m, hw.DeviceSpec{}, 1); err != nil {
		t.Fatal(err)
	}
	for cell, want := range map[string]float64{"0": 0, "1": 1} {
		if got := metric("bsc_phones_attached", "cell", cell); got != want {
			t.Errorf(`bsc_phones_attached{cell=%q} = %v, want %v`, cell, got, want)
		}
		if got := metric("bsc_phones", "cell", cell, "state", "idle"); got != want {
			t.Errorf(`bsc_phones{cell=%q,state="idle"} = %v, want %v`, cell, got, want)
		}
		if got := metric("bsc_attach_total", "cell", cell, "result", "ok"); got != want {
			t.Errorf(`bsc_attach_total{cell=%q,result="ok"} = %v, want %v`, cell, got, want)
		}
	}
}

// A cell stopped on this node (handed off, taken elsewhere) leaves no
// series with its label; the other cell's stay. Taken back, its series
// start again from zero.
func TestStoppedCellLeavesNoSeries(t *testing.T) {
	a, n := twoCellNode(t)
	c1 := n.running[1]
	alloc, err := c1.allocator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alloc.Allocate("test", 0); err != nil {
		t.Fatal(err)
	}
	n.stopCell(context.Background(), 1, c1)

	cells := func() map[string]int {
		families, err := a.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == celllabel.Name {
						seen[l.GetValue()]++
					}
				}
			}
		}
		return seen
	}
	seen := cells()
	if seen["1"] != 0 {
		t.Errorf("%d series with cell=\"1\" after the cell stopped here, want none", seen["1"])
	}
	if seen["0"] == 0 {
		t.Error("no series with cell=\"0\": the running cell's went too")
	}

	runCell(t, n, 1)
	if got := cells(); got["1"] != got["0"] {
		t.Errorf("cell 1 back: %d series, cell 0 has %d", got["1"], got["0"])
	}
	if v, _ := testutil.Metric(t, a.reg, "bsc_frequencies", "cell", "1", "state", "allocated"); v != 0 {
		t.Errorf("cell 1 back: allocated %v, want 0 (its pool starts free)", v)
	}
}

// A pool set for one cell holds for the cell's restarts here, but not once
// the cell has left the node: taken back, it starts with the node's pool,
// and the other cell keeps its own.
func TestCellPoolForgottenWhenCellLeaves(t *testing.T) {
	a, n := twoCellNode(t)
	free := func(id int) []int {
		t.Helper()
		c, err := a.cell(id)
		if err != nil {
			t.Fatal(err)
		}
		alloc, err := c.allocator()
		if err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(slices.Values(alloc.View().Free))
	}
	for _, id := range []int{0, 1} {
		if err := a.SetCellPool(id, []int{50, 51}); err != nil {
			t.Fatal(err)
		}
	}
	n.stopCell(context.Background(), 1, n.running[1])
	if err := a.SetCellPool(1, []int{60}); err == nil {
		t.Fatal("a pool set for a cell that no longer runs here was accepted")
	}
	runCell(t, n, 1)
	if got, want := free(1), slices.Sorted(slices.Values(*a.pool.Load())); !slices.Equal(got, want) {
		t.Errorf("cell 1 back: pool %v, want the node's %v", got, want)
	}
	if got := free(0); !slices.Equal(got, []int{50, 51}) {
		t.Errorf("cell 0: pool %v, want its own [50 51]", got)
	}
}

package testutil

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// Memory is a reading of the process's memory for per-object figures.
type Memory struct {
	Live uint64 // heap objects and goroutine stacks in use
	Sys  uint64 // everything the Go runtime got from the OS
	RSS  uint64 // resident set size
}

// ReadMemory collects garbage and reads the process's memory.
func ReadMemory(b testing.TB) Memory {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Fatalf("read RSS: %v", err)
	}
	pages, _ := strconv.ParseUint(strings.Fields(string(raw))[1], 10, 64)
	return Memory{Live: ms.HeapAlloc + ms.StackInuse, Sys: ms.Sys, RSS: pages * uint64(os.Getpagesize())}
}

// ReportGrowth reports the growth from before to after per object, in
// bytes: liveB/, sysB/ and rssB/ followed by unit.
func ReportGrowth(b *testing.B, before, after Memory, n int, unit string) {
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	b.ReportMetric(per(after.Live, before.Live), "liveB/"+unit)
	b.ReportMetric(per(after.Sys, before.Sys), "sysB/"+unit)
	b.ReportMetric(per(after.RSS, before.RSS), "rssB/"+unit)
}

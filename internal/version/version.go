// Package version tells which build of bsc is running, for `bsc version`,
// GET /api/v1/version and the bsc_build_info metric.
package version

import (
	"runtime"
	"runtime/debug"
	"strconv"
)

// Version and Commit are set at build time with
//
//	-ldflags "-X github.com/bsc-sim/bsc/internal/version.Version=v1.2.3
//	          -X github.com/bsc-sim/bsc/internal/version.Commit=abc123"
//
// When they are not, init falls back to what the Go toolchain recorded in
// the binary, so a plain `go build` or `go install` still says something
// useful.
var (
	Version = ""
	Commit  = ""
	// Protocol is the newest cluster message version this build speaks,
	// set by -ldflags "-X .../internal/version.Protocol=N" to build a
	// node of another version (the rolling upgrade test does); read it
	// with ProtocolVersion.
	Protocol = "2"
)

// ProtocolVersion is Protocol as a number, 1 if it is not one.
func ProtocolVersion() int {
	if n, err := strconv.Atoi(Protocol); err == nil && n > 0 {
		return n
	}
	return 1
}

// GoVersion is the Go release the binary was built with.
var GoVersion = runtime.Version()

func init() {
	info, ok := debug.ReadBuildInfo()
	Version, Commit = fill(Version, Commit, info, ok)
}

// fill completes the linker-set values from the build info; it is separate
// from init so the fallbacks can be tested.
func fill(version, commit string, info *debug.BuildInfo, ok bool) (string, string) {
	if ok && version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	if ok && commit == "" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	return version, commit
}

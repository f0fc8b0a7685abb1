package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFill(t *testing.T) {
	vcs := &debug.BuildInfo{
		Main:     debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}},
	}
	devel := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	tests := []struct {
		name            string
		version, commit string
		info            *debug.BuildInfo
		ok              bool
		wantV, wantC    string
	}{
		{"ldflags win", "v9", "fff", vcs, true, "v9", "fff"},
		{"build info fallback", "", "", vcs, true, "v1.2.3", "abc123"},
		{"devel build", "", "", devel, true, "dev", "unknown"},
		{"no build info", "", "", nil, false, "dev", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, c := fill(tt.version, tt.commit, tt.info, tt.ok)
			if v != tt.wantV || c != tt.wantC {
				t.Errorf("fill = %q, %q; want %q, %q", v, c, tt.wantV, tt.wantC)
			}
		})
	}
}

func TestSet(t *testing.T) {
	if Version == "" || Commit == "" {
		t.Errorf("Version %q, Commit %q: want non-empty after init", Version, Commit)
	}
	if !strings.HasPrefix(GoVersion, "go") {
		t.Errorf("GoVersion = %q", GoVersion)
	}
}

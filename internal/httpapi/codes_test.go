package httpapi

import (
	"slices"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// TestEveryCodeHasAStatus: WriteError serves a code without a status as a
// 500, so a code added to errcode without a row in statusOf would be a
// silent 500; and a row for a code that is not in the list would be dead.
func TestEveryCodeHasAStatus(t *testing.T) {
	all := errcode.All()
	for _, code := range all {
		status, ok := statusOf[code]
		if !ok {
			t.Errorf("code %s has no HTTP status in statusOf", code)
			continue
		}
		if status < 400 || status > 599 {
			t.Errorf("code %s is served with status %d, not an error", code, status)
		}
	}
	for code := range statusOf {
		if !slices.Contains(all, code) {
			t.Errorf("statusOf has a status for %s, which errcode.All does not list", code)
		}
	}
}

// TestCodesMatchSpec: the codes of errcode are those api/openapi.yaml
// documents for Problem.code, no more, no fewer.
func TestCodesMatchSpec(t *testing.T) {
	schema := loadSpec(t).Components.Schemas["Problem"].Value.Properties["code"].Value
	var spec []string
	for _, v := range schema.Enum {
		s, _ := v.(string)
		spec = append(spec, s)
	}
	var ours []string
	for _, code := range errcode.All() {
		ours = append(ours, code.String())
	}
	slices.Sort(spec)
	slices.Sort(ours)
	if !slices.Equal(spec, ours) {
		t.Errorf("Problem.code in %s lists\n  %v\nerrcode.All lists\n  %v", specPath, spec, ours)
	}
}

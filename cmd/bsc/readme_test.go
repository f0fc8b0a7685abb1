package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/load"
)

// tableRows are the rows of the Markdown table of README.md under the
// header line, each split into its cells.
func tableRows(t *testing.T, readme, header string) [][]string {
	t.Helper()
	_, table, ok := strings.Cut(readme, header+"\n")
	if !ok {
		t.Fatalf("README.md has no table headed %q", header)
	}
	var rows [][]string
	for _, line := range strings.Split(table, "\n")[1:] { // after |---|
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

var flagInCell = regexp.MustCompile("`--([a-z0-9-]+)`")

// The README's flag tables name every flag of serve and load, and no
// other; serve's gives each its variable and, where quoted, its default.
func TestREADMEFlagTables(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)

	serve := config.Flags()
	var listed []string
	for _, row := range tableRows(t, readme, "| flag | variable | default | |") {
		m := flagInCell.FindStringSubmatch(row[0])
		f := serve.Lookup(m[1])
		if f == nil {
			t.Errorf("README lists --%s, which serve does not have", m[1])
			continue
		}
		listed = append(listed, f.Name)
		if want := "`" + config.EnvName(f.Name) + "`"; row[1] != want {
			t.Errorf("--%s: variable %s, want %s", f.Name, row[1], want)
		}
		if def := row[2]; strings.HasPrefix(def, "`") && def != "`"+f.DefValue+"`" {
			t.Errorf("--%s: default %s, want `%s`", f.Name, def, f.DefValue)
		}
		if f.Name == "log-level" {
			for _, l := range config.LogLevels {
				if !strings.Contains(row[3], "`"+l+"`") {
					t.Errorf("--log-level row lacks %s: %s", l, row[3])
				}
			}
		}
	}
	serve.VisitAll(func(f *pflag.Flag) {
		if !slices.Contains(listed, f.Name) {
			t.Errorf("README's serve table lacks --%s", f.Name)
		}
	})

	cfg, o := load.DefaultConfig(), loadOptions{}
	loadFS := loadFlags(&cfg, &o)
	listed = nil
	for _, row := range tableRows(t, readme, "| flag | default | |") {
		for _, m := range flagInCell.FindAllStringSubmatch(row[0], -1) {
			if loadFS.Lookup(m[1]) == nil {
				t.Errorf("README lists --%s, which load does not have", m[1])
			}
			listed = append(listed, m[1])
		}
	}
	loadFS.VisitAll(func(f *pflag.Flag) {
		if !slices.Contains(listed, f.Name) {
			t.Errorf("README's load table lacks --%s", f.Name)
		}
	})
}

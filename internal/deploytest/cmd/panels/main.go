// Command panels writes deploy/grafana/README.md, the table of every panel
// of the dashboards in deploy/grafana/dashboards: its query, its unit and
// the value the query returned in the end-to-end run.
//
//	go run ./internal/deploytest/cmd/panels                    # after editing a dashboard
//	go run ./internal/deploytest/cmd/panels -values run.json   # record values
//
// The end-to-end tests (one node, and a cluster for the cluster row)
// record the values of a real run themselves:
//
//	go test ./internal/deploytest -run 'TestPrometheus(Cluster)?E2E' -update
//
// -values names a JSON object from query expression to the value it
// returned, e.g. {"sum(bsc_phones_attached)": "150"}. Values already in the
// README are kept for queries that did not change, unless -reset.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bsc-sim/bsc/internal/deploytest"
)

func main() {
	valuesFile := flag.String("values", "", "JSON file: query expression → value returned in the integration test run")
	reset := flag.Bool("reset", false, "drop the values already in the README")
	flag.Parse()
	if err := run(*valuesFile, *reset); err != nil {
		fmt.Fprintln(os.Stderr, "panels:", err)
		os.Exit(1)
	}
}

func run(valuesFile string, reset bool) error {
	root, err := deploytest.RepoRoot()
	if err != nil {
		return err
	}
	dashboards, err := deploytest.LoadDashboards(root)
	if err != nil {
		return err
	}
	out := filepath.Join(root, deploytest.PanelDocPath)
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	values := map[string]string{}
	if !reset {
		values = deploytest.ParsePanelDocValues(old)
	}
	if valuesFile != "" {
		b, err := os.ReadFile(valuesFile)
		if err != nil {
			return err
		}
		var add map[string]string
		if err := json.Unmarshal(b, &add); err != nil {
			return fmt.Errorf("%s: %w", valuesFile, err)
		}
		for k, v := range add {
			values[k] = v
		}
	}
	doc := deploytest.RenderPanelDoc(dashboards, values)
	if bytes.Equal(doc, old) {
		fmt.Println(deploytest.PanelDocPath, "is up to date")
		return nil
	}
	if err := os.WriteFile(out, doc, 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", deploytest.PanelDocPath)
	return nil
}

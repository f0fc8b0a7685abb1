// Command bsc is the simulated base-station controller: `bsc serve` runs
// the service, `bsc check` validates a config file, `bsc version` tells the
// build. See README.md.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

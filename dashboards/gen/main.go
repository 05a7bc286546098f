// Command gen writes ptpcam's Grafana dashboards, built by package
// dashboards: every dashboard into the directory given with -d, or the rig
// dashboard alone to stdout or to the file given with -o:
//
//	go run ./dashboards/gen -d dashboards
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/ptpcam/ptpcam/dashboards"
)

func main() {
	out := flag.String("o", "", "write the rig dashboard (ptpcam.json) to this file instead of stdout")
	dir := flag.String("d", "", "write every dashboard into this directory, each under its committed name")
	flag.Parse()
	if err := run(*out, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out, dir string) error {
	if dir != "" {
		for _, name := range slices.Sorted(maps.Keys(dashboards.Files)) {
			if err := write(dashboards.Files[name], filepath.Join(dir, name)); err != nil {
				return err
			}
		}
		return nil
	}
	if out == "" {
		b, err := dashboards.JSON()
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	}
	return write(dashboards.JSON, out)
}

func write(build func() ([]byte, error), path string) error {
	b, err := build()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Command gen writes ptpcam's Grafana dashboard JSON, built by package
// dashboards, to stdout or to the file given with -o:
//
//	go run ./dashboards/gen -o dashboards/ptpcam.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ptpcam/ptpcam/dashboards"
)

func main() {
	out := flag.String("o", "", "write the dashboard to this file instead of stdout")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	b, err := dashboards.JSON()
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ModuleRoot is the directory of go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// KnownMetrics reads collector/testdata/metrics.txt, the list of every
// metric the exporter exposes: name → whether it is conditional (absent from
// some healthy scrapes).
func KnownMetrics(t testing.TB) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(ModuleRoot(t), "collector", "testdata", "metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		known[fs[0]] = len(fs) > 1 && fs[1] == "conditional"
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return known
}

package testenv

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// VendorXMLDir is ../shared/vendor-xml next to the module: real cameras'
// GenICam XMLs, kept out of the repository. Missing, it skips the test (and
// fails it under CI=true).
func VendorXMLDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "..", "shared", "vendor-xml")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		Skip(t, "vendor GenICam XMLs not found at %s: %v", dir, err)
	}
	return dir
}

// VendorXMLs lists the *.xml files of VendorXMLDir, sorted; none is a
// failure (skip outside CI).
func VendorXMLs(t testing.TB) []string {
	t.Helper()
	dir := VendorXMLDir(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("vendor xml: %v", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".xml") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) == 0 {
		Skip(t, "no *.xml in %s", dir)
	}
	sort.Strings(out)
	return out
}

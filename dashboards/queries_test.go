package dashboards

import (
	"os"
	"strings"
	"testing"
)

// Queries finds what the test's own extraction finds, and Expand leaves
// no variable behind or names the one it does not know.
func TestQueriesAndExpand(t *testing.T) {
	for _, f := range dashboardFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := Queries(raw)
		if err != nil {
			t.Fatal(err)
		}
		if want := committedQueries(t, f); len(qs) != len(want) {
			t.Errorf("%s: Queries found %d, the test's extraction %d", f, len(qs), len(want))
		}
		for _, q := range qs {
			e, err := Expand(q.Expr, "1m", "1h")
			if err != nil || strings.Contains(e, "$") {
				t.Errorf("%s %s: expanded to %q (%v)", f, q.Where, e, err)
			}
		}
	}
	if _, err := Expand(`up{x=~"$nosuch"}`, "1m", "1h"); err == nil || !strings.Contains(err.Error(), "$nosuch") {
		t.Errorf("unknown variable: %v", err)
	}
	got, _ := Expand(`rate(a_total{job=~"$job",instance=~"${instance}"}[$__rate_interval])`, "30s", "1h")
	if want := `rate(a_total{job=~".+",instance=~".+"}[30s])`; got != want {
		t.Errorf("Expand: %s, want %s", got, want)
	}
}

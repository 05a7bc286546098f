package dashboards

import (
	"encoding/json"
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

// Panels keep the ids they had (links to a panel use them): every panel of
// the dashboard before this release has its old id in the new one.
func TestPanelIDsStable(t *testing.T) {
	ids := func(f string) map[string]int {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d lintDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, p := range d.Panels {
			out[p.Title] = p.ID
		}
		return out
	}
	old, cur := ids("testdata/ptpcam-before-lint.json"), ids(committed)
	if len(old) < 20 {
		t.Fatalf("%d panels in the old dashboard", len(old))
	}
	for title, id := range old {
		if cur[title] != id {
			t.Errorf("panel %q: id %d, was %d", title, cur[title], id)
		}
	}
}

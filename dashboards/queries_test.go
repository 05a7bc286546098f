package dashboards

import (
	"encoding/json"
	"os"
	"slices"
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
		if len(qs) < 10 {
			t.Errorf("%s: Queries found %d, want at least 10: is the extraction broken?", f, len(qs))
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

// Queries finds targets and annotations at any depth and the selector of
// a label_values() variable, and refuses a variable query it cannot check.
func TestQueriesExtraction(t *testing.T) {
	t.Parallel()
	doc := `{"panels": [{"title": "Row", "panels": [{"title": "Offset", "targets": [{"expr": "ptpcam_ptp_up"}]}]}],
		"annotations": {"list": [{"name": "Restarts", "expr": "changes(up[5m])"}]},
		"templating": {"list": [{"name": "instance", "type": "query", "query": "label_values(ptpcam_ptp_up{job=~\"$job\"}, instance)"}]}}`
	qs, err := Queries([]byte(doc))
	want := []Query{{"Offset", "ptpcam_ptp_up"}, {"Restarts", "changes(up[5m])"}, {"variable instance", `ptpcam_ptp_up{job=~"$job"}`}}
	if err != nil || !slices.Equal(qs, want) {
		t.Errorf("Queries = %q, %v; want %q", qs, err, want)
	}
	bad := `{"templating": {"list": [{"name": "host", "type": "query", "query": "query_result(up)"}]}}`
	if _, err := Queries([]byte(bad)); err == nil || !strings.Contains(err.Error(), "variable host") || !strings.Contains(err.Error(), "query_result(up)") {
		t.Errorf("a query_result() variable: %v, want an error naming it", err)
	}
	if _, err := Queries([]byte("{")); err == nil {
		t.Error("broken JSON: no error")
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

package dashboards

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/pmc"
)

const committed = "ptpcam.json"

// The committed JSON is exactly what the code generates: nobody edited the
// JSON by hand, and nobody changed the code without regenerating.
func TestCommittedJSONUpToDate(t *testing.T) {
	for name, build := range Files {
		want, err := build()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, want) {
			continue
		}
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			g, w := line(gl, i), line(wl, i)
			if g != w {
				t.Errorf("dashboards/%s is stale at line %d:\n committed: %s\n generated: %s\nregenerate: make dashboards",
					name, i+1, g, w)
				break
			}
		}
	}
}

func line(ls []string, i int) string {
	if i < len(ls) {
		return ls[i]
	}
	return "<end of file>"
}

// query is one PromQL expression of the dashboard and where it is.
type query struct {
	where string // panel, variable or annotation name
	expr  string
}

// Every PromQL expression of the committed dashboard parses (promtool, i.e.
// Prometheus' own parser) and names only metrics the exporter exposes.
func TestQueries(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	qs := committedQueries(t, committed)
	if len(qs) < 20 {
		t.Fatalf("found %d queries in %s, want at least 20: is the extraction broken?", len(qs), committed)
	}
	known := knownMetrics(t)
	if err := checkQueries(t, qs, known); err != nil {
		t.Fatal(err)
	}
	used := usedMetrics(qs)
	var unused []string
	for m := range known {
		if !used[m] {
			unused = append(unused, m)
		}
	}
	slices.Sort(unused)
	t.Logf("%d queries use %d metrics; not on the dashboard: %s", len(qs), len(used), strings.Join(unused, " "))
	if len(used) < 20 {
		t.Errorf("the queries use %d metrics, want at least 20: is the tokenizer broken?", len(used))
	}
}

// The checks bite: an unparsable expression and an unknown metric both fail,
// and the tokenizer does not take functions, keywords, label names, numbers or
// durations for metrics.
func TestCheckQueriesRejects(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	known := knownMetrics(t)
	for _, tc := range []struct {
		name, expr, wantErr string
	}{
		{"syntax", `sum by (serial (ptpcam_camera_up{instance=~"$instance"})`, "promtool"},
		{"variable", `ptpcam_camera_up{instance=~"$nosuch"}`, "unknown variable $nosuch"},
		{"typo", `ptpcam_camera_clock_delta_second{serial=~"$camera"} > 0.001`, "ptpcam_camera_clock_delta_second"},
		{"other exporter", `node_time_seconds - ptpcam_ptp_up`, "node_time_seconds"},
		{"good", `max by (instance, serial) (max_over_time(abs(ptpcam_camera_clock_delta_seconds{serial=~"$camera", status="slave"})[$__range:] offset 5m)) > 1e-3
  and on(instance) (ptpcam_ptp_grandmaster_info * ignoring(socket, grandmaster_identity) group_left up)`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkQueries(t, []query{{tc.name, tc.expr}}, known)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want no error, got %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("want an error naming %q, got none", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("want an error naming %q, got %v", tc.wantErr, err)
			}
		})
	}
}

// The panels' thresholds are the alerts' thresholds.
func TestThresholdsMatchAlerts(t *testing.T) {
	exprs := map[string]string{}
	for _, r := range testenv.AlertRules(t) {
		exprs[r.Alert] = r.Expr
	}
	for alert, v := range map[string]float64{
		"PtpcamCameraClockDesync":    DesyncThreshold,
		"PtpcamLatchUncertaintyHigh": UncertaintyThreshold,
		"PtpcamSyncStale":            SyncStaleThreshold,
	} {
		want := "> " + strconv.FormatFloat(v, 'g', -1, 64)
		if expr, ok := exprs[alert]; !ok {
			t.Errorf("alert %s not in alerts/ptpcam.rules.yml", alert)
		} else if !strings.Contains(expr, want) {
			t.Errorf("alert %s: expression %q does not contain %q, the dashboard's threshold", alert, expr, want)
		}
	}
}

// Every panel has a unique id and at least one query; rows have none.
func TestPanels(t *testing.T) {
	d, err := PTPCam()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[uint32]string{}
	for _, pr := range d.Panels {
		var id *uint32
		var title string
		switch {
		case pr.Panel != nil:
			id = pr.Panel.Id
			if pr.Panel.Title != nil {
				title = *pr.Panel.Title
			}
			if len(pr.Panel.Targets) == 0 {
				t.Errorf("panel %q has no query", title)
			}
		case pr.RowPanel != nil:
			id = &pr.RowPanel.Id
			if pr.RowPanel.Title != nil {
				title = *pr.RowPanel.Title
			}
		}
		if id == nil || *id == 0 {
			t.Errorf("panel %q has no id", title)
			continue
		}
		if other, dup := ids[*id]; dup {
			t.Errorf("panels %q and %q share id %d", other, title, *id)
		}
		ids[*id] = title
	}
}

// knownMetrics is the exporter's contract, collector/testdata/metrics.txt,
// plus the series Prometheus itself writes and camrecord's build info (which
// tells camrecord's targets, serving the cameras of a take, from exporters).
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{"up": true, "ALERTS": true, "camrecord_build_info": true}
	for m := range testenv.KnownMetrics(t) {
		known[m] = true
	}
	return known
}

// usedMetrics is the set of metrics the queries name.
func usedMetrics(qs []query) map[string]bool {
	used := map[string]bool{}
	for _, q := range qs {
		for _, m := range metricNames(variable.ReplaceAllString(q.expr, "1m")) {
			used[m] = true
		}
	}
	return used
}

// committedQueries is Queries of a committed dashboard file, where the
// query has no title named by the file.
func committedQueries(t *testing.T, committed string) []query {
	t.Helper()
	b, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Queries(b)
	if err != nil {
		t.Fatalf("%s: %v", committed, err)
	}
	qs := make([]query, len(all))
	for i, q := range all {
		qs[i] = query{cmp.Or(q.Where, committed), q.Expr}
	}
	return qs
}

// Grafana's variables: the built-in intervals become durations, the
// dashboard's (all used inside regex matchers) match anything.
var (
	variable  = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)
	variables = map[string]string{
		"__rate_interval": "1m", "__interval": "1m", "__range": "1h",
		"job": ".*", "instance": ".*", "camera": ".*",
	}
)

// checkQueries parses every expression with promtool, as recording rules of
// a temporary rule file, and fails on a metric not in known.
func checkQueries(t *testing.T, qs []query, known map[string]bool) error {
	t.Helper()
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	var legend, errs []string
	for i, q := range qs {
		var bad []string
		expr := variable.ReplaceAllStringFunc(q.expr, func(s string) string {
			name := variable.FindStringSubmatch(s)[1]
			if v, ok := variables[name]; ok {
				return v
			}
			bad = append(bad, "$"+name)
			return s
		})
		for _, b := range bad {
			errs = append(errs, fmt.Sprintf("%s: unknown variable %s in %q", q.where, b, q.expr))
		}
		for _, m := range metricNames(expr) {
			if !known[m] {
				errs = append(errs, fmt.Sprintf("%s: metric %s is not exposed by the exporter (collector/testdata/metrics.txt): %q", q.where, m, q.expr))
			}
		}
		name := fmt.Sprintf("dashboard:query_%d", i)
		rules = append(rules, rule{name, expr})
		legend = append(legend, fmt.Sprintf("  %s = %s: %s", name, q.where, q.expr))
	}
	file := map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}}
	b, err := yaml.Marshal(file)
	if err != nil {
		return fmt.Errorf("marshal rule file: %w", err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("promtool", "check", "rules", path).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Sprintf("promtool check rules: %v\n%s\nqueries:\n%s", err, out, strings.Join(legend, "\n")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d problems:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	return nil
}

// metricNames returns the metric names an expression selects: identifiers
// that are not inside strings, label matchers, ranges or grouping label
// lists, are not followed by "(" (functions, aggregations) and are not
// keywords. Numbers and durations are skipped because an identifier must not
// follow a digit.
func metricNames(expr string) []string {
	for _, re := range stripped {
		expr = re.ReplaceAllString(expr, " ")
	}
	var out []string
	for _, m := range identifier.FindAllStringSubmatchIndex(expr, -1) {
		name := expr[m[2]:m[3]]
		rest := strings.TrimLeft(expr[m[3]:], " \t\n")
		if strings.HasPrefix(rest, "(") || keywords[strings.ToLower(name)] {
			continue
		}
		out = append(out, name)
	}
	return out
}

var (
	stripped = []*regexp.Regexp{
		regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`"),
		regexp.MustCompile(`\{[^}]*\}`),
		regexp.MustCompile(`\[[^\]]*\]`),
		regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`),
	}
	identifier = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:.])([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	keywords   = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"inf": true, "nan": true, "group_left": true, "group_right": true,
	}
)

// The state timelines' queries turn a state set into the current state's
// code, evaluated by Prometheus' engine (promtool test rules) on the series
// the exporter writes: a grandmaster host and a slave camera.
func TestStateCodeEvaluates(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	dir := t.TempDir()
	sub := func(s string) string { return variable.ReplaceAllString(s, ".*") }
	rules := map[string]any{"groups": []any{map[string]any{"name": "codes", "rules": []any{
		map[string]string{"record": "host:role_code", "expr": sub(stateCode("ptpcam_ptp_role", hostSel, "role", hostRoles, "instance, socket"))},
		map[string]string{"record": "camera:status_code", "expr": sub(stateCode("ptpcam_camera_ptp_status", cameraSel, "status", cameraStatuses, "instance, serial"))},
	}}}}
	var series []map[string]string
	for _, r := range hostRoles {
		series = append(series, map[string]string{
			"series": fmt.Sprintf(`ptpcam_ptp_role{instance="rig:9877",socket="/var/run/ptp4l",role=%q}`, r.name),
			"values": strconv.Itoa(boolInt(r.name == "grandmaster")) + "x4",
		})
	}
	for _, s := range cameraStatuses {
		series = append(series, map[string]string{
			"series": fmt.Sprintf(`ptpcam_camera_ptp_status{instance="rig:9877",serial="05520125",status=%q}`, s.name),
			"values": strconv.Itoa(boolInt(s.name == "slave")) + "x4",
		})
	}
	code := func(states []state, name string) int {
		return slices.IndexFunc(states, func(s state) bool { return s.name == name }) + 1
	}
	tests := map[string]any{
		"rule_files":          []string{"codes.rules.yml"},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":     "1m",
			"input_series": series,
			"promql_expr_test": []any{
				map[string]any{"expr": "host:role_code", "eval_time": "2m", "exp_samples": []any{map[string]any{
					"labels": `host:role_code{instance="rig:9877",socket="/var/run/ptp4l"}`, "value": code(hostRoles, "grandmaster")}}},
				map[string]any{"expr": "camera:status_code", "eval_time": "2m", "exp_samples": []any{map[string]any{
					"labels": `camera:status_code{instance="rig:9877",serial="05520125"}`, "value": code(cameraStatuses, "slave")}}},
			},
		}},
	}
	for name, v := range map[string]any{"codes.rules.yml": rules, "codes_test.yml": tests} {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("promtool", "test", "rules", "codes_test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The host role timeline knows every role the exporter can report.
func TestHostRolesMatchPMC(t *testing.T) {
	var want, got []string
	for _, r := range pmc.AllRoles() {
		want = append(want, strings.ToLower(r.String()))
	}
	for _, r := range hostRoles {
		got = append(got, r.name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("dashboard host roles %v, pmc.AllRoles %v", got, want)
	}
}

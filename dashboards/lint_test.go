package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// lintDashboard checks a dashboard's JSON against the rules of
// grafana/dashboard-linter (which cannot be installed here), as that linter
// states them:
//
//	template-datasource-rule     a "datasource" variable of type datasource, query prometheus
//	template-job-rule            a "job" query variable: on $datasource, labelled job, multi, allValue ".+"
//	template-instance-rule       the same for "instance"
//	template-on-time-change-reload-rule  query variables refresh on time range change (2)
//	panel-datasource-rule        every panel queries $datasource
//	panel-title-description-rule every panel has a title and a description
//	panel-units-rule             every panel sets a known unit
//	target-job-rule              every selector of every query has job=~"$job"
//	target-instance-rule         every selector of every query has instance=~"$instance"
//	target-rate-interval-rule    rate/irate/increase use [$__rate_interval]
//	target-counter-agg-rule      a counter (_total) is only read through rate/irate/increase
//	uneditable-dashboard         editable is false
//
// It returns one line per problem, "rule: where: what".
func lintDashboard(raw []byte) ([]string, error) {
	var d lintDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	var out []string
	add := func(rule, where, format string, args ...any) {
		out = append(out, rule+": "+where+": "+fmt.Sprintf(format, args...))
	}
	if d.Editable == nil || *d.Editable {
		add("uneditable-dashboard", d.Title, "editable is not false")
	}
	lintTemplates(d, add)
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if uid := p.Datasource.UID; uid != "$datasource" && uid != "${datasource}" {
			add("panel-datasource-rule", p.Title, "datasource %q, want $datasource", uid)
		}
		if p.Title == "" || p.Description == "" {
			add("panel-title-description-rule", fmt.Sprintf("panel %d %q", p.ID, p.Title), "missing title or description")
		}
		if !validUnits[p.FieldConfig.Defaults.Unit] {
			add("panel-units-rule", p.Title, "unit %q is not set or not a Grafana unit", p.FieldConfig.Defaults.Unit)
		}
		for _, t := range p.Targets {
			for _, prob := range lintExpr(t.Expr) {
				add(prob.rule, p.Title, "%s in %q", prob.what, t.Expr)
			}
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr == "" {
			continue
		}
		for _, prob := range lintExpr(a.Expr) {
			add(prob.rule, "annotation "+a.Name, "%s in %q", prob.what, a.Expr)
		}
	}
	return out, nil
}

type lintDoc struct {
	Title      string `json:"title"`
	Editable   *bool  `json:"editable"`
	Templating struct {
		List []lintVar `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []struct {
		ID          int    `json:"id"`
		Type        string `json:"type"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Datasource  struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		FieldConfig struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

type lintVar struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Label      string `json:"label"`
	Query      any    `json:"query"`
	Multi      bool   `json:"multi"`
	AllValue   string `json:"allValue"`
	Refresh    int    `json:"refresh"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
}

func lintTemplates(d lintDoc, add func(rule, where, format string, args ...any)) {
	vars := map[string]lintVar{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
		if v.Type == "query" && v.Refresh != 2 {
			add("template-on-time-change-reload-rule", "variable "+v.Name, "refresh %d, want 2 (on time range change)", v.Refresh)
		}
	}
	if ds, ok := vars["datasource"]; !ok || ds.Type != "datasource" || ds.Query != "prometheus" {
		add("template-datasource-rule", d.Title, "no datasource variable of type datasource with query prometheus")
	}
	for _, name := range []string{"job", "instance"} {
		rule := "template-" + name + "-rule"
		v, ok := vars[name]
		if !ok {
			add(rule, d.Title, "no %s variable", name)
			continue
		}
		if uid := v.Datasource.UID; uid != "$datasource" && uid != "${datasource}" {
			add(rule, "variable "+name, "datasource %q, want $datasource", uid)
		}
		if v.Type != "query" {
			add(rule, "variable "+name, "type %q, want query", v.Type)
		}
		if v.Label != name {
			add(rule, "variable "+name, "label %q, want %q", v.Label, name)
		}
		if !v.Multi {
			add(rule, "variable "+name, "not multi-select")
		}
		if v.AllValue != ".+" {
			add(rule, "variable "+name, "allValue %q, want \".+\"", v.AllValue)
		}
	}
}

// validUnits are the Grafana unit ids the dashboards may use (a subset of
// Grafana's category list; dashboard-linter accepts any of them).
var validUnits = map[string]bool{
	"none": true, "short": true, "percent": true, "percentunit": true, "bool": true,
	"s": true, "ms": true, "µs": true, "ns": true, "dtdurations": true, "dateTimeAsIso": true,
	"bytes": true, "decbytes": true, "bps": true, "Bps": true, "binBps": true,
	"cps": true, "ops": true, "reqps": true, "pps": true, "x": true,
}

type lintProblem struct{ rule, what string }

var rateFuncs = map[string]bool{"rate": true, "irate": true, "increase": true}

// lintExpr checks the selectors of one PromQL expression: each needs the
// job and instance matchers, counters must sit directly in a rate function,
// and rate functions use $__rate_interval. A small scanner stands in for
// Prometheus' parser (the dashboards' queries also go through promtool in
// TestQueries).
func lintExpr(expr string) []lintProblem {
	var out []lintProblem
	for _, s := range scanSelectors(expr) {
		if !strings.Contains(s.matchers, `job=~"$job"`) {
			out = append(out, lintProblem{"target-job-rule", fmt.Sprintf("selector %s%s lacks job=~\"$job\"", s.name, s.matchers)})
		}
		if !strings.Contains(s.matchers, `instance=~"$instance"`) {
			out = append(out, lintProblem{"target-instance-rule", fmt.Sprintf("selector %s%s lacks instance=~\"$instance\"", s.name, s.matchers)})
		}
		if strings.HasSuffix(s.name, "_total") && !rateFuncs[s.fn] {
			out = append(out, lintProblem{"target-counter-agg-rule", fmt.Sprintf("counter %s is not inside rate/irate/increase", s.name)})
		}
		if rateFuncs[s.fn] && s.rng != "$__rate_interval" {
			out = append(out, lintProblem{"target-rate-interval-rule", fmt.Sprintf("%s(%s[%s]) should use [$__rate_interval]", s.fn, s.name, s.rng)})
		}
	}
	return out
}

// selector is one vector selector: its metric name, matchers ("{...}"),
// range ("5m" of "[5m]") and the function it is the direct argument of.
type selector struct{ name, matchers, rng, fn string }

var (
	identStart   = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true,
		"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true}
	grouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
)

// scanSelectors walks expr once: strings are skipped, numbers and durations
// are skipped, identifiers followed by "(" are functions, grouping label
// lists are skipped, keywords are ignored, and what remains is a selector.
func scanSelectors(expr string) []selector {
	var out []selector
	var fnStack []string // function (or "" for plain parentheses) per open paren
	pendingFn := ""
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case c == '(':
			fnStack = append(fnStack, pendingFn)
			pendingFn = ""
			i++
		case c == ')':
			if len(fnStack) > 0 {
				fnStack = fnStack[:len(fnStack)-1]
			}
			i++
		case c == '[':
			i = skipTo(expr, i, ']')
		case c == '{': // a selector without a name
			s, next := readSelector(expr, i, "", fnStack)
			out = append(out, s)
			i = next
		case isIdent(c) && !(c >= '0' && c <= '9'):
			name := identStart.FindString(expr[i:])
			j := skipSpace(expr, i+len(name))
			lower := strings.ToLower(name)
			switch {
			case grouping[lower] && j < len(expr) && expr[j] == '(':
				i = skipTo(expr, j, ')')
			case j < len(expr) && expr[j] == '(' || aggregations[lower]: // "sum by (x) (...)" too
				pendingFn = name
				i = j
			case keywords[lower] || grouping[lower]:
				i = j
			default:
				s, next := readSelector(expr, j, name, fnStack)
				out = append(out, s)
				i = next
			}
		default:
			i++
		}
	}
	return out
}

// readSelector reads the optional matchers and range after a metric name.
func readSelector(expr string, i int, name string, fnStack []string) (selector, int) {
	s := selector{name: name}
	if len(fnStack) > 0 {
		s.fn = fnStack[len(fnStack)-1]
	}
	if i < len(expr) && expr[i] == '{' {
		end := i
		for end < len(expr) && expr[end] != '}' {
			if expr[end] == '"' {
				end = skipString(expr, end) - 1
			}
			end++
		}
		s.matchers = expr[i:min(end+1, len(expr))]
		i = min(end+1, len(expr))
	}
	if j := skipSpace(expr, i); j < len(expr) && expr[j] == '[' {
		end := skipTo(expr, j, ']')
		s.rng = strings.TrimSuffix(expr[j+1:end], "]")
		i = end
	}
	return s, i
}

func isIdent(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		if s[i] == '\\' && q != '`' {
			i++
		} else if s[i] == q {
			return i + 1
		}
	}
	return len(s)
}

// skipTo returns the index after the first close at or after i.
func skipTo(s string, i int, close byte) int {
	for ; i < len(s); i++ {
		if s[i] == close {
			return i + 1
		}
	}
	return len(s)
}

// Every dashboard passes the linter's rules.
func TestDashboardLint(t *testing.T) {
	for _, f := range dashboardFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		probs, err := lintDashboard(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probs {
			t.Errorf("%s: %s", f, p)
		}
	}
}

// The rules bite: the dashboard as it was before they were applied
// (testdata/ptpcam-before-lint.json, from git) fails each rule issue 17
// named, and the scanner finds what it should in hand-made queries.
func TestDashboardLintRejects(t *testing.T) {
	raw, err := os.ReadFile("testdata/ptpcam-before-lint.json")
	if err != nil {
		t.Fatal(err)
	}
	probs, err := lintDashboard(raw)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range probs {
		count[strings.SplitN(p, ":", 2)[0]]++
	}
	t.Logf("old dashboard: %d problems: %v", len(probs), count)
	for rule, atLeast := range map[string]int{
		"uneditable-dashboard": 1, "template-job-rule": 1, "template-instance-rule": 2,
		"panel-units-rule": 5, "target-job-rule": 25,
	} {
		if count[rule] < atLeast {
			t.Errorf("old dashboard: %d %s problems, want at least %d", count[rule], rule, atLeast)
		}
	}
	for _, tc := range []struct {
		expr string
		want []string // rules, in order
	}{
		{`up{job=~"$job", instance=~"$instance"}`, nil},
		{`up`, []string{"target-job-rule", "target-instance-rule"}},
		{`sum by (job) (rate(x_total{job=~"$job", instance=~"$instance"}[5m]))`, []string{"target-rate-interval-rule"}},
		{`x_total{job=~"$job", instance=~"$instance"} > 1e-3`, []string{"target-counter-agg-rule"}},
		{`a{job=~"$job",instance=~"$instance",x="}"} * on(job, instance) group_left(serial) b{job=~"$job", instance=~"$instance"}`, nil},
		{`max(max_over_time(abs(g{job=~"$job", instance=~"$instance"})[$__range:])) and c{instance=~"$instance"}`, []string{"target-job-rule"}},
	} {
		var got []string
		for _, p := range lintExpr(tc.expr) {
			got = append(got, p.rule)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// dashboardFiles are the committed dashboards.
var dashboardFiles = slices.Sorted(maps.Keys(Files))

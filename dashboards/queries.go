package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Query is one PromQL expression of a dashboard: a panel target, an
// annotation, or the selector of a label_values() variable.
type Query struct {
	Where string // panel title, variable or annotation name
	Expr  string
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// Queries pulls every PromQL expression out of a dashboard's JSON, sorted
// by where they are: each "expr" at any depth (targets, annotations) and
// the metric selector of each label_values() variable query. A variable
// query of another kind is an error: its expression could not be checked.
func Queries(raw []byte) ([]Query, error) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	var qs []Query
	var bad []string
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range []string{"title", "name"} {
				if s, ok := v[k].(string); ok {
					where = s
					break
				}
			}
			if e, ok := v["expr"].(string); ok {
				qs = append(qs, Query{where, e})
			}
			if s, ok := v["query"].(string); ok && v["type"] == "query" {
				if m := labelValuesRE.FindStringSubmatch(s); m != nil {
					qs = append(qs, Query{"variable " + where, m[1]})
				} else {
					bad = append(bad, fmt.Sprintf("variable %s: query %q is not label_values(selector, label)", where, s))
				}
			}
			for _, c := range v {
				walk(c, where)
			}
		case []any:
			for _, c := range v {
				walk(c, where)
			}
		}
	}
	walk(doc, "")
	if len(bad) > 0 {
		return nil, fmt.Errorf("dashboard: %s", strings.Join(bad, "; "))
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].Where+qs[i].Expr < qs[j].Where+qs[j].Expr })
	return qs, nil
}

var variableRE = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)

// Expand replaces Grafana's variables in expr: the interval variables by
// rateInterval and rng, the dashboard's own (all used in regex matchers)
// by ".+", what "All" selects. It fails on a variable it does not know.
func Expand(expr, rateInterval, rng string) (string, error) {
	var bad []string
	out := variableRE.ReplaceAllStringFunc(expr, func(s string) string {
		switch name := variableRE.FindStringSubmatch(s)[1]; name {
		case "__rate_interval", "__interval":
			return rateInterval
		case "__range":
			return rng
		case "job", "instance", "camera":
			return ".+"
		default:
			bad = append(bad, s)
			return s
		}
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown variables %s in %q", strings.Join(bad, ", "), expr)
	}
	return out, nil
}

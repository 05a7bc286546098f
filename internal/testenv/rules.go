package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v2"
)

// AlertRule is one alerting rule of alerts/ptpcam.rules.yml.
type AlertRule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

// AlertRules reads the alerting rules of alerts/ptpcam.rules.yml, in order.
func AlertRules(t testing.TB) []AlertRule {
	t.Helper()
	file := filepath.Join(ModuleRoot(t), "alerts", "ptpcam.rules.yml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []AlertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []AlertRule
	for _, g := range rules.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// Package alerts holds ptpcam's Prometheus alert rules (ptpcam.rules.yml)
// and their promtool unit tests (ptpcam_test.yml); this test runs both and
// checks that the rules use only metrics the exporter exposes.
package alerts

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

func TestPromtoolCheckRules(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	if out, err := exec.Command("promtool", "check", "rules", "ptpcam.rules.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	if out, err := exec.Command("promtool", "test", "rules", "ptpcam_test.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

var metricRE = regexp.MustCompile(`\bptpcam_[a-z0-9_]+\b`)

// Every ptpcam_ metric the rules name is one the exporter exposes, and every
// alert has a unit test.
func TestRulesUseKnownMetrics(t *testing.T) {
	known := testenv.KnownMetrics(t)
	tests, err := os.ReadFile("ptpcam_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules := testenv.AlertRules(t)
	for _, r := range rules {
		for _, m := range metricRE.FindAllString(r.Expr, -1) {
			if _, ok := known[m]; !ok {
				t.Errorf("alert %s uses %s, which the exporter does not expose (collector/testdata/metrics.txt)", r.Alert, m)
			}
		}
		firing := regexp.MustCompile(`alertname: ` + r.Alert + `\n\s+exp_alerts:\n\s+- exp_labels:`)
		if !firing.Match(tests) {
			t.Errorf("alert %s has no unit test in which it fires", r.Alert)
		}
	}
	if len(rules) < 15 {
		t.Errorf("%d alerts, want at least 15", len(rules))
	}
}

// Package alerts holds ptpcam's Prometheus alert rules (ptpcam.rules.yml)
// and their promtool unit tests (ptpcam_test.yml); this test runs both and
// checks that the rules use only metrics the exporter exposes.
package alerts

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v2"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/record"
)

func TestPromtoolCheckRules(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	if out, err := exec.Command("promtool", "check", "rules", "ptpcam.rules.yml", "record.rules.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	if out, err := exec.Command("promtool", "test", "rules", "ptpcam_test.yml", "record_test.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// No rule names a job: exporter and camrecord targets are told apart by
// what they serve, so the rules work with any job names (examples/).
func TestRulesNameNoJob(t *testing.T) {
	for _, f := range []string{"ptpcam.rules.yml", "record.rules.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`job\s*=~?\s*"`).Find(b); m != nil {
			t.Errorf("%s matches a job name (%s)", f, m)
		}
	}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// The recorder's rules use only metrics record.Recorder describes, and each
// alert has a unit test in which it fires.
func TestRecordRulesUseRecorderMetrics(t *testing.T) {
	ch := make(chan *prometheus.Desc, 100)
	(&record.Recorder{}).Describe(ch)
	close(ch)
	known := map[string]bool{}
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			known[m[1]] = true
		}
	}
	b, err := os.ReadFile("record.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []testenv.AlertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("record_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			n++
			for _, m := range metricRE.FindAllString(r.Expr, -1) {
				if !known[m] {
					t.Errorf("alert %s uses %s, which record.Recorder does not describe", r.Alert, m)
				}
			}
			firing := regexp.MustCompile(`alertname: ` + r.Alert + `\n\s+exp_alerts:\n\s+- exp_labels:`)
			if !firing.Match(tests) {
				t.Errorf("alert %s has no unit test in which it fires", r.Alert)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d recorder alerts, want 4", n)
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

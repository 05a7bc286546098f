// Package examples holds example Prometheus and Alertmanager configurations
// for ptpcam; this test checks them with the tools that load them.
package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// The scrape config is valid for Prometheus with the rules of this tree in
// place of the installed ones, and loads both rule files.
func TestPrometheusConfig(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	alerts := filepath.Join(testenv.ModuleRoot(t), "alerts") + "/"
	conf := strings.ReplaceAll(string(b), "/usr/share/ptpcam/alerts/", alerts)
	if conf == string(b) {
		t.Fatal("prometheus.yml does not load the rules from /usr/share/ptpcam/alerts/")
	}
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("promtool", "check", "config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	for _, want := range []string{"ptpcam.rules.yml", "record.rules.yml"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("promtool did not check %s:\n%s", want, out)
		}
	}
	for _, job := range []string{"job_name: ptpcam", "job_name: camrecord", "replacement: '${1}:9877'", "replacement: '${1}:9878'"} {
		if !strings.Contains(conf, job) {
			t.Errorf("prometheus.yml lacks %q", job)
		}
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	testenv.RequireTool(t, "amtool")
	if out, err := exec.Command("amtool", "check-config", "alertmanager.yml").CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
}

// A broken config fails the check: the test can fail.
func TestPromtoolRejectsBrokenConfig(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	path := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(path, []byte("scrape_configs:\n  - job_name: x\n    relabel_configs:\n      - regex: '('\n"), 0o644)
	if err := exec.Command("promtool", "check", "config", path).Run(); err == nil {
		t.Fatal("promtool accepted an invalid regex")
	}
}

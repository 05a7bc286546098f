package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

type rule struct {
	Alert  string            `yaml:"alert"`
	Labels map[string]string `yaml:"labels"`
}

// alerts returns every alerting rule of alerts/*.rules.yml.
func alerts(t *testing.T) []rule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "alerts", "*.rules.yml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("alerts/*.rules.yml: %v %v", files, err)
	}
	var out []rule
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// Every alert of the tree reaches the receiver examples/README.md promises,
// as Alertmanager's own router decides (amtool config routes test): critical
// ones the pager, camrecord's warnings the recording crew, the rest mail.
// The inhibit rules name alerts that exist.
func TestAlertmanagerRoutes(t *testing.T) {
	testenv.RequireTool(t, "amtool")
	rules := alerts(t)
	names := map[string]bool{}
	for _, r := range rules {
		names[r.Alert] = true
		sev := r.Labels["severity"]
		want := "ptpcam-mail"
		switch {
		case sev == "critical":
			want = "ptpcam-pager"
		case strings.HasPrefix(r.Alert, "PtpcamRecord"):
			want = "ptpcam-recording"
		}
		args := []string{"config", "routes", "test", "--config.file", "alertmanager.yml",
			"alertname=" + r.Alert, "severity=" + sev, "rig=stage-a", "instance=capture-1:9877", "serial=05520125"}
		out, err := exec.Command("amtool", args...).Output()
		if err != nil {
			t.Fatalf("amtool %v: %v", args, err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s (severity %q) goes to %q, want %q", r.Alert, sev, got, want)
		}
	}
	if len(rules) < 15 || !slices.ContainsFunc(rules, func(r rule) bool { return strings.HasPrefix(r.Alert, "PtpcamRecord") }) {
		t.Fatalf("%d alerts read, want both rule files'", len(rules))
	}
	b, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var am struct {
		Inhibit []struct {
			Source []string `yaml:"source_matchers"`
			Target []string `yaml:"target_matchers"`
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(b, &am); err != nil {
		t.Fatal(err)
	}
	for _, in := range am.Inhibit {
		for _, m := range append(in.Source, in.Target...) {
			name, ok := strings.CutPrefix(m, `alertname="`)
			if !ok {
				continue // a regex matcher (alertname=~) names a family
			}
			if name = strings.TrimSuffix(name, `"`); !names[name] {
				t.Errorf("inhibit rule matcher %s: no such alert in alerts/", m)
			}
		}
	}
	t.Logf("%d alerts routed, %d inhibit rules checked", len(rules), len(am.Inhibit))
}

package examples

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// startPrometheus runs Prometheus on conf, listening on a port of its own
// choice on 127.0.0.1, and returns its base URL.
func startPrometheus(t *testing.T, conf string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("prometheus", "--config.file", path, "--storage.tsdb.path", filepath.Join(dir, "tsdb"),
		"--web.listen-address", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	listening := regexp.MustCompile(`msg="Listening on" address=(127\.0\.0\.1:\d+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("prometheus did not log its listen address within 60 s")
	}
	return ""
}

// The relabelling does what examples/README.md says, as Prometheus itself
// applies it: each host listed once becomes an exporter target on :9877
// and a camrecord target on :9878, instance host:port, the name kept as
// host and the rig label carried. The hosts are loopback names here.
func TestPrometheusRelabelling(t *testing.T) {
	testenv.RequireTool(t, "prometheus")
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]string{"capture-1": "localhost", "capture-2": "127.0.0.1", "capture-3": "127.0.0.2"}
	conf := strings.ReplaceAll(string(b), "/usr/share/ptpcam/alerts/", filepath.Join(testenv.ModuleRoot(t), "alerts")+"/")
	for from, to := range hosts {
		conf = strings.ReplaceAll(conf, from, to)
	}
	base := startPrometheus(t, conf)
	want := []string{
		"camrecord 127.0.0.1:9878 host=127.0.0.1 rig=stage-a", "camrecord 127.0.0.2:9878 host=127.0.0.2 rig=stage-b",
		"camrecord localhost:9878 host=localhost rig=stage-a", "ptpcam 127.0.0.1:9877 host=127.0.0.1 rig=stage-a",
		"ptpcam 127.0.0.2:9877 host=127.0.0.2 rig=stage-b", "ptpcam localhost:9877 host=localhost rig=stage-a",
	}
	var got []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got = activeTargets(t, base)
		if len(got) >= len(want) {
			break
		}
		time.Sleep(200 * time.Millisecond) // poll for the event: discovery has run
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("targets after relabelling:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// activeTargets returns "job instance host=H rig=R" of each active target, sorted.
func activeTargets(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/targets?state=active")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil // not ready yet (503 until the TSDB is open)
	}
	var r struct {
		Data struct {
			ActiveTargets []struct {
				Labels map[string]string `json:"labels"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tg := range r.Data.ActiveTargets {
		l := tg.Labels
		out = append(out, fmt.Sprintf("%s %s host=%s rig=%s", l["job"], l["instance"], l["host"], l["rig"]))
	}
	sort.Strings(out)
	return out
}

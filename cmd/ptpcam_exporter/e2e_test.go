package main_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/dashboards"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// amWebhook is what Alertmanager posts to a webhook receiver.
type amWebhook struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

type received struct {
	alertname, serial, status, instance string
}

// webhook collects Alertmanager's notifications, one entry per alert.
type webhook struct {
	mu  sync.Mutex
	got []received
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var p amWebhook
	if err := json.NewDecoder(r.Body).Decode(&p); err == nil {
		w.mu.Lock()
		for _, a := range p.Alerts {
			w.got = append(w.got, received{a.Labels["alertname"], a.Labels["serial"], a.Status, a.Labels["instance"]})
		}
		w.mu.Unlock()
	}
	rw.WriteHeader(200)
}

func (w *webhook) all() []received {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]received(nil), w.got...)
}

// wait blocks until a notification matching alertname/status (and serial
// when not empty) arrived.
func (w *webhook) wait(t *testing.T, timeout time.Duration, alertname, serial, status string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, r := range w.all() {
			if r.alertname == alertname && r.status == status && (serial == "" || r.serial == serial) {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no %s notification for %s serial %q within %v; received %+v", status, alertname, serial, timeout, w.all())
}

// shortFor shortens every `for:` of the rules so the test needs seconds,
// not minutes; the promtool unit tests in alerts/ cover the real durations.
var forRE = regexp.MustCompile(`(?m)^(\s+for:\s*)\S+`)

func TestEndToEndAlerts(t *testing.T) {
	testenv.RequireTool(t, "prometheus", "prometheus-alertmanager", "ptp4l", "ffmpeg")
	cams, watched, recorded := e2eCameras(t)
	r := testenv.UpRig(t, rig.Config{Cameras: cams})
	host := r.Host()
	hook := &webhook{}
	l, err := host.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hook, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	args := []string{"--camera.enable-ptp", "--camera.interval", "1s"}
	for _, c := range watched {
		args = append(args, "--camera.serial", c.serial)
	}
	startRigExporter(t, r, args...)
	startMonitoring(t, r, l.Addr().String())
	p := &promAPI{client: &http.Client{Transport: &http.Transport{DialContext: host.DialContext}, Timeout: 5 * time.Second}}

	// Healthy: a grandmaster host; per camera up, capabilities, Slave and
	// a clock delta with its uncertainty.
	p.waitValue(t, `ptpcam_ptp_role{role="grandmaster"}`, 1, 60*time.Second)
	checkCameras(t, p, watched)
	ctl := func(serial, key, value string) {
		t.Helper()
		c, err := r.Camera(serial)
		if err != nil {
			t.Fatal(err)
		}
		if err := camsim.DialControl(c.Control).Set(t.Context(), key, value); err != nil {
			t.Fatal(err)
		}
	}

	// A take on two of the watched cameras: every query of the recorder
	// dashboard returns data while it runs, the exporter shows the two held
	// by camrecord, and a +5 ms step on one of them fires the desync alert
	// once, for that camera, from camrecord's series.
	recordTake(t, r, p, recorded, func() { takeDesync(t, p, hook, ctl, recorded[0]) })

	// The alerts annotation (ALERTS) has data once an alert fires, below.
	notAlerts := func(q dashboards.Query) bool { return !strings.Contains(q.Expr, "ALERTS") }
	var conditional []string
	for name, cond := range testenv.KnownMetrics(t) {
		if cond {
			conditional = append(conditional, name)
		}
	}
	dashboardQueriesReturnData(t, p, "ptpcam.json", notAlerts, conditional)

	// +5 ms on one impersonated camera: the desync alert fires for that
	// serial only, reaches the webhook, and resolves when the offset is
	// removed.
	ctl(e2eDesyncSerial, "offset", "5ms")
	hook.wait(t, 60*time.Second, "PtpcamCameraClockDesync", e2eDesyncSerial, "firing")
	dashboardQueriesReturnData(t, p, "ptpcam.json", func(q dashboards.Query) bool { return !notAlerts(q) }, conditional)
	ctl(e2eDesyncSerial, "offset", "0s")
	hook.wait(t, 60*time.Second, "PtpcamCameraClockDesync", e2eDesyncSerial, "resolved")
	for _, got := range hook.all() {
		if got.alertname == "PtpcamCameraClockDesync" && got.serial != e2eDesyncSerial && got.serial != recorded[0] {
			t.Errorf("desync alert for healthy camera %s", got.serial)
		}
	}

	// One camera in another domain becomes its own master.
	ctl(e2eDomainSerial, "ptp-domain", "1")
	hook.wait(t, 60*time.Second, "PtpcamSeveralMasters", "", "firing")
	hook.wait(t, 60*time.Second, "PtpcamCameraNotSynchronized", e2eDomainSerial, "firing")
}

// takeDesync, during a take of serial (among others): the exporter shows
// the camera up and held by camrecord; +5 ms on its clock fires
// PtpcamCameraClockDesync for it alone, from one series, camrecord's
// (instance recordAddr), and resolves when the offset is removed.
func takeDesync(t *testing.T, p *promAPI, hook *webhook, ctl func(serial, key, value string), serial string) {
	t.Helper()
	p.waitValue(t, fmt.Sprintf(`count(ptpcam_camera_controller_info{job="ptpcam", serial=%q, this_host="true"})`, serial), 1, 30*time.Second)
	p.waitValue(t, fmt.Sprintf(`ptpcam_camera_up{job="ptpcam", serial=%q}`, serial), 1, 10*time.Second)
	p.waitValue(t, fmt.Sprintf(`count(ptpcam_camera_clock_delta_seconds{serial=%q})`, serial), 1, 30*time.Second)
	ctl(serial, "offset", "5ms")
	hook.wait(t, 60*time.Second, "PtpcamCameraClockDesync", serial, "firing")
	ctl(serial, "offset", "0s")
	hook.wait(t, 60*time.Second, "PtpcamCameraClockDesync", serial, "resolved")
	instances := map[string]bool{}
	for _, got := range hook.all() {
		if got.alertname != "PtpcamCameraClockDesync" || got.status != "firing" {
			continue
		}
		if got.serial != serial {
			t.Errorf("desync alert during the take for camera %s, whose clock was not moved", got.serial)
		}
		instances[got.instance] = true
	}
	if len(instances) != 1 || !instances[recordAddr] {
		t.Errorf("desync of %s during the take fired from %v, want once, from camrecord's %s", serial, instances, recordAddr)
	}
	t.Logf("take: +5 ms on %s fired PtpcamCameraClockDesync from %v only", serial, slices.Collect(maps.Keys(instances)))
}

// startMonitoring runs Alertmanager (posting to the webhook at hookAddr)
// and Prometheus with the rules in the rig's host namespace; Prometheus
// scrapes the exporter (job ptpcam) and camrecord (job camrecord) every
// second.
func startMonitoring(t *testing.T, r *rig.Rig, hookAddr string) {
	t.Helper()
	rules, err := os.ReadFile("../../alerts/ptpcam.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rulesFile := write("rules.yml", forRE.ReplaceAllString(string(rules), "${1}3s"))
	amConf := write("am.yml", fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname, serial]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://%s/hook
        send_resolved: true
`, hookAddr))
	promConf := write("prom.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:19093']
rule_files: [%s]
scrape_configs:
  - job_name: ptpcam
    static_configs:
      - targets: ['127.0.0.1:19877']
  - job_name: camrecord
    static_configs:
      - targets: ['%s']
`, rulesFile, recordAddr))
	testenv.StartInRig(t, r, "prometheus-alertmanager", "--config.file", amConf, "--storage.path", filepath.Join(dir, "am"),
		"--web.listen-address", "127.0.0.1:19093", "--cluster.listen-address=")
	testenv.StartInRig(t, r, "prometheus", "--config.file", promConf, "--storage.tsdb.path", filepath.Join(dir, "tsdb"),
		"--web.listen-address", "127.0.0.1:19090")
}

// dashboardQueriesReturnData runs the queries of a dashboard (file under
// dashboards/) that which selects (all when nil; variables set to All)
// against the test's Prometheus and wants at least one series from each,
// waiting up to a deadline for rates to have two samples. Queries naming a
// conditional metric may be empty (for the exporter's dashboard, those
// listed as conditional in collector/testdata/metrics.txt: Sync age of
// slave hosts, ptp4l 4.0's timeout counters, the PHC of hardware
// timestamping, absent in this healthy grandmaster rig); they are logged.
func dashboardQueriesReturnData(t *testing.T, p *promAPI, file string, which func(dashboards.Query) bool, conditional []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../dashboards", file))
	if err != nil {
		t.Fatal(err)
	}
	all, err := dashboards.Queries(raw)
	if err != nil {
		t.Fatal(err)
	}
	qs := slices.DeleteFunc(all, func(q dashboards.Query) bool { return which != nil && !which(q) })
	if len(qs) == 0 {
		t.Fatalf("%s: no dashboard query selected", file)
	}
	deadline := time.Now().Add(30 * time.Second)
	empty := 0
	for _, q := range qs {
		expr, err := dashboards.Expand(q.Expr, "15s", "1h")
		if err != nil {
			t.Fatal(err)
		}
		cond := slices.ContainsFunc(conditional, func(m string) bool { return strings.Contains(expr, m) })
		for {
			vs, err := p.series(expr)
			if err != nil {
				t.Fatalf("%s %q: %s: %v", file, q.Where, expr, err)
			}
			if len(vs) > 0 {
				break
			}
			if cond {
				t.Logf("%s %q: no series from %s (conditional metric)", file, q.Where, expr)
				empty++
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %q: no series from %s", file, q.Where, expr)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Logf("%s: %d queries: %d returned series, %d conditional ones empty", file, len(qs), len(qs)-empty, empty)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	alertname, serial, status string
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
			w.got = append(w.got, received{a.Labels["alertname"], a.Labels["serial"], a.Status})
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
	testenv.RequireTool(t, "prometheus", "prometheus-alertmanager", "ptp4l")
	rules, err := os.ReadFile("../../alerts/ptpcam.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.UpRig(t, rig.Config{Cameras: rig.DefaultCameras(4, 0)})
	host := r.Host()
	dir := t.TempDir()

	hook := &webhook{}
	l, err := host.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hook, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

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
`, l.Addr()))
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
`, rulesFile))

	startRigExporter(t, r, "--camera.enable-ptp", "--camera.interval", "1s")
	startInRig(t, r, "prometheus-alertmanager", "--config.file", amConf, "--storage.path", filepath.Join(dir, "am"),
		"--web.listen-address", "127.0.0.1:19093", "--cluster.listen-address=")
	startInRig(t, r, "prometheus", "--config.file", promConf, "--storage.tsdb.path", filepath.Join(dir, "tsdb"),
		"--web.listen-address", "127.0.0.1:19090")

	client := &http.Client{Transport: &http.Transport{DialContext: host.DialContext}, Timeout: 5 * time.Second}
	query := func(q string) (float64, bool) {
		resp, err := client.Get("http://127.0.0.1:19090/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var res struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&res) != nil || len(res.Data.Result) != 1 {
			return 0, false
		}
		var v float64
		fmt.Sscan(res.Data.Result[0].Value[1].(string), &v)
		return v, true
	}
	waitQuery := func(q string, want float64, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			if v, ok := query(q); ok && v == want {
				return
			}
			if time.Now().After(deadline) {
				v, ok := query(q)
				t.Fatalf("%s = %v (%v), want %v within %v", q, v, ok, want, timeout)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	// Healthy: Prometheus sees four slave cameras and a grandmaster host.
	waitQuery(`sum(ptpcam_camera_ptp_status{status="slave"})`, 4, 60*time.Second)
	waitQuery(`ptpcam_ptp_role{role="grandmaster"}`, 1, 10*time.Second)
	waitQuery(`count(abs(ptpcam_camera_clock_delta_seconds) < 0.001)`, 4, 20*time.Second)

	// The alerts annotation (ALERTS) has data once an alert fires, below.
	notAlerts := func(q dashboards.Query) bool { return !strings.Contains(q.Expr, "ALERTS") }
	dashboardQueriesReturnData(t, client, notAlerts)

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

	// +5 ms on one camera: the desync alert fires for that serial only,
	// reaches the webhook, and resolves when the offset is removed.
	ctl("05520126", "offset", "5ms")
	hook.wait(t, 60*time.Second, "PtpcamCameraClockDesync", "05520126", "firing")
	dashboardQueriesReturnData(t, client, func(q dashboards.Query) bool { return !notAlerts(q) })
	ctl("05520126", "offset", "0s")
	hook.wait(t, 60*time.Second, "PtpcamCameraClockDesync", "05520126", "resolved")
	for _, got := range hook.all() {
		if got.alertname == "PtpcamCameraClockDesync" && got.serial != "05520126" {
			t.Errorf("desync alert for healthy camera %s", got.serial)
		}
	}

	// One camera in another domain becomes its own master.
	ctl("05520128", "ptp-domain", "1")
	hook.wait(t, 60*time.Second, "PtpcamSeveralMasters", "", "firing")
	hook.wait(t, 60*time.Second, "PtpcamCameraNotSynchronized", "05520128", "firing")
}

// dashboardQueriesReturnData runs the queries of the exporter's dashboard
// that which selects (variables set to All) against the test's Prometheus
// and wants at least one series from each, waiting up to a deadline for rates to have two
// samples. Queries of metrics listed as conditional in
// collector/testdata/metrics.txt may be empty in this healthy grandmaster
// rig (Sync age of slave hosts, ptp4l 4.0's timeout counters, the PHC of
// hardware timestamping); they are
// logged.
func dashboardQueriesReturnData(t *testing.T, client *http.Client, which func(dashboards.Query) bool) {
	t.Helper()
	raw, err := os.ReadFile("../../dashboards/ptpcam.json")
	if err != nil {
		t.Fatal(err)
	}
	all, err := dashboards.Queries(raw)
	if err != nil {
		t.Fatal(err)
	}
	qs := slices.DeleteFunc(all, func(q dashboards.Query) bool { return !which(q) })
	if len(qs) == 0 {
		t.Fatal("no dashboard query selected")
	}
	var conditional []string
	for name, cond := range testenv.KnownMetrics(t) {
		if cond {
			conditional = append(conditional, name)
		}
	}
	count := func(q string) (int, error) {
		resp, err := client.Get("http://127.0.0.1:19090/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var res struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			return 0, err
		}
		if res.Status != "success" {
			return 0, fmt.Errorf("%s", res.Error)
		}
		return len(res.Data.Result), nil
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
			n, err := count(expr)
			if err != nil {
				t.Fatalf("dashboard %q: %s: %v", q.Where, expr, err)
			}
			if n > 0 {
				break
			}
			if cond {
				t.Logf("dashboard %q: no series from %s (conditional metric)", q.Where, expr)
				empty++
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dashboard %q: no series from %s", q.Where, expr)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Logf("%d dashboard queries: %d returned series, %d conditional ones empty", len(qs), len(qs)-empty, empty)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

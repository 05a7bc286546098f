package main_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// rigExporter runs the exporter inside a rig's host namespace (camera
// discovery broadcasts) and scrapes it through the namespace.
type rigExporter struct {
	r      *rig.Rig
	client *http.Client
	url    string
}

// startRigExporter runs the exporter in the rig's host namespace on
// 127.0.0.1:19877 there, and waits until it answers.
func startRigExporter(t testing.TB, r *rig.Rig, args ...string) *rigExporter {
	t.Helper()
	testenv.StartInRig(t, r, exporterBin(t), append([]string{"--ptp.socket", r.Socket, "--web.listen-address", "127.0.0.1:19877",
		"--ptp.client-dir", t.TempDir()}, args...)...)
	e := &rigExporter{r: r, url: "http://127.0.0.1:19877/metrics",
		client: &http.Client{Transport: &http.Transport{DialContext: r.Host().DialContext}, Timeout: 5 * time.Second}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := e.client.Get(e.url)
		if err == nil {
			resp.Body.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not answering: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor scrapes until cond holds.
func (e *rigExporter) waitFor(t testing.TB, what string, timeout time.Duration, cond func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		mfs, _ := scrape(t, e.client, e.url)
		if cond(mfs) {
			return mfs
		}
		if time.Now().After(deadline) {
			_, body := scrape(t, e.client, e.url)
			t.Fatalf("%s: not within %v; last scrape:\n%s", what, timeout, grepPrefix(body, "ptpcam_camera_"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func grepPrefix(body, prefix string) string {
	var out []byte
	for _, l := range splitLines(body) {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return string(out)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestExporterCameras(t *testing.T) {
	cams := rig.DefaultCameras(4, 0)
	cams[3].Profile = "gev"
	cams = append(cams, rig.Camera{Serial: "05520130", Profile: "noptp"})
	r := testenv.UpRig(t, rig.Config{Cameras: cams})
	e := startRigExporter(t, r, "--camera.enable-ptp", "--camera.interval", "1s", "--camera.timeout", "500ms")
	ptpSerials := []string{"05520125", "05520126", "05520128", "05520129"}
	serial := func(s string) map[string]string { return map[string]string{"serial": s} }

	mfs := e.waitFor(t, "every PTP camera slave", 40*time.Second, func(m map[string]*dto.MetricFamily) bool {
		for _, s := range ptpSerials {
			if v, ok := lookup(m, "ptpcam_camera_ptp_status", map[string]string{"serial": s, "status": "slave"}); !ok || v != 1 {
				return false
			}
			if _, ok := lookup(m, "ptpcam_camera_clock_delta_seconds", serial(s)); !ok {
				return false
			}
		}
		return true
	})
	var hostGM string
	for _, m := range mfs["ptpcam_ptp_grandmaster_info"].Metric {
		hostGM = labelOf(m, "grandmaster_identity")
	}
	for _, s := range append(ptpSerials, "05520130") {
		if v := value(t, mfs, "ptpcam_camera_up", serial(s)); v != 1 {
			t.Errorf("camera %s up = %v", s, v)
		}
		if v := value(t, mfs, "ptpcam_camera_info", map[string]string{"serial": s, "interface": "ptp0"}); v != 1 {
			t.Errorf("camera %s info = %v", s, v)
		}
	}
	for _, s := range ptpSerials {
		if v := value(t, mfs, "ptpcam_camera_ptp_available", serial(s)); v != 1 {
			t.Errorf("camera %s ptp_available = %v", s, v)
		}
		if v := value(t, mfs, "ptpcam_camera_ptp_enabled", serial(s)); v != 1 {
			t.Errorf("camera %s ptp_enabled = %v", s, v)
		}
		d := value(t, mfs, "ptpcam_camera_clock_delta_seconds", serial(s))
		u := value(t, mfs, "ptpcam_camera_clock_delta_uncertainty_seconds", serial(s))
		// camsim runs on the host's clock: |delta| within the bracket + 100 µs.
		if math.Abs(d) > u+100e-6 || u <= 0 {
			t.Errorf("camera %s: delta %v s, uncertainty %v s", s, d, u)
		}
		if _, ok := lookup(mfs, "ptpcam_camera_ptp_grandmaster_info", map[string]string{"serial": s, "grandmaster_identity": hostGM}); !ok {
			t.Errorf("camera %s: no grandmaster_info naming the host's grandmaster %s", s, hostGM)
		}
	}
	// The camera without PTP: available 0, no status, no delta; nothing fails.
	if v := value(t, mfs, "ptpcam_camera_ptp_available", serial("05520130")); v != 0 {
		t.Errorf("noptp camera ptp_available = %v", v)
	}
	for _, name := range []string{"ptpcam_camera_ptp_status", "ptpcam_camera_clock_delta_seconds", "ptpcam_camera_ptp_enabled"} {
		if _, ok := lookup(mfs, name, serial("05520130")); ok {
			t.Errorf("noptp camera has %s", name)
		}
	}
	if v := value(t, mfs, "ptpcam_camera_host_reference_valid", nil); v != 1 {
		t.Errorf("host_reference_valid = %v", v)
	}
	// The rig's ptp4l timestamps in software: CLOCK_REALTIME is PTP time.
	if v := value(t, mfs, "ptpcam_host_reference_valid", map[string]string{"reason": "software_timestamping", "timestamping": "software", "interface": "none"}); v != 1 {
		t.Errorf("ptpcam_host_reference_valid{reason=software_timestamping} = %v", v)
	}
	if v := value(t, mfs, "ptpcam_scrape_collector_success", map[string]string{"collector": "camera"}); v != 1 {
		t.Errorf("camera collector success = %v", v)
	}
	_, body := scrape(t, e.client, e.url)
	promtoolCheck(t, body)
	// collector/testdata/metrics.txt, which the alert and dashboard tests
	// trust, is exactly what the exporter exposes.
	known := testenv.KnownMetrics(t)
	for name := range mfs {
		if _, ok := known[name]; !ok && strings.HasPrefix(name, "ptpcam_") {
			t.Errorf("metric %s is not listed in collector/testdata/metrics.txt", name)
		}
	}
	for name, conditional := range known {
		if !conditional && mfs[name] == nil {
			t.Errorf("metric %s listed in collector/testdata/metrics.txt is not exported", name)
		}
	}

	ctl := func(s, k, v string) {
		t.Helper()
		c, _ := r.Camera(s)
		if err := camsim.DialControl(c.Control).Set(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	// +5 ms shows in the delta.
	ctl("05520126", "offset", "5ms")
	e.waitFor(t, "delta of 05520126 ≈ 5 ms", 10*time.Second, func(m map[string]*dto.MetricFamily) bool {
		v, ok := lookup(m, "ptpcam_camera_clock_delta_seconds", serial("05520126"))
		u, _ := lookup(m, "ptpcam_camera_clock_delta_uncertainty_seconds", serial("05520126"))
		return ok && math.Abs(v-0.005) <= u+100e-6
	})
	ctl("05520126", "offset", "0s")

	// Unplugged: down within an interval or two, scrapes still answer
	// quickly (the client's 5 s timeout bounds them); back after replugging.
	ctl("05520125", "unplugged", "true")
	e.waitFor(t, "05520125 down", 5*time.Second, func(m map[string]*dto.MetricFamily) bool {
		v, ok := lookup(m, "ptpcam_camera_up", serial("05520125"))
		return ok && v == 0
	})
	ctl("05520125", "unplugged", "false")
	e.waitFor(t, "05520125 back", 20*time.Second, func(m map[string]*dto.MetricFamily) bool {
		v, ok := lookup(m, "ptpcam_camera_up", serial("05520125"))
		return ok && v == 1
	})

	heldByThirdParty(t, r, e, "05520128", "05520129")
}

// heldByThirdParty: another application (Aravis' arv-camera-test-0.8,
// streaming) takes a camera between the exporter's samples and keeps it.
// The exporter does not fight for it: the camera stays up, with PTP enable
// read, the holder's address in controller_info and no delta; no latch is
// sent meanwhile (over two sample rounds, seen on freeSerial). When the holder stops, the exporter latches it again.
func heldByThirdParty(t *testing.T, r *rig.Rig, e *rigExporter, s, freeSerial string) {
	t.Helper()
	holder := testenv.HoldCamera(t, r, s, "-w", "64", "-h", "64", "-f", "5")
	sel := map[string]string{"serial": s}
	held := func(m map[string]*dto.MetricFamily) bool {
		_, delta := lookup(m, "ptpcam_camera_clock_delta_seconds", sel)
		_, info := lookup(m, "ptpcam_camera_controller_info", map[string]string{"serial": s, "this_host": "true"})
		return info && !delta
	}
	mfs := e.waitFor(t, s+" held by arv-camera-test", 30*time.Second, held)
	latches := value(t, mfs, "ptpcam_camera_latches_total", sel)
	// Two more sample rounds while held (seen as latches of a free camera,
	// free): no latch of the held one, still up.
	free := map[string]string{"serial": freeSerial}
	for range 2 {
		n := value(t, mfs, "ptpcam_camera_latches_total", free)
		mfs = e.waitFor(t, s+" held through a later sample", 10*time.Second, func(m map[string]*dto.MetricFamily) bool {
			v, _ := lookup(m, "ptpcam_camera_latches_total", free)
			return v > n && held(m)
		})
	}
	for _, m := range mfs["ptpcam_camera_controller_info"].Metric {
		t.Logf("%s held: controller_info %s this_host=%s", s, labelOf(m, "address"), labelOf(m, "this_host"))
	}
	if v := value(t, mfs, "ptpcam_camera_up", sel); v != 1 {
		t.Errorf("%s held by another application: up %v, want 1", s, v)
	}
	if v := value(t, mfs, "ptpcam_camera_ptp_enabled", sel); v != 1 {
		t.Errorf("%s held: ptp_enabled %v, want 1 (read with monitor access)", s, v)
	}
	if n := value(t, mfs, "ptpcam_camera_latches_total", sel); n != latches {
		t.Errorf("%s held: %v latches sent while another application controls it", s, n-latches)
	}
	holder.Stop()
	e.waitFor(t, s+" latched again after the holder left", 30*time.Second, func(m map[string]*dto.MetricFamily) bool {
		_, delta := lookup(m, "ptpcam_camera_clock_delta_seconds", sel)
		_, info := lookup(m, "ptpcam_camera_controller_info", sel)
		n, _ := lookup(m, "ptpcam_camera_latches_total", sel)
		return delta && !info && n > latches
	})
}

package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// e2eCamera is one camera of the end-to-end rig and what Prometheus must
// show of it.
type e2eCamera struct {
	serial string
	name   string // the impersonated XML, or camsim's profile
	form   string // ptp_form of ptpcam_camera_capabilities_info; "none": no PTP
}

// The end-to-end rig: camsim's own sfnc cameras beside cameras impersonated
// from real vendor XMLs, one of each family with PTP (forms as the
// compatibility matrix finds them), and Baumer's TXG without PTP: its latch
// delta is its own free clock, far off the host's, and the desync alert must
// leave it out (checkCameras checks it: up, capabilities with ptp_form none,
// ptp_available 0, never Slave).
var e2eVendors = []struct{ file, form string }{
	{"Basler_a2A2600-20gmBAS.xml", "PtpEnable:bool"},
	{"Basler_acA2040-35gm.xml", "GevIEEE1588:bool"},
	{"FLIR_BFS-PGE-50S4C.xml", "GevIEEE1588:bool"},
	{"AlliedVision_Manta_G235C.xml", "PtpMode:enum"},
	{"Baumer_TXG08c.xml", "none"},
}

const (
	e2eDesyncSerial = "730000" // Basler ace 2: the +5 ms camera
	e2eDomainSerial = "05520128"
	recordAddr      = "127.0.0.1:19879" // camrecord's metrics in the rig's host namespace
)

// e2eCameras returns the rig's cameras, the ones the exporter watches (all)
// and the sfnc cameras camrecord records.
func e2eCameras(t *testing.T) (cams []rig.Camera, watched []e2eCamera, recorded []string) {
	t.Helper()
	dir := testenv.VendorXMLDir(t)
	for i, d := range rig.DefaultCameras(4, 0) {
		cams = append(cams, d)
		watched = append(watched, e2eCamera{d.Serial, "camsim profile sfnc", "PtpEnable:bool"})
		if i%2 == 1 { // 05520126, 05520129
			recorded = append(recorded, d.Serial)
		}
	}
	for i, v := range e2eVendors {
		f := filepath.Join(dir, v.file)
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("vendor XML: %v", err)
		}
		s := fmt.Sprintf("730%03d", i)
		cams = append(cams, rig.Camera{Serial: s, Profile: "sfnc", GenICam: f,
			Args: []string{"--genicam=" + f, "--settle=1s", "--announce-timeout=3s"}})
		watched = append(watched, e2eCamera{s, v.file, v.form})
	}
	return cams, watched, recorded
}

// promAPI queries the test's Prometheus in the rig's host namespace.
type promAPI struct{ client *http.Client }

// series runs an instant query and returns its values.
func (p *promAPI) series(q string) ([]float64, error) {
	resp, err := p.client.Get("http://127.0.0.1:19090/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, err
	}
	if res.Status != "success" {
		return nil, fmt.Errorf("%s", res.Error)
	}
	var out []float64
	for _, r := range res.Data.Result {
		var v float64
		s, _ := r.Value[1].(string)
		fmt.Sscan(s, &v)
		out = append(out, v)
	}
	return out, nil
}

// query returns the value of a query with exactly one series.
func (p *promAPI) query(q string) (float64, bool) {
	vs, err := p.series(q)
	if err != nil || len(vs) != 1 {
		return 0, false
	}
	return vs[0], true
}

// waitValue waits until q has one series of value want.
func (p *promAPI) waitValue(t *testing.T, q string, want float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if v, ok := p.query(q); ok && v == want {
			return
		}
		if time.Now().After(deadline) {
			vs, err := p.series(q)
			t.Fatalf("%s = %v (%v), want one series of %v within %v", q, vs, err, want, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkCameras: through Prometheus, every watched camera is up, has its
// capabilities with the PTP form of its family, and, with PTP, is Slave
// with a clock delta within the desync threshold and its uncertainty.
func checkCameras(t *testing.T, p *promAPI, cams []e2eCamera) {
	t.Helper()
	for _, c := range cams {
		sel := fmt.Sprintf(`{job="ptpcam", serial=%q}`, c.serial)
		p.waitValue(t, "ptpcam_camera_up"+sel, 1, 90*time.Second)
		p.waitValue(t, fmt.Sprintf(`ptpcam_camera_capabilities_info{job="ptpcam", serial=%q, ptp_form=%q}`, c.serial, c.form), 1, 10*time.Second)
		if c.form == "none" {
			p.waitValue(t, "ptpcam_camera_ptp_available"+sel, 0, 10*time.Second)
			if vs, err := p.series(fmt.Sprintf(`ptpcam_camera_ptp_status{job="ptpcam", serial=%q, status="slave"} == 1`, c.serial)); err != nil || len(vs) != 0 {
				t.Errorf("%s (%s, no PTP): slave status %v (%v)", c.serial, c.name, vs, err)
			}
			continue
		}
		p.waitValue(t, fmt.Sprintf(`ptpcam_camera_ptp_status{job="ptpcam", serial=%q, status="slave"}`, c.serial), 1, 90*time.Second)
		p.waitValue(t, "abs(ptpcam_camera_clock_delta_seconds"+sel+") < bool 0.001", 1, 30*time.Second)
		p.waitValue(t, "ptpcam_camera_clock_delta_uncertainty_seconds"+sel+" < bool 0.001", 1, 30*time.Second)
		d, _ := p.query("ptpcam_camera_clock_delta_seconds" + sel)
		u, _ := p.query("ptpcam_camera_clock_delta_uncertainty_seconds" + sel)
		t.Logf("%s (%s, %s): Slave, delta %v ± %v", c.serial, c.name, c.form,
			time.Duration(d*1e9), time.Duration(u*1e9))
	}
}

// recordTake runs camrecord on serials (cameras the exporter watches too)
// until every query of the recorder dashboard returned data through
// Prometheus' camrecord job and during (if not nil) returned, then stops it
// with SIGINT: a clean take.
func recordTake(t *testing.T, r *rig.Rig, p *promAPI, serials []string, during func()) {
	t.Helper()
	bin := filepath.Join(testenv.Build(t, "camrecord"), "camrecord")
	args := []string{"--output-dir", t.TempDir(), "--ptp.socket", r.Socket, "--web.listen-address", recordAddr,
		"--lead-time", "3s", "--progress.interval", "2s", "--width", "320", "--height", "240", "--fps", "25",
		"--duration", "0s", "--encoder", "libx264", "--camera.sample-interval", "1s"}
	for _, s := range serials {
		args = append(args, "--serial", s)
	}
	cmd := r.Host().Command(t.Context(), bin, args...)
	out := &testenv.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("camrecord output:\n%s", tail(out.String(), 4000))
		}
	})
	// Recording on every camera, as Prometheus scraped it.
	p.waitValue(t, `ptpcam_record_state{job="camrecord", state="recording"}`, 1, 120*time.Second)
	p.waitValue(t, `count(rate(ptpcam_record_frames_written_total{job="camrecord"}[15s]) > 0)`, float64(len(serials)), 60*time.Second)
	dashboardQueriesReturnData(t, p, "recorder.json", nil, nil)
	if during != nil {
		during()
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		stopped = true
	case <-time.After(60 * time.Second):
		t.Fatalf("camrecord still running 60 s after SIGINT")
	}
	// The take ends by itself with no camera failed. Exit 3 (frames lost)
	// is logged, not failed: the take's cleanliness is camrecord's own
	// tests' (TestRecordStopAndEncoders); here it has been seen once in
	// four runs, a camera delivering ~100 frames before the armed start
	// (dropped as late) under this machine's load.
	switch code := cmd.ProcessState.ExitCode(); code {
	case 0:
	case 3:
		t.Logf("camrecord after SIGINT: exit 3 (frames lost; see the Camera done lines)")
	default:
		t.Errorf("camrecord after SIGINT: exit %d, want 0 (or 3, frames lost)", code)
	}
	if !strings.Contains(out.String(), "failed_cameras=0") {
		t.Errorf("camrecord's take did not finish with failed_cameras=0")
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, `msg="Camera done"`) || strings.Contains(l, `msg="Take finished"`) {
			t.Logf("camrecord: %s", l[strings.Index(l, "msg="):])
		}
	}
	if !strings.Contains(out.String(), `msg="Armed`) {
		t.Errorf("camrecord never logged Armed")
	}
}

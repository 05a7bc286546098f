package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// exporterAddr is where the test's ptpcam_exporter serves metrics inside the
// rig's host namespace.
const exporterAddr = "127.0.0.1:19877"

// startExporter runs ptpcam_exporter in the rig's host namespace until the
// test ends; its log is shown when the test fails.
func startExporter(t *testing.T, r *rig.Rig, args ...string) {
	t.Helper()
	bin := filepath.Join(testenv.Build(t, "ptpcam_exporter"), "ptpcam_exporter")
	all := append([]string{"--ptp.socket", r.Socket, "--web.listen-address", exporterAddr, "--ptp.client-dir", t.TempDir()}, args...)
	testenv.StartInRig(t, r, bin, all...)
}

// scrapeAt reads the metrics at addr inside the rig's host namespace.
func scrapeAt(r *rig.Rig, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := r.Host().Command(ctx, "curl", "-sf", "http://"+addr+"/metrics").Output()
	return string(out), err
}

// waitScrape scrapes addr until cond holds of the body, and returns it.
// It fails after timeout, or when stop (if not nil) is closed first.
func waitScrape(t *testing.T, r *rig.Rig, addr, what string, timeout time.Duration, stop <-chan struct{}, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		body, err := scrapeAt(r, addr)
		if err == nil && cond(body) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last scrape of %s: %v)\n%s", what, timeout, addr, err, grepCamera(body))
		}
		select {
		case <-stop:
			t.Fatalf("%s: camrecord exited first", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func grepCamera(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "ptpcam_camera_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// series are the samples of one metric and camera: label text → value.
func series(body, name, serial string) map[string]float64 {
	out := map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, name+"{") || !strings.Contains(l, ofSerial(serial)) {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		var v float64
		fmt.Sscan(l[i+1:], &v)
		out[l[len(name):i]] = v
	}
	return out
}

func one(body, name, serial string) (float64, bool) {
	s := series(body, name, serial)
	for _, v := range s {
		return v, len(s) == 1
	}
	return 0, false
}

// TestRecordRig: the operator's rig, ptpcam_exporter with
// --camera.enable-ptp watching the cameras, then camrecord records all 4
// simulated cameras, 320x240 BayerGR8 at 50 fps for 10 s with libx264, sized
// to leave margin on a machine 3x slower than ours with one of its 2 cores
// busy. The take is whole (exit 0, every trigger's frame in every file,
// start skew <= 1 ms); during it camrecord's frame counter grows between
// scrapes and it serves each camera's clock delta with its uncertainty, and
// the exporter reports each camera up and held by camrecord's address (this
// host), without a delta; after it the exporter latches them again.
func TestRecordRig(t *testing.T) {
	const frames = 500 // 10 s at 50 fps
	r := upRig(t, 4)
	startExporter(t, r, "--camera.enable-ptp", "--camera.interval", "1s", "--camera.timeout", "900ms")
	serials := make([]string, len(r.Cameras))
	for i, c := range r.Cameras {
		serials[i] = c.Serial
	}
	latched := func(body string) bool {
		for _, s := range serials {
			if _, ok := one(body, "ptpcam_camera_clock_delta_seconds", s); !ok {
				return false
			}
		}
		return true
	}
	waitScrape(t, r, exporterAddr, "exporter latches every camera", 90*time.Second, nil, latched)

	rec := startRecord(t, r, "--width", "320", "--height", "240", "--fps", "50", "--duration", "10s",
		"--encoder", "libx264", "--camera.sample-interval", "1s")
	// Mid-take (a second's frames written on every camera): frames must
	// increase between two scrapes, and the state is recording.
	first := rec.waitMetric(t, r, framesWritten, "", 4*50, 60*time.Second)
	if metricSum(scrape(t, r), "ptpcam_record_state", `state="recording"`) != 1 {
		t.Errorf("state not recording with %v frames written", first)
	}
	if second := rec.waitMetric(t, r, framesWritten, "", first+1, 30*time.Second); second <= first {
		t.Errorf("frames_written_total did not increase during the take: %v then %v", first, second)
	}
	checkCamrecordDeltas(t, r, rec, serials)
	during := checkExporterHeld(t, r, rec, serials)

	if code := rec.wait(t, 90*time.Second); code != 0 {
		t.Errorf("camrecord exit code %d, want 0", code)
	}
	s := readSession(t, rec.dir)
	if s.Result.Frames != frames || len(s.Cameras) != 4 {
		t.Fatalf("take: %d frames, %d cameras; want %d, 4", s.Result.Frames, len(s.Cameras), frames)
	}
	if sk := s.Result.StartSkewNs; sk < 0 || sk > int64(time.Millisecond) {
		t.Errorf("start skew %v, want <= 1ms", time.Duration(sk))
	}
	for _, c := range s.Cameras {
		checkWholeTake(t, s, c, frames)
	}
	// After the take the exporter takes the cameras again for its samples.
	waitScrape(t, r, exporterAddr, "exporter latches every camera again", 30*time.Second, nil, func(b string) bool {
		for _, s := range serials {
			n, _ := one(b, "ptpcam_camera_latches_total", s)
			if len(series(b, "ptpcam_camera_controller_info", s)) != 0 || n <= during[s] {
				return false
			}
		}
		return latched(b)
	})
}

// checkCamrecordDeltas: during the take camrecord serves every camera's
// delta with its uncertainty, within ±1 ms.
func checkCamrecordDeltas(t *testing.T, r *rig.Rig, rec *recording, serials []string) {
	t.Helper()
	body := waitScrape(t, r, metricsAddr, "camrecord serves every camera's delta", 30*time.Second, rec.done, func(b string) bool {
		for _, s := range serials {
			_, d := one(b, "ptpcam_camera_clock_delta_seconds", s)
			_, u := one(b, "ptpcam_camera_clock_delta_uncertainty_seconds", s)
			if !d || !u {
				return false
			}
		}
		return true
	})
	for _, s := range serials {
		d, _ := one(body, "ptpcam_camera_clock_delta_seconds", s)
		u, _ := one(body, "ptpcam_camera_clock_delta_uncertainty_seconds", s)
		if up, _ := one(body, "ptpcam_camera_up", s); up != 1 || d > 1e-3 || d < -1e-3 || u <= 0 || u > 1e-3 {
			t.Errorf("camrecord, camera %s during the take: up %v, delta %v ± %v; want up, within ±1 ms", s, up, d, u)
		}
		t.Logf("camrecord, camera %s: delta %v ± %v", s, time.Duration(d*1e9), time.Duration(u*1e9))
	}
	// The camera series camrecord adds pass Prometheus' lint as the
	// exporter's do.
	var camera []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimPrefix(strings.TrimPrefix(l, "# HELP "), "# TYPE "), "ptpcam_camera_") {
			camera = append(camera, l)
		}
	}
	testenv.RequireTool(t, "promtool")
	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = strings.NewReader(strings.Join(camera, "\n") + "\n")
	if out, err := lint.CombinedOutput(); err != nil || len(camera) == 0 {
		t.Errorf("promtool check metrics of camrecord's %d ptpcam_camera_ lines: %v\n%s", len(camera), err, out)
	}
}

// checkExporterHeld: during the take the exporter reports every camera up
// and held by camrecord (this host's address), without a delta; it returns
// each camera's latches_total then.
func checkExporterHeld(t *testing.T, r *rig.Rig, rec *recording, serials []string) map[string]float64 {
	t.Helper()
	// The exporter: held by camrecord (this host), up, no delta.
	holder := regexp.MustCompile(`address="` + regexp.QuoteMeta(r.HostAddress) + `:\d+".*this_host="true"`)
	heldAll := func(b string) bool {
		for _, s := range serials {
			ok := false
			for labels := range series(b, "ptpcam_camera_controller_info", s) {
				ok = ok || holder.MatchString(labels)
			}
			if _, delta := one(b, "ptpcam_camera_clock_delta_seconds", s); !ok || delta {
				return false
			}
		}
		return true
	}
	body := waitScrape(t, r, exporterAddr, "exporter reports every camera held by camrecord, no delta", 30*time.Second, rec.done, heldAll)
	during := map[string]float64{}
	for _, s := range serials {
		if up, _ := one(body, "ptpcam_camera_up", s); up != 1 {
			t.Errorf("exporter, camera %s held by camrecord: up %v, want 1", s, up)
		}
		during[s], _ = one(body, "ptpcam_camera_latches_total", s)
		t.Logf("exporter, camera %s: %v", s, series(body, "ptpcam_camera_controller_info", s))
	}

	return during
}

// The camera-sample flags: defaults as the exporter's, a negative interval
// and an unknown timescale refused by parse, naming the flag and the values
// allowed, before any camera is touched.
func TestCameraSampleFlags(t *testing.T) {
	t.Parallel()
	o, _, err := parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if *o.sampleInterval != 5*time.Second || *o.sampleTimeout != 2*time.Second || *o.timescale != "auto" {
		t.Errorf("defaults: interval %v, timeout %v, timescale %q; want 5s, 2s, auto", *o.sampleInterval, *o.sampleTimeout, *o.timescale)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--camera.sample-interval=-1s"}, "--camera.sample-interval -1s: want >= 0"},
		{[]string{"--camera.timescale", "gps"}, `--camera.timescale "gps": want auto, tai or utc`},
		{[]string{"--camera.control-wait=-1s"}, "--camera.control-wait -1s: want >= 0"},
	} {
		if _, _, err := parse(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/record"
	"github.com/ptpcam/ptpcam/rig"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPerCameraSettings: on a rig of two cameras, a YAML config gives each
// its own exposure and gain, read back into the session JSON with the
// take id, model, firmware and capabilities; then a config with a missing
// feature, values out of range and off the increment, a read-only feature
// and a pixel format the cameras do not offer exits 1 naming each, before
// the preflight, with no file made and no camera armed or reconfigured.
func TestPerCameraSettings(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l", "ffmpeg", "ffprobe", "curl")
	// Two camsim cameras to record, and a Basler ace 2 impersonated from
	// its real XML (a mono camera: no Bayer format) only to be refused.
	basler := filepath.Join(testenv.VendorXMLDir(t), "Basler_a2A2600-20gmBAS.xml")
	cams := append(rig.DefaultCameras(2, 0), rig.Camera{Serial: "GCBAS01", Profile: "sfnc", GenICam: basler,
		Args: []string{"--genicam=" + basler, "--settle=1s", "--announce-timeout=3s"}})
	r := testenv.UpRig(t, rig.Config{Name: rig.UniqueName("cr"), Cameras: cams})
	a, b, c := cams[0].Serial, cams[1].Serial, cams[2].Serial
	t.Run("applied", func(t *testing.T) { settingsApplied(t, r, a, b) })
	t.Run("refused", func(t *testing.T) { settingsRefused(t, r, a, b, c) })
}

// settingsApplied: each camera's own exposure and gain, read back.
func settingsApplied(t *testing.T, r *rig.Rig, a, b string) {
	conf := writeFile(t, "rig.yaml", `# two cameras, one take
flags:
  encoder: libx264
  duration: 2s
defaults: {width: 320, height: 240, pixel_format: BayerGR8, fps: 50, exposure: 10000, gain: 1}
cameras:
  - serial: "`+a+`"
    name: left
    features: {ExposureTime: 8000, Gain: 6}
  - serial: "`+b+`"
    name: right
    exposure: 4000
    gain: 3.5
`)
	rec := startRecord(t, r, "--config", conf, "--take-id", "rig-7:take-1")
	if code := rec.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	s := readSession(t, rec.dir)
	if s.TakeID != "rig-7:take-1" {
		t.Errorf("take_id %q, want rig-7:take-1", s.TakeID)
	}
	want := map[string]struct{ name, exp, gain string }{a: {"left", "8000", "6"}, b: {"right", "4000", "3.5"}}
	if len(s.Devices) != 2 {
		t.Fatalf("session devices %+v, want 2", s.Devices)
	}
	for _, d := range s.Devices {
		w := want[d.Serial]
		got := map[string]string{}
		for _, f := range d.Settings {
			got[f.Name] = f.Value
		}
		if d.Name != w.name || got["ExposureTime"] != w.exp || got["Gain"] != w.gain || got["Width"] != "320" ||
			got["Height"] != "240" || got["PixelFormat"] != "BayerGR8" || got["AcquisitionFrameRate"] != "50" {
			t.Errorf("camera %s: name %q, read back %v; want name %q, ExposureTime %s, Gain %s, 320x240 BayerGR8 at 50",
				d.Serial, d.Name, got, w.name, w.exp, w.gain)
		}
		if d.Model == "" || d.Firmware == "" || d.Capabilities.PTPForm == "" {
			t.Errorf("camera %s: model %q firmware %q capabilities %+v: want all known", d.Serial, d.Model, d.Firmware, d.Capabilities)
		}
	}
	for _, c := range s.Cameras {
		checkWholeTake(t, s, c, 100)
	}
}

// settingsRefused: every bad setting named, nothing changed.
func settingsRefused(t *testing.T, r *rig.Rig, a, b, c string) {
	before := camStates(t, r, a, b, c)
	conf := writeFile(t, "bad.yaml", `defaults: {width: 640, height: 480, pixel_format: Mono16, fps: 25}
cameras:
  - serial: "`+a+`"
    exposure: 5
    features: {NoSuchFeature: 1, GevSCPSPacketSize: 1501, SensorWidth: 100}
  - serial: "`+b+`"
    gain: 30
  - serial: "`+c+`"
    exposure: -1
    features: {TriggerSource: Line9}
`)
	rec := startRecord(t, r, "--config", conf, "--encoder", "libx264", "--duration", "2s")
	code := rec.wait(t, 60*time.Second)
	out := rec.out.String()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Camera settings") {
			t.Log(l)
		}
	}
	for _, w := range []string{
		`camera ` + a + `: NoSuchFeature = \"1\": the camera has no such feature`,
		`camera ` + a + `: GevSCPSPacketSize = \"1501\": off the increment (allowed: 576..16404 in steps of 4 from 576)`,
		`camera ` + a + `: SensorWidth = \"100\": read-only`,
		`camera ` + a + `: ExposureTime = \"5\": out of range (allowed: 10..1e+06 us)`,
		`camera ` + b + `: Gain = \"30\": out of range (allowed: 0..24 dB)`,
		`camera ` + b + `: PixelFormat = \"Mono16\": the camera does not offer this entry (allowed: one of Mono8, BayerGR8)`,
		// The Basler's own entries and bounds, from its XML.
		`camera ` + c + `: PixelFormat = \"Mono16\": the camera does not offer this entry (allowed: one of Mono8, Mono10`,
		`camera ` + c + `: ExposureTime = \"-1\": out of range (allowed: `,
		`camera ` + c + `: TriggerSource = \"Line9\": the camera does not offer this entry (allowed: one of `,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %s", w)
		}
	}
	if strings.Contains(out, "Preflight") || strings.Contains(out, "Armed") || strings.Contains(out, "write_register") {
		t.Errorf("the settings were not refused before the preflight and arming:\n%s", out)
	}
	if ents, err := os.ReadDir(rec.dir); err != nil || len(ents) != 0 {
		t.Errorf("output dir: %v %v, want no file", ents, err)
	}
	after := camStates(t, r, a, b, c)
	for i, st := range after {
		if st.Acquiring || st.SchedulerActive || st.Width != before[i].Width || st.PixelFormat != before[i].PixelFormat ||
			st.PacketSize != before[i].PacketSize {
			t.Errorf("camera %s after the refused take: acquiring %v, scheduler %v, %dx? %s packet %d; before %dx? %s packet %d",
				st.Serial, st.Acquiring, st.SchedulerActive, st.Width, st.PixelFormat, st.PacketSize,
				before[i].Width, before[i].PixelFormat, before[i].PacketSize)
		}
	}
}

func camStates(t *testing.T, r *rig.Rig, serials ...string) []camsim.State {
	t.Helper()
	var out []camsim.State
	for _, s := range serials {
		rc, err := r.Camera(s)
		if err != nil {
			t.Fatal(err)
		}
		st, err := camsim.DialControl(rc.Control).State(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// TestRigConfig: the YAML file's flags, defaults and cameras, strict about
// keys (naming the allowed ones, with lines), the command line overriding
// it, and settings merged defaults → camera → --camera.feature.
func TestRigConfig(t *testing.T) {
	conf := writeFile(t, "rig.yaml", `flags:
  duration: 5s
  encoder: libx264
defaults: {width: 640, height: 480, pixel_format: BayerGR8, fps: 50, gain: 2, features: {ExposureAuto: Off, Gamma: 1}}
cameras:
  - serial: "05520125"
    name: left
    features: {ExposureTime: 8000, Gain: 6}
  - serial: "05520126"
    exposure: 4000
    offset_x: 16
`)
	_, o, err := parseFor(t, "--config", conf, "--fps", "25", "--camera.feature", "Gamma=0.8")
	if err != nil {
		t.Fatal(err)
	}
	if *o.width != 640 || *o.fps != 25 || *o.duration != 5*time.Second || *o.encoder != "libx264" || strings.Join(*o.serials, ",") != "05520125,05520126" {
		t.Errorf("width %d fps %v duration %v encoder %s serials %v; want 640, 25 (command line), 5s, libx264, both",
			*o.width, *o.fps, *o.duration, *o.encoder, *o.serials)
	}
	cs, err := o.cameraSettings([]string{"05520125", "05520126", "other"})
	if err != nil {
		t.Fatal(err)
	}
	feat := func(s record.CameraSettings) string {
		var p []string
		for _, f := range s.Features {
			p = append(p, f.Name+"="+f.Value)
		}
		return strings.Join(p, " ")
	}
	l, rt, other := cs["05520125"], cs["05520126"], cs["other"]
	// left's own Gain feature beats the default gain: 2 is not written after it.
	if l.Name != "left" || feat(l) != "ExposureAuto=Off Gamma=0.8 ExposureTime=8000 Gain=6" || l.Gain != nil || l.Exposure != nil {
		t.Errorf("left: %+v features %s", l, feat(l))
	}
	if *rt.Exposure != 4000 || *rt.OffsetX != 16 || *rt.Gain != 2 || feat(rt) != "ExposureAuto=Off Gamma=0.8" {
		t.Errorf("right: %+v features %s", rt, feat(rt))
	}
	if other.Name != "" || *other.Gain != 2 || feat(other) != "ExposureAuto=Off Gamma=0.8" {
		t.Errorf("a camera not in the file: %+v features %s, want the defaults", other, feat(other))
	}

	for _, tc := range []struct{ text, want string }{
		{"defaults: {widht: 640}\n", `bad.yaml:1: unknown key "widht" in defaults (allowed: width, height, pixel_format, fps, offset_x, offset_y, exposure, gain, features)`},
		{"cameras:\n  - serial: \"1\"\n    gian: 3\n", `bad.yaml:3: unknown key "gian" in cameras[0] (allowed: serial, name, width`},
		{"camera: []\n", `bad.yaml:1: unknown key "camera" in the file (allowed: flags, defaults, cameras)`},
		{"cameras:\n  - name: x\n", `bad.yaml:2: cameras[0]: no serial`},
		{"cameras:\n  - serial: \"1\"\n  - serial: \"1\"\n", `bad.yaml:3: cameras[1]: serial "1" already given on line 2`},
		{"defaults:\n  exposure: long\n", `bad.yaml:2: defaults.exposure "long": want a float64`},
		{"flags:\n  widht: 3\n", `bad.yaml:2: unknown flag "widht"`},
		{"flags: {width: 640}\ndefaults: {width: 320}\n", `defaults and flags both set width`},
		{"defaults: {width: 320}\ncameras:\n  - {serial: \"1\", width: 640}\n", `bad.yaml:3: camera 1: width 640 differs from the take's 320`},
	} {
		p := writeFile(t, "bad.yaml", tc.text)
		_, o, err := parseFor(t, "--config", p)
		if err == nil {
			_, err = o.cameraSettings([]string{"1"})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
	if _, o, err := parseFor(t, "--camera.feature", "Gamma"); err == nil {
		if _, err = o.cameraSettings(nil); err == nil || !strings.Contains(err.Error(), `--camera.feature "Gamma": want NAME=VALUE`) {
			t.Errorf("--camera.feature Gamma: %v", err)
		}
	}
	_, o, err = parseFor(t, "--take-id", "a b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.recorder(slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), `take id "a b": want 1 to 64 of`) {
		t.Errorf("--take-id \"a b\": %v", err)
	}
}

// parseFor parses args as run does, without running.
func parseFor(t *testing.T, args ...string) (*rigConfig, *options, error) {
	t.Helper()
	o, _, err := parse(args)
	if err != nil {
		return nil, nil, err
	}
	return o.config, o, nil
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/record"
	"github.com/ptpcam/ptpcam/rig"
)

// vendorCam is a camera of the rig impersonating a vendor XML.
func vendorCam(t testing.TB, serial, file string) rig.Camera {
	f := filepath.Join(testenv.VendorXMLDir(t), file)
	return rig.Camera{Serial: serial, Profile: "sfnc", GenICam: f, Args: []string{"--genicam=" + f, "--settle=1s", "--announce-timeout=3s"}}
}

// TestSyncMixedRig: two camrecords on disjoint cameras of one rig (sharing
// the host clock, the rig's PTP timeline) with one --start-at and --sync
// auto. The first records camsim's own profile (its ActionScheduler) and two
// impersonated Basler ace 2 (scheduled action commands, ActionQueueSize 2);
// the second a Basler ace classic (its TriggerMode entries gated by inquiry
// register bits camsim solves at load), an Allied Vision Manta (ticks: its
// action_time in its own unit) and a FLIR Blackfly S (its frame rate over a
// timebase register; triggered frames paced over the trigger interval). The clock of one ace 2
// (OVF) falls 60 ms behind mid-take (a rig fault), so that the commands
// sent within the queue bound by host time overflow its queue: counted as
// overflows, filled as gaps, the take goes on. Every other camera's file
// holds exactly 500 frames (ffprobe) and its sidecar 500 rows on the 20 ms
// grid, all received on the scheduler cameras; an action camera may have a
// few gaps (at most 5%) where the loaded host could not send a command in
// its window, each counted (skipped, late, no_ack); the first frames of both camrecords share one timestamp, the
// --start-at instant; each camera's start mode is in the session file and
// the metrics. Size 320x240 Mono8 (the ace 2 XML has no Bayer format),
// 50 fps, 10 s, default packets: the 640x480 was measured on a
// loaded 2-core machine (load 7) and does not fit with margin: with
// 1500-byte packets the scheduler cameras lost frames (448 of 500
// completed, 58532 resend requests) and the action cameras' commands went
// unanswered (no_ack 187 of 500); with GevSCPSPacketSize=8000 (the ace 2
// allows at most 8192) the streams completed but the host still missed
// ~100-160 action acknowledgements per camera, and the tick-timestamp
// cameras' (ace classic, Manta, Blackfly S) frames arrived incomplete.
func TestSyncMixedRig(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l", "ffmpeg", "ffprobe", "curl")
	const frames = 500
	// One camera of each kind the issue names, plus a second ace 2 whose
	// queue is made to overflow: six streams, not eight, for margin on a
	// loaded 2-core host.
	cams := []rig.Camera{{Serial: "05520125", Profile: "sfnc"}, vendorCam(t, "BA2", "Basler_a2A2600-20gmBAS.xml"),
		vendorCam(t, "OVF", "Basler_a2A2600-20gmBAS.xml"),
		vendorCam(t, "AVM", "AlliedVision_Manta_G235C.xml"), vendorCam(t, "BAC", "Basler_acA2040-35gm.xml"),
		vendorCam(t, "BFS", "FLIR_BFS-PGE-50S4C.xml")}
	r := testenv.UpRig(t, rig.Config{Name: rig.UniqueName("cs"), Cameras: cams})
	testenv.Build(t, "camrecord") // before the instant is chosen: a build on a loaded host takes long
	// Both camrecords' preflight takes a few seconds: 25 s leaves both
	// more than their lead time.
	startAt := time.Now().Add(25 * time.Second).Truncate(time.Second)
	common := []string{"--width", "320", "--height", "240", "--pixel-format", "Mono8", "--fps", "50", "--duration", "10s",
		"--encoder", "raw", "--sync", "auto", "--start-at", startAt.UTC().Format(time.RFC3339Nano)}
	a := startRecordAt(t, r, metricsAddr, append([]string{"--camera.serial", "05520125", "--camera.serial", "BA2", "--camera.serial", "OVF"}, common...)...)
	b := startRecordAt(t, r, "127.0.0.1:19879", append([]string{"--camera.serial", "BAC", "--camera.serial", "AVM", "--camera.serial", "BFS"}, common...)...)

	for serial, mode := range map[string]string{"05520125": "scheduler", "BA2": "action", "OVF": "action"} {
		a.waitMetric(t, r, "ptpcam_record_camera_start_mode_info", `mode="`+mode+`",`+ofSerial(serial), 1, 60*time.Second)
	}
	a.waitMetric(t, r, framesWritten, ofSerial("OVF"), 50, 60*time.Second)
	ovf := camsim.DialControl(r.Cameras[2].Control)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ovf.Set(ctx, "step", "-60ms"); err != nil {
		t.Fatal(err)
	}
	a.waitMetric(t, r, "ptpcam_record_action_commands_total", `result="overflow",`+ofSerial("OVF"), 5, 30*time.Second)
	codeA, codeB := a.wait(t, 120*time.Second), b.wait(t, 120*time.Second)
	sa, sb := readSession(t, a.dir), readSession(t, b.dir)
	if sa.StartDeviceNs != startAt.UnixNano() || sb.StartDeviceNs != startAt.UnixNano() {
		t.Errorf("starts %d and %d, want --start-at %d", sa.StartDeviceNs, sb.StartDeviceNs, startAt.UnixNano())
	}
	want := map[string]string{"05520125": "scheduler", "BA2": "action", "OVF": "action", "AVM": "action", "BAC": "action", "BFS": "action"}
	firsts := map[string]string{}
	var gapsB uint64
	for _, s := range []record.Session{sa, sb} {
		for _, c := range s.Cameras {
			if c.StartMode != want[c.Serial] {
				t.Errorf("camera %s: start mode %q in the session, want %s", c.Serial, c.StartMode, want[c.Serial])
			}
			if rows := sidecarRows(t, c.Sidecar); len(rows) > 0 {
				firsts[c.Serial] = rows[0][3]
			}
			t.Logf("camera %s: start mode %s, action commands %v", c.Serial, c.StartMode, c.Actions)
			switch c.Serial {
			case "OVF":
				checkActionTake(t, s, c, frames, 5, frames)
			case "BA2", "AVM", "BAC", "BFS":
				// On a loaded host the sender may miss a command's
				// window (skipped, counted): a gap, at most 5%.
				checkActionTake(t, s, c, frames, 0, frames/20)
				gapsB += c.Missing
			default:
				checkWholeTake(t, s, c, frames)
			}
		}
	}
	if codeA != 3 || !(codeB == 0 || codeB == 3 && gapsB > 0) {
		t.Errorf("exit codes %d and %d, want 3 (gaps on OVF) and 0 (3 only with counted gaps: %d)", codeA, codeB, gapsB)
	}
	for serial, ts := range firsts {
		if ts != strconv.FormatInt(startAt.UnixNano(), 10) {
			t.Errorf("camera %s: first frame at %s, want the --start-at instant %d (all: %v)", serial, ts, startAt.UnixNano(), firsts)
		}
	}
}

// checkActionTake: a camera on action commands has every trigger in its
// file and sidecar, every refused or unsent command as a missing (filled)
// row (at least minOverflow overflows, at most maxMissing gaps), the frames
// it did take on the grid.
func checkActionTake(t *testing.T, s record.Session, c record.CameraResult, frames int, minOverflow, maxMissing uint64) {
	t.Helper()
	t.Logf("camera %s: actions %v missing %d filled %d", c.Serial, c.Actions, c.Missing, c.Filled)
	gaps := c.Actions["overflow"] + c.Actions["skipped"] + c.Actions["late"]
	if c.Err != "" || c.Actions["overflow"] < minOverflow || c.Missing < c.Actions["overflow"] || c.Missing > maxMissing ||
		c.Filled < c.Missing || c.Written != uint64(frames) {
		t.Errorf("camera %s: err %q actions %v missing %d filled %d written %d; want >= %d overflows, each a filled gap, at most %d gaps, %d written",
			c.Serial, c.Err, c.Actions, c.Missing, c.Filled, c.Written, minOverflow, maxMissing, frames)
	}
	if c.Missing > gaps+c.Actions["no_ack"] {
		t.Errorf("camera %s: %d missing, more than the %d refused or unanswered commands", c.Serial, c.Missing, gaps+c.Actions["no_ack"])
	}
	if n := ffprobeFrames(t, c.File); n != frames {
		t.Errorf("camera %s: ffprobe counts %d frames, want %d", c.Serial, n, frames)
	}
	rows := sidecarRows(t, c.Sidecar)
	if len(rows) != frames {
		t.Fatalf("camera %s: %d sidecar rows, want %d", c.Serial, len(rows), frames)
	}
	missing, other, off := 0, 0, uint64(0)
	for k, row := range rows {
		grid, _ := strconv.ParseInt(row[5], 10, 64)
		ts, _ := strconv.ParseInt(row[3], 10, 64)
		switch {
		case grid != s.StartDeviceNs+int64(k)*int64(20*time.Millisecond):
			t.Errorf("camera %s row %d: %v off the grid", c.Serial, k, row)
		case row[6] == "missing":
			missing++
		case row[6] != "ok" && row[7] == "1":
			other++ // a frame dropped (late, stale) and filled
		case row[6] != "ok":
			t.Errorf("camera %s row %d: %v", c.Serial, k, row)
		case absDiff(ts, grid) > int64(time.Millisecond):
			// Fired late: its command came after its time (answered
			// late, or its answer lost on the loaded host).
			off++
			t.Logf("camera %s row %d fired %v off its slot", c.Serial, k, time.Duration(ts-grid))
		}
	}
	if off > c.Actions["late"]+c.Actions["no_ack"] {
		t.Errorf("camera %s: %d frames off the grid, more than the %d late or unanswered commands", c.Serial, off, c.Actions["late"]+c.Actions["no_ack"])
	}
	if uint64(missing) != c.Missing || uint64(missing+other) != c.Filled {
		t.Errorf("camera %s: %d missing and %d other filled rows; %d missing, %d filled counted", c.Serial, missing, other, c.Missing, c.Filled)
	}
	if !strings.Contains(fmt.Sprint(c.Actions), "ok:") {
		t.Errorf("camera %s: no action counts in the session", c.Serial)
	}
}

// TestSyncLineOryx: two FLIR Oryx (no actions at all) with --sync line and
// the rig's pulse generator at 50 Hz: the start is a pulse instant, every
// frame lands on its grid slot, the files hold exactly the take's frames.
func TestSyncLineOryx(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l", "ffmpeg", "ffprobe", "curl")
	const frames = 200 // 4 s at 50 fps
	cams := []rig.Camera{vendorCam(t, "ORX1", "FLIR_ORX_10G_51S5M.xml"), vendorCam(t, "ORX2", "FLIR_ORX_10G_51S5M.xml")}
	r := testenv.UpRig(t, rig.Config{Name: rig.UniqueName("cl"), Cameras: cams, TriggerRate: 50})
	rec := startRecord(t, r, "--width", "320", "--height", "240", "--pixel-format", "Mono8", "--fps", "50", "--duration", "4s",
		"--encoder", "raw", "--sync", "line")
	if code := rec.wait(t, 120*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	s := readSession(t, rec.dir)
	if s.StartDeviceNs%int64(20*time.Millisecond) != 0 {
		t.Errorf("start %d is not a pulse instant (a multiple of 20 ms)", s.StartDeviceNs)
	}
	for _, c := range s.Cameras {
		if c.StartMode != "line" {
			t.Errorf("camera %s: start mode %q, want line", c.Serial, c.StartMode)
		}
		checkWholeTake(t, s, c, frames)
	}
}

// TestSyncClockStepAtArming is the case: cameras whose PTP is
// enabled just as the take is armed (--force, --no-enable-ptp; the test
// enables it once camrecord watches the clocks) step −37 s from their TAI
// to the grandmaster's timescale (ptp4l with software timestamping:
// CLOCK_REALTIME), each at its first Announce. camrecord re-arms the take
// on the new timeline, logs the step and records every frame.
func TestSyncClockStepAtArming(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l", "ffmpeg", "ffprobe", "curl")
	const frames = 150 // 3 s at 50 fps
	r := upRig(t, 2)
	rec := startRecord(t, r, "--width", "320", "--height", "240", "--fps", "50", "--duration", "3s", "--encoder", "raw",
		"--force", "--no-enable-ptp", "--sync-timeout", "1s")
	rec.waitLog(t, "Watching the cameras' clocks until the start", 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range r.Cameras {
		if err := camsim.DialControl(c.Control).Set(ctx, "ptp-enable", "true"); err != nil {
			t.Fatal(err)
		}
	}
	if code := rec.wait(t, 120*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	m := regexp.MustCompile(`msg="Camera clock stepped since it was latched: re-arming the take on the new timeline" serial=\S+ step=(\S+)`).FindStringSubmatch(rec.out.String())
	if m == nil {
		t.Fatalf("no step logged")
	}
	if step, err := time.ParseDuration(m[1]); err != nil || (step+37*time.Second).Abs() > 10*time.Millisecond {
		t.Errorf("step %s logged, want -37s", m[1])
	}
	s := readSession(t, rec.dir)
	for _, c := range s.Cameras {
		if step := time.Duration(c.ClockStepNs); (step + 37*time.Second).Abs() > 10*time.Millisecond {
			t.Errorf("camera %s: clock step at arming %v in the session, want -37s", c.Serial, step)
		}
		checkWholeTake(t, s, c, frames)
	}
}

// TestSyncFlags: a bad --start-at or --sync is refused with the value and
// what is allowed, before any camera is touched.
func TestSyncFlags(t *testing.T) {
	o, _, err := parse([]string{"--start-at", "tomorrow 3am"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.recorder(nil); err == nil || !strings.Contains(err.Error(), `--start-at "tomorrow 3am": want an RFC 3339 time`) {
		t.Errorf("bad --start-at: %v", err)
	}
	if _, _, err := parse([]string{"--sync", "ptp"}); err == nil || !strings.Contains(err.Error(), "auto,scheduler,action,line,free") {
		t.Errorf("bad --sync: %v", err)
	}
	o, _, err = parse([]string{"--start-at", "2026-12-02T03:00:00Z", "--sync", "action"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.recorder(nil); err != nil {
		t.Errorf("good --start-at and --sync: %v", err)
	}
}

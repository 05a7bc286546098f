package record

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ptpcam/ptpcam/check"
	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/internal/testenv"
)

// capsCamera is a fake camera with GenICam capabilities, action keys, a
// trigger source and an address: what the start modes need.
type capsCamera struct {
	*fakeCamera
	caps    genicam.Capabilities
	addr    string
	trigger string
	keys    [3]uint32
}

func (c *capsCamera) Capabilities() genicam.Capabilities { return c.caps }
func (c *capsCamera) Info() genicam.DeviceInfo {
	return genicam.DeviceInfo{Serial: c.serial, Address: c.addr}
}

func (c *capsCamera) SetActionKeys(ctx context.Context, d, g, m uint32) error {
	c.keys = [3]uint32{d, g, m}
	return nil
}

func (c *capsCamera) SetFrameTrigger(ctx context.Context, source string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trigger, c.armed, c.action, c.free = source, true, source != "", source == ""
	return nil
}

var (
	capsTIS   = genicam.Capabilities{Action: genicam.ActionScheduler, ActionTrigger: "Action0", TriggerSources: []string{"Software", "Action0"}}
	capsAce2  = genicam.Capabilities{Action: genicam.ActionScheduled, ActionQueueSize: 2, ActionTrigger: "Action1", TriggerSources: []string{"Software", "Line1", "Action1"}}
	capsOryx  = genicam.Capabilities{Action: genicam.ActionNone, TriggerSources: []string{"Software", "Line0", "Line2"}}
	capsPlain = genicam.Capabilities{Action: genicam.ActionNone, TriggerSources: []string{"Software"}}
)

func capsCam(serial string, caps genicam.Capabilities, addr string) *capsCamera {
	return &capsCamera{fakeCamera: &fakeCamera{serial: serial, actions: make(chan int64, 4096)}, caps: caps, addr: addr}
}

func TestChooseMode(t *testing.T) {
	for _, tc := range []struct {
		caps  genicam.Capabilities
		want  SyncMode
		force bool
		mode  SyncMode
		err   string
	}{
		{capsTIS, SyncAuto, false, SyncScheduler, ""},
		{capsAce2, SyncAuto, false, SyncAction, ""},
		{capsOryx, SyncAuto, false, SyncLine, ""},
		{capsTIS, SyncAction, false, SyncAction, ""},
		{capsAce2, SyncLine, false, SyncLine, ""},
		{capsOryx, SyncAction, false, "", "camera X: sync mode action not supported; this camera can do: line, free"},
		{capsAce2, SyncScheduler, false, "", "camera X: sync mode scheduler not supported; this camera can do: action, line, free"},
		{capsPlain, SyncAuto, false, "", "no way to start frames on a PTP instant (it can do: free)"},
		{capsPlain, SyncAuto, true, SyncFree, ""},
		{capsAce2, SyncFree, false, "", "sync mode free needs --force"},
		{capsAce2, SyncFree, true, SyncFree, ""},
	} {
		m, err := chooseMode(capsCam("X", tc.caps, "127.0.0.1"), tc.want, tc.force)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s on %s: err %v, want %q", tc.want, tc.caps.ActionLabel(), err, tc.err)
			}
			continue
		}
		if err != nil || m != tc.mode {
			t.Errorf("%s on %s (force %v): %s, %v; want %s", tc.want, tc.caps.ActionLabel(), tc.force, m, err, tc.mode)
		}
	}
	if _, err := ParseSyncMode("actions"); err == nil || !strings.Contains(err.Error(), "auto, scheduler, action, line, free") {
		t.Errorf("ParseSyncMode(actions): %v", err)
	}
}

// TestSyncModeRefusedBeforeArming: a mode one camera cannot do fails the
// take before anything is armed or any file made.
func TestSyncModeRefusedBeforeArming(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sync = SyncAction
	a, oryx := capsCam("ACE2", capsAce2, "127.0.0.2"), capsCam("ORYX", capsOryx, "127.0.0.3")
	r, ctx := prepared(t, cfg, 2)
	_, err := r.Run(ctx, nil, []Camera{a, oryx}, nil)
	if err == nil || !strings.Contains(err.Error(), "camera ORYX: sync mode action not supported; this camera can do: line, free") {
		t.Fatalf("err %v", err)
	}
	if a.armed || oryx.armed || a.keys != [3]uint32{} {
		t.Errorf("a camera was armed: ace2 %v (keys %x), oryx %v", a.armed, a.keys, oryx.armed)
	}
	if ents, _ := os.ReadDir(cfg.OutputDir); len(ents) != 0 {
		t.Errorf("files made: %v", ents)
	}
}

// fakeActionNet delivers action commands to capsCameras by address: frame
// k's action time goes on the camera's actions channel unless the camera's
// queue is full (the frames of still-pending times) or overflow holds k.
type fakeActionNet struct {
	cams     map[netip.Addr]*capsCamera
	overflow map[string]map[int64]bool
	interval int64
	t0       int64 // frame 0's time: the first command's

	mu         sync.Mutex
	pending    map[string][]int64
	maxPending map[string]int
	delivered  map[string]map[int64]bool
	sent       int
}

func newFakeNet(interval time.Duration, overflow map[string]map[int64]bool, cams ...*capsCamera) *fakeActionNet {
	n := &fakeActionNet{cams: map[netip.Addr]*capsCamera{}, overflow: overflow, interval: int64(interval),
		pending: map[string][]int64{}, maxPending: map[string]int{}, delivered: map[string]map[int64]bool{}}
	for _, c := range cams {
		n.cams[netip.MustParseAddr(c.addr)] = c
	}
	return n
}

func (n *fakeActionNet) send(ctx context.Context, targets []netip.Addr, cmd genicam.ActionCommand) ([]genicam.ActionAck, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sent == 0 {
		n.t0 = int64(*cmd.Time)
	}
	n.sent++
	var acks []genicam.ActionAck
	for _, a := range targets {
		c := n.cams[a]
		if cmd.DeviceKey != c.keys[0] || cmd.GroupKey != c.keys[1] || cmd.GroupMask&c.keys[2] == 0 {
			continue
		}
		at := int64(*cmd.Time)
		now := c.now()
		var still []int64
		for _, p := range n.pending[c.serial] {
			if p > now {
				still = append(still, p)
			}
		}
		k := (at - n.t0) / n.interval
		c.mu.Lock()
		c.start, c.interval = n.t0, time.Duration(n.interval)
		c.mu.Unlock()
		switch {
		case at < now:
			acks = append(acks, genicam.ActionAck{From: a, Status: ackLate})
		case len(still) >= int(c.caps.ActionQueueSize) || n.overflow[c.serial][k]:
			acks = append(acks, genicam.ActionAck{From: a, Status: ackOverflow})
		default:
			still = append(still, at)
			n.maxPending[c.serial] = max(n.maxPending[c.serial], len(still))
			if n.delivered[c.serial] == nil {
				n.delivered[c.serial] = map[int64]bool{}
			}
			n.delivered[c.serial][k] = true
			c.actions <- at
			acks = append(acks, genicam.ActionAck{From: a, Status: 0})
		}
		n.pending[c.serial] = still
	}
	return acks, nil
}

// runActions is a camera on an action (or line) trigger: one frame per
// device time sent on actions, at that time.
func (s *fakeStream) runActions(size int) {
	f := s.cam
	for {
		var at int64
		select {
		case <-s.done:
			return
		case at = <-f.actions:
		}
		select {
		case <-s.done:
			return
		case <-time.After(time.Until(time.Unix(0, at-int64(f.offsetNow())))):
		}
		f.mu.Lock()
		start, iv := f.start, int64(f.interval)
		f.mu.Unlock()
		var data []byte
		select {
		case data = <-s.pool:
		default:
			continue
		}
		k := int64(0)
		if iv > 0 {
			k = (at - start) / iv
		}
		binary.BigEndian.PutUint64(data, uint64(k))
		for i := 8; i < len(data); i++ {
			data[i] = byte(k)
		}
		s.frames <- genicam.Frame{Data: data, FrameID: uint64(k%65535 + 1), Timestamp: at + 1000,
			SystemTimestamp: time.Now().UnixNano(), Status: genicam.FrameSuccess}
	}
}

// TestActionMode records a mixed rig: a scheduler camera and two cameras on
// scheduled action commands, one of whose queue overflows for three frames.
// The take goes on; the overflows are counted (result, session JSON,
// metrics) and filled as gaps; no camera ever held more than its queue; the
// first frames share one timestamp.
func TestActionMode(t *testing.T) {
	cfg := testConfig(t)
	// 50 fps: with a queue of 2, each command has a 38 ms window to go in;
	// the encoders may lag on a loaded host: a queue with no drops for it.
	cfg.FPS, cfg.Duration, cfg.QueueFrames = 50, 2*time.Second, 128
	tis := capsCam("TIS", capsTIS, "127.0.0.1")
	a, b := capsCam("ACE2A", capsAce2, "127.0.0.2"), capsCam("ACE2B", capsAce2, "127.0.0.3")
	tis.offset, a.offset, b.offset = 37*time.Second, 37*time.Second, 37*time.Second
	net := newFakeNet(cfg.Interval(), map[string]map[int64]bool{"ACE2B": {20: true, 21: true, 22: true}}, a, b)
	r, ctx := prepared(t, cfg, 3)
	var logBuf testenv.LockedBuffer
	r.log = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", logBuf.String())
		}
	}()
	r.sendAction = net.send
	res, err := r.Run(ctx, nil, []Camera{tis, a, b}, &check.SyncResult{Verdict: check.Verdict{Converged: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames != 100 {
		t.Fatalf("take frames %d, want 100", res.Frames)
	}
	modes := []string{"scheduler", "action", "action"}
	var first []string
	for i, c := range res.Cameras {
		if c.StartMode != modes[i] || c.Err != "" {
			t.Errorf("camera %s: start mode %q err %q, want %s", c.Serial, c.StartMode, c.Err, modes[i])
		}
		if n := testenv.VideoFrames(t, c.File); n != 100 {
			t.Errorf("camera %s: ffprobe counts %d frames, want 100", c.Serial, n)
		}
		rows := readSidecar(t, c.Sidecar)
		if len(rows) != 100 {
			t.Fatalf("camera %s: %d sidecar rows", c.Serial, len(rows))
		}
		first = append(first, rows[0]["device_ts_ns"])
		for k, row := range rows {
			gridNs, _ := strconv.ParseInt(row["grid_ns"], 10, 64)
			if gridNs != res.StartDeviceNs+int64(k)*int64(cfg.Interval()) {
				t.Errorf("camera %s row %d: grid_ns %d off the grid", c.Serial, k, gridNs)
			}
			// A gap where the command was refused (the overflow), or
			// not sent in time on a loaded host (skipped, counted).
			gap := i > 0 && !net.delivered[c.Serial][int64(k)]
			if i == 2 && k >= 20 && k <= 22 && !gap {
				t.Errorf("camera %s: frame %d delivered despite the overflow fault", c.Serial, k)
			}
			if want := map[bool]string{true: "missing", false: "ok"}[gap]; row["status"] != want {
				t.Errorf("camera %s row %d: status %s, want %s", c.Serial, k, row["status"], want)
			}
		}
	}
	if first[0] != first[1] || first[1] != first[2] {
		t.Errorf("first-frame timestamps differ: %v", first)
	}
	skipped := res.Cameras[1].Actions["skipped"]
	t.Logf("commands not sent in time (gaps) on this host: %d of 100", skipped)
	if c := res.Cameras[1]; c.Actions["ok"] != 100-skipped || c.Missing != skipped || c.Filled != skipped || c.Actions["overflow"] != 0 {
		t.Errorf("camera ACE2A: missing %d filled %d actions %v, want ok and gaps %d", c.Missing, c.Filled, c.Actions, skipped)
	}
	if c := res.Cameras[2]; c.Actions["overflow"] != 3 || c.Actions["skipped"] != skipped || c.Actions["ok"] != 97-skipped ||
		c.Missing != 3+skipped || c.Filled != 3+skipped {
		t.Errorf("camera ACE2B: missing %d filled %d actions %v, want overflow 3, skipped %d", c.Missing, c.Filled, c.Actions, skipped)
	}
	// Measured on a loaded 2-core host (a busy loop on one core): at most 3
	// of 100 not sent in time over 40 takes.
	if skipped > 5 {
		t.Errorf("%d of 100 commands not sent in time, want at most 5", skipped)
	}
	for s, n := range net.maxPending {
		if n > 2 {
			t.Errorf("camera %s held %d pending actions, more than its queue of 2", s, n)
		}
	}
	checkSessionModes(t, res.Session, modes)
	checkActionMetrics(t, r, skipped)
}

// checkActionMetrics: the action answers and start modes of TestActionMode
// as metrics.
func checkActionMetrics(t *testing.T, r *Recorder, skipped uint64) {
	t.Helper()
	want := `
# HELP ptpcam_record_action_commands_total Action mode's scheduled ACTION_CMDs by answer: ok, late, overflow (queue full: a gap), no_ack, error, skipped (not sent in time: a gap).
# TYPE ptpcam_record_action_commands_total counter
`
	if err := testutil.CollectAndCompare(r, strings.NewReader(want+actionSeries("ACE2A", 100-skipped, 0, skipped)+actionSeries("ACE2B", 97-skipped, 3, skipped)),
		"ptpcam_record_action_commands_total"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(r, strings.NewReader(`
# HELP ptpcam_record_camera_start_mode_info How the camera's frames start (value 1): scheduler, action, line or free.
# TYPE ptpcam_record_camera_start_mode_info gauge
ptpcam_record_camera_start_mode_info{mode="action",serial="ACE2A"} 1
ptpcam_record_camera_start_mode_info{mode="action",serial="ACE2B"} 1
ptpcam_record_camera_start_mode_info{mode="scheduler",serial="TIS"} 1
`), "ptpcam_record_camera_start_mode_info"); err != nil {
		t.Error(err)
	}
}

func actionSeries(serial string, ok, overflow, skipped uint64) string {
	var b strings.Builder
	for _, n := range []struct {
		r string
		v uint64
	}{{"error", 0}, {"late", 0}, {"no_ack", 0}, {"ok", ok}, {"overflow", overflow}, {"skipped", skipped}} {
		b.WriteString("ptpcam_record_action_commands_total{result=\"" + n.r + "\",serial=\"" + serial + "\"} " + strconv.FormatUint(n.v, 10) + "\n")
	}
	return b.String()
}

// checkSessionModes reads the session file's cameras' start modes.
func checkSessionModes(t *testing.T, path string, modes []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Cameras []struct {
			StartMode string `json:"start_mode"`
		} `json:"cameras"`
	}
	if err := json.Unmarshal(b, &sess); err != nil {
		t.Fatal(err)
	}
	if len(sess.Cameras) != len(modes) {
		t.Fatalf("session %s: %d cameras, want %d", filepath.Base(path), len(sess.Cameras), len(modes))
	}
	for i, c := range sess.Cameras {
		if c.StartMode != modes[i] {
			t.Errorf("session camera %d: start_mode %q, want %s", i, c.StartMode, modes[i])
		}
	}
}

// TestClockStepAtArming: a camera's clock steps −37 s (to the
// grandmaster's TAI) after the latch the start was found from; the take is
// re-armed on the new timeline and records every frame, the step logged. A
// clock that steps at every latch fails the take with the step.
func TestClockStepAtArming(t *testing.T) {
	cfg := testConfig(t)
	var logBuf testenv.LockedBuffer
	a := &fakeCamera{serial: "A1", offset: 37 * time.Second, stepOnLatch: 2, stepBy: -37 * time.Second}
	b := &fakeCamera{serial: "B2", offset: 37 * time.Second, stepOnLatch: 2, stepBy: -37 * time.Second}
	r, err := New(cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.Prepare(ctx, 2); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx, nil, []Camera{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cameras {
		if !c.Clean() || c.Written != 100 {
			t.Errorf("camera %s: clean %v written %d err %q, want clean, 100", c.Serial, c.Clean(), c.Written, c.Err)
		}
		if n := testenv.VideoFrames(t, c.File); n != 100 {
			t.Errorf("camera %s: ffprobe counts %d frames, want 100", c.Serial, n)
		}
	}
	for _, c := range res.Cameras {
		if step := time.Duration(c.ClockStepNs); (step + 37*time.Second).Abs() > time.Millisecond {
			t.Errorf("camera %s: clock step %v, want -37s", c.Serial, step)
		}
	}
	if res.StartSkewNs < 0 || res.StartSkewNs > int64(time.Millisecond) {
		t.Errorf("start skew %v", time.Duration(res.StartSkewNs))
	}
	if log := logBuf.String(); !strings.Contains(log, "Camera clock stepped since it was latched") || !strings.Contains(log, "step=-37") {
		t.Errorf("step not logged:\n%s", log)
	}

	// One camera alone steps: it is on another timeline than the other.
	cfg = testConfig(t)
	r1, ctx1 := prepared(t, cfg, 2)
	_, err = r1.Run(ctx1, nil, []Camera{&fakeCamera{serial: "D4", offset: 37 * time.Second},
		&fakeCamera{serial: "E5", offset: 37 * time.Second, stepOnLatch: 2, stepBy: -37 * time.Second}}, nil)
	if err == nil || !strings.Contains(err.Error(), "after camera E5's clock stepped -37") || !strings.Contains(err.Error(), "cameras on different timelines: camera D4's clock is 37") {
		t.Errorf("one camera stepping: err %v", err)
	}

	cfg = testConfig(t)
	c := &fakeCamera{serial: "C3", stepOnLatch: 2, stepBy: time.Second, stepEvery: true}
	r2, ctx2 := prepared(t, cfg, 1)
	_, err = r2.Run(ctx2, nil, []Camera{c}, nil)
	if err == nil || !strings.Contains(err.Error(), "camera C3: clock keeps stepping while arming (last step 1s") {
		t.Errorf("stepping clock: err %v", err)
	}
}

// TestStartAt: --start-at is the take's first trigger when it leaves the
// lead time, and a clear error when it does not.
func TestStartAt(t *testing.T) {
	cfg := testConfig(t)
	cfg.Duration = 200 * time.Millisecond
	cfg.StartAt = time.Now().Add(37*time.Second + 700*time.Millisecond).Truncate(10 * time.Millisecond)
	_, res := record(t, cfg, &fakeCamera{serial: "A1", offset: 37 * time.Second}, &fakeCamera{serial: "B2", offset: 37 * time.Second})
	if res.StartDeviceNs != cfg.StartAt.UnixNano() {
		t.Errorf("start %d, want --start-at %d", res.StartDeviceNs, cfg.StartAt.UnixNano())
	}
	for _, c := range res.Cameras {
		if !c.Clean() || c.Written != 20 {
			t.Errorf("camera %s: clean %v written %d", c.Serial, c.Clean(), c.Written)
		}
	}
	cfg = testConfig(t)
	cfg.StartAt = time.Now().Add(37*time.Second + 100*time.Millisecond)
	r, ctx := prepared(t, cfg, 1)
	_, err := r.Run(ctx, nil, []Camera{&fakeCamera{serial: "A1", offset: 37 * time.Second}}, nil)
	if err == nil || !strings.Contains(err.Error(), "ahead of camera A1's clock") || !strings.Contains(err.Error(), "less than the lead time 300ms") {
		t.Errorf("start-at within the lead time: err %v", err)
	}
	if ents, _ := os.ReadDir(cfg.OutputDir); len(ents) != 0 {
		t.Errorf("files made: %v", ents)
	}
}

// runFree is a free-running camera: a frame at every multiple of interval
// (device time) plus the camera's phase.
func (s *fakeStream) runFree(size int, interval time.Duration) {
	f := s.cam
	iv := int64(interval)
	for n := f.now()/iv + 1; ; n++ {
		at := n*iv + int64(f.phase)
		select {
		case <-s.done:
			return
		case <-time.After(time.Until(time.Unix(0, at-int64(f.offsetNow())))):
		}
		select {
		case data := <-s.pool:
			binary.BigEndian.PutUint64(data, uint64(n))
			for i := 8; i < len(data); i++ {
				data[i] = byte(n)
			}
			s.frames <- genicam.Frame{Data: data, FrameID: uint64(n%65535 + 1), Timestamp: at,
				SystemTimestamp: time.Now().UnixNano(), Status: genicam.FrameSuccess}
		default:
		}
	}
}

// TestFreeRun: --sync free needs --force; a free-running camera is placed on
// the grid by its timestamps, every trigger recorded, and its measured
// misalignment (its phase against the grid) reported as the first-frame
// offset and logged.
func TestFreeRun(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sync = SyncFree
	r, ctx := prepared(t, cfg, 1)
	if _, err := r.Run(ctx, nil, []Camera{capsCam("FR", capsPlain, "127.0.0.5")}, nil); err == nil || !strings.Contains(err.Error(), "camera FR: sync mode free needs --force") {
		t.Fatalf("free without force: %v", err)
	}
	cfg = testConfig(t)
	cfg.Sync, cfg.Force, cfg.QueueFrames = SyncAuto, true, 128
	var logBuf testenv.LockedBuffer
	r, err := New(cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Prepare(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cam := capsCam("FR", capsPlain, "127.0.0.5")
	cam.offset, cam.phase = 37*time.Second, 3*time.Millisecond
	res, err := r.Run(ctx, nil, []Camera{cam}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cameras[0]
	iv := int64(cfg.Interval())
	want := ((int64(cam.phase)-res.StartDeviceNs)%iv + iv) % iv
	if want > iv/2 {
		want -= iv
	}
	if c.StartMode != "free" || !c.Clean() || c.Written != 100 || c.FirstFrameOffsetNs != want {
		t.Errorf("free-run: mode %s clean %v written %d offset %v, want free, clean, 100, %v", c.StartMode, c.Clean(), c.Written,
			time.Duration(c.FirstFrameOffsetNs), time.Duration(want))
	}
	if n := testenv.VideoFrames(t, c.File); n != 100 {
		t.Errorf("ffprobe counts %d frames, want 100", n)
	}
	if log := logBuf.String(); !strings.Contains(log, "Free-running camera aligned to the grid by timestamp") ||
		!strings.Contains(log, "misalignment="+time.Duration(want).String()) {
		t.Errorf("misalignment not logged:\n%s", log)
	}
}

package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ptpcam/ptpcam/check"
	"github.com/ptpcam/ptpcam/internal/testenv"
)

const (
	tw, th = 64, 48
)

func testConfig(t *testing.T) Config {
	return Config{Width: tw, Height: th, PixelFormat: "BayerGR8", FPS: 100, Duration: time.Second,
		LeadTime: 300 * time.Millisecond, OutputDir: t.TempDir(), Encoder: EncoderRaw, Container: "mkv",
		Align: true, QueueFrames: 8}
}

// prepared is a Recorder with its encoders planned for n cameras, and the
// 30 s context of its take, cancelled when the test ends.
func prepared(t *testing.T, cfg Config, n int) (*Recorder, context.Context) {
	t.Helper()
	testenv.RequireTool(t, "ffmpeg", "ffprobe")
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if _, err := r.Prepare(ctx, n); err != nil {
		t.Fatal(err)
	}
	return r, ctx
}

func record(t *testing.T, cfg Config, cams ...Camera) (*Recorder, *Result) {
	t.Helper()
	r, ctx := prepared(t, cfg, len(cams))
	res, err := r.Run(ctx, nil, cams, &check.SyncResult{Verdict: check.Verdict{Converged: true, Masters: []string{"host"}}})
	if err != nil {
		t.Fatal(err)
	}
	return r, res
}

// waitFor polls cond until it holds, ctx ends or done is closed.
func waitFor(ctx context.Context, done <-chan struct{}, cond func() bool) {
	for !cond() {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitCams returns the recorder's cameras once Run has set them up.
func waitCams(ctx context.Context, r *Recorder) []*camRec {
	var cams []*camRec
	waitFor(ctx, nil, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		cams = r.cams
		return cams != nil
	})
	return cams
}

// decodeCounters decodes a raw recording and returns the counter in the
// first 8 bytes of every frame; a frame whose body does not repeat the
// counter's low byte (a misaligned write) fails the test.
func decodeCounters(t *testing.T, file string, frameSize int) []uint64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
	if err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	if len(out)%frameSize != 0 {
		t.Fatalf("%s: %d bytes is not whole frames of %d", file, len(out), frameSize)
	}
	var ks []uint64
	for off := 0; off < len(out); off += frameSize {
		f := out[off : off+frameSize]
		k := binary.BigEndian.Uint64(f)
		if bytes.Count(f[8:], []byte{byte(k)}) != frameSize-8 && !bytes.Equal(f, make([]byte, frameSize)) {
			t.Fatalf("%s: frame %d (counter %d) has foreign bytes: a frame was cut", file, len(ks), k)
		}
		ks = append(ks, k)
	}
	return ks
}

func readSidecar(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("sidecar %s: %v", path, err)
	}
	if strings.Join(recs[0], ",")+"\n" != SidecarHeader {
		t.Fatalf("sidecar header %v", recs[0])
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

// TestAlignedTake records three fake cameras, one losing two frames and one
// delivering an incomplete frame, and checks that every file has one frame
// per trigger with frame k being trigger k (or the repeat of k-1), and that
// the sidecars say so.
func TestAlignedTake(t *testing.T) {
	cfg := testConfig(t)
	cams := []Camera{
		&fakeCamera{serial: "A1", offset: 37 * time.Second},
		&fakeCamera{serial: "B2", skip: map[int64]bool{5: true, 6: true}, offset: 37 * time.Second},
		&fakeCamera{serial: "C3", incomplete: map[int64]bool{10: true}, offset: 37 * time.Second},
	}
	r, res := record(t, cfg, cams...)
	if res.Frames != 100 {
		t.Fatalf("take frames = %d, want 100", res.Frames)
	}
	if res.StartSkewNs < 0 || res.StartSkewNs > int64(time.Millisecond) {
		t.Errorf("start skew %v", time.Duration(res.StartSkewNs))
	}
	for i, c := range res.Cameras {
		if c.Err != "" {
			t.Fatalf("camera %s: %s", c.Serial, c.Err)
		}
		if n := testenv.VideoFrames(t, c.File); n != 100 {
			t.Errorf("camera %s: ffprobe counts %d frames, want 100", c.Serial, n)
		}
		ks := decodeCounters(t, c.File, tw*th)
		rows := readSidecar(t, c.Sidecar)
		if len(rows) != 100 {
			t.Fatalf("camera %s: %d sidecar rows, want 100", c.Serial, len(rows))
		}
		for k, got := range ks {
			want := uint64(k)
			switch {
			case i == 1 && (k == 5 || k == 6):
				want = 4
			case i == 2 && k == 10:
				want = 9
			}
			if got != want {
				t.Errorf("camera %s: output frame %d holds trigger %d, want %d", c.Serial, k, got, want)
			}
			row := rows[k]
			if row["output_index"] != strconv.Itoa(k) || row["grid_index"] != strconv.Itoa(k) {
				t.Errorf("camera %s row %d: %v", c.Serial, k, row)
			}
			wantStatus, wantFilled := "ok", "0"
			if want != uint64(k) {
				wantStatus, wantFilled = "missing", "1"
				if i == 2 {
					wantStatus = "incomplete"
				}
			}
			if row["status"] != wantStatus || row["filled"] != wantFilled {
				t.Errorf("camera %s row %d: status %s filled %s, want %s %s", c.Serial, k, row["status"], row["filled"], wantStatus, wantFilled)
			}
			gridNs, _ := strconv.ParseInt(row["grid_ns"], 10, 64)
			if gridNs != res.StartDeviceNs+int64(k)*int64(10*time.Millisecond) {
				t.Errorf("camera %s row %d: grid_ns %d off the 10 ms grid from %d", c.Serial, k, gridNs, res.StartDeviceNs)
			}
		}
	}
	if c := res.Cameras[1]; c.Missing != 2 || c.Filled != 2 || c.Clean() {
		t.Errorf("camera B2: missing %d filled %d clean %v, want 2 2 false", c.Missing, c.Filled, c.Clean())
	}
	if c := res.Cameras[2]; c.Incomplete != 1 || c.Filled != 1 {
		t.Errorf("camera C3: incomplete %d filled %d, want 1 1", c.Incomplete, c.Filled)
	}
	if !res.Cameras[0].Clean() || res.Clean() {
		t.Errorf("clean: A1 %v, take %v; want true, false", res.Cameras[0].Clean(), res.Clean())
	}
	// The session file names every camera and its ffmpeg command.
	var sess Session
	b, err := os.ReadFile(res.Session)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sess); err != nil {
		t.Fatal(err)
	}
	if len(sess.Serials) != 3 || sess.FPS != 100 || sess.Result == nil || len(sess.Cameras[0].FFmpegArgs) == 0 || !strings.HasPrefix(sess.FFmpegVersion, "ffmpeg version") ||
		sess.PTP == nil || !sess.PTP.Verdict.Converged {
		t.Errorf("session file: %+v", sess)
	}
	// Metrics: counters per serial and reason, and the final state.
	if err := testutil.CollectAndCompare(r, strings.NewReader(`
# HELP ptpcam_record_frames_missing_total Triggers with no frame at all: gaps in timestamps and frame ids on the 1/fps grid.
# TYPE ptpcam_record_frames_missing_total counter
ptpcam_record_frames_missing_total{serial="A1"} 0
ptpcam_record_frames_missing_total{serial="B2"} 2
ptpcam_record_frames_missing_total{serial="C3"} 0
# HELP ptpcam_record_frames_written_total Frames written to ffmpeg (including repeated frames that fill gaps).
# TYPE ptpcam_record_frames_written_total counter
ptpcam_record_frames_written_total{serial="A1"} 100
ptpcam_record_frames_written_total{serial="B2"} 100
ptpcam_record_frames_written_total{serial="C3"} 100
# HELP ptpcam_record_state Recorder state (one series per state, 1 for the current).
# TYPE ptpcam_record_state gauge
ptpcam_record_state{state="arming"} 0
ptpcam_record_state{state="done"} 1
ptpcam_record_state{state="failed"} 0
ptpcam_record_state{state="idle"} 0
ptpcam_record_state{state="preparing"} 0
ptpcam_record_state{state="recording"} 0
ptpcam_record_state{state="stopping"} 0
ptpcam_record_state{state="waiting"} 0
`), "ptpcam_record_frames_missing_total", "ptpcam_record_frames_written_total", "ptpcam_record_state"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(r, "ptpcam_record_frames_dropped_total"); n != 9 {
		t.Errorf("frames_dropped_total series = %d, want 3 cameras × 3 reasons", n)
	}
}

// TestUnaligned: with alignment off gaps are not padded; the sidecar keeps a
// row per trigger with output_index -1 for the ones not written.
func TestUnaligned(t *testing.T) {
	cfg := testConfig(t)
	cfg.Align = false
	cfg.Duration = 500 * time.Millisecond
	_, res := record(t, cfg, &fakeCamera{serial: "U1", skip: map[int64]bool{3: true}})
	c := res.Cameras[0]
	if n := testenv.VideoFrames(t, c.File); n != 49 {
		t.Errorf("ffprobe counts %d frames, want 49", n)
	}
	rows := readSidecar(t, c.Sidecar)
	if len(rows) != 50 || rows[3]["status"] != "missing" || rows[3]["output_index"] != "-1" || rows[4]["output_index"] != "3" {
		t.Errorf("sidecar rows %d: row 3 %v row 4 %v", len(rows), rows[3], rows[4])
	}
}

// TestSlowEncoderDrops stops one ffmpeg (SIGSTOP) for a while: its queue
// fills, frames are dropped at frame boundaries with reason queue_full,
// acquisition never stalls, and once ffmpeg resumes the file still has one
// whole frame per trigger.
func TestSlowEncoderDrops(t *testing.T) {
	cfg := testConfig(t)
	cfg.Width, cfg.Height = 640, 480 // 300 KB frames: the 1 MiB pipe holds 3
	cfg.QueueFrames = 4
	cfg.Duration = 1500 * time.Millisecond
	r, ctx := prepared(t, cfg, 1)
	ran := make(chan struct{})
	go func() {
		// Once 20 frames are written, freeze ffmpeg until the queue
		// overflows (a drop is counted).
		cam := waitCams(ctx, r)[0]
		ff, _ := cam.proc()
		waitFor(ctx, ran, func() bool { return cam.written.Load() >= 20 })
		_ = syscall.Kill(ff.cmd.Process.Pid, syscall.SIGSTOP)
		waitFor(ctx, ran, func() bool { return cam.dropQueue.Load() > 0 })
		_ = syscall.Kill(ff.cmd.Process.Pid, syscall.SIGCONT)
	}()
	res, err := r.Run(ctx, nil, []Camera{&fakeCamera{serial: "S1"}}, nil)
	close(ran)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cameras[0]
	if c.Dropped == 0 || c.Err != "" {
		t.Fatalf("dropped %d err %q: want drops and no error", c.Dropped, c.Err)
	}
	if c.Stream.Underruns != 0 {
		t.Errorf("stream underruns %d: acquisition stalled behind the encoder", c.Stream.Underruns)
	}
	ks := decodeCounters(t, c.File, 640*480)
	if len(ks) != 150 {
		t.Fatalf("%d frames, want 150", len(ks))
	}
	rows := readSidecar(t, c.Sidecar)
	dropped := 0
	for k, row := range rows {
		if row["status"] == "dropped" {
			dropped++
			if ks[k] == uint64(k) {
				t.Errorf("frame %d marked dropped but holds its own trigger", k)
			}
		} else if row["status"] == "ok" && ks[k] != uint64(k) {
			t.Errorf("frame %d ok but holds trigger %d", k, ks[k])
		}
	}
	if uint64(dropped) != c.Dropped {
		t.Errorf("sidecar has %d dropped rows, result %d", dropped, c.Dropped)
	}
}

// TestStopEarly cancels the take midway: every file ends at the same trigger
// and is playable.
func TestStopEarly(t *testing.T) {
	cfg := testConfig(t)
	cfg.Duration = 0
	cfg.Encoder = EncoderLibx264
	cfg.Container = "mp4"
	r, ctx := prepared(t, cfg, 2)
	stop, cancelStop := context.WithCancel(ctx)
	var seen atomic.Uint64
	go func() {
		// Stop once both cameras have 50 frames written.
		cams := waitCams(ctx, r)
		waitFor(ctx, nil, func() bool { return min(cams[0].written.Load(), cams[1].written.Load()) >= 50 })
		seen.Store(max(cams[0].written.Load(), cams[1].written.Load()))
		cancelStop()
	}()
	res, err := r.Run(stop, nil, []Camera{&fakeCamera{serial: "E1"}, &fakeCamera{serial: "E2"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames < int64(seen.Load()) || seen.Load() < 50 {
		t.Errorf("take of %d frames, stopped after %d were written", res.Frames, seen.Load())
	}
	for _, c := range res.Cameras {
		if c.Err != "" {
			t.Errorf("camera %s: %s", c.Serial, c.Err)
		}
		if n := testenv.VideoFrames(t, c.File); int64(n) != res.Frames {
			t.Errorf("camera %s: %d frames, want %d", c.Serial, n, res.Frames)
		}
		if rows := readSidecar(t, c.Sidecar); int64(len(rows)) != res.Frames {
			t.Errorf("camera %s: %d sidecar rows, want %d", c.Serial, len(rows), res.Frames)
		}
	}
}

// TestFrameFromTheFuture: a frame whose timestamp is 10 s ahead (a bogus
// timestamp) is dropped; it neither ends the take nor makes the frames after
// it stale.
func TestFrameFromTheFuture(t *testing.T) {
	cfg := testConfig(t)
	_, res := record(t, cfg, &fakeCamera{serial: "T1", future: map[int64]bool{30: true}})
	c := res.Cameras[0]
	if c.Err != "" || c.Received != 100 || c.Written != 100 || c.Dropped != 1 || c.Filled != 1 {
		t.Errorf("T1: %+v; want 100 received and written, 1 dropped and filled", c)
	}
	ks := decodeCounters(t, c.File, tw*th)
	for k, got := range ks {
		if want := uint64(k); k == 30 {
			want = 29 // the repeat of the previous frame
			if got != want {
				t.Errorf("frame 30 holds trigger %d, want the repeat of 29", got)
			}
		} else if got != want {
			t.Errorf("frame %d holds trigger %d", k, got)
		}
	}
}

// TestTakeCounters: Aravis' counters of a take cover the take: an underrun
// during it (trigger 20's frame lost) is reported with the frame missing;
// those from arming (packets before the stream had buffers) and of triggers
// after the last (a camera that goes on firing, with no buffer free) are not
// the take's.
func TestTakeCounters(t *testing.T) {
	cfg := testConfig(t)
	cam := &fakeCamera{serial: "C1", underrun: map[int64]bool{20: true}, underrunFrom: 100, keepFiring: true, armUnderruns: 2}
	_, res := record(t, cfg, cam)
	c := res.Cameras[0]
	if c.Stream.Underruns != 1 || c.Missing != 1 || c.Written != 100 || c.Clean() {
		t.Errorf("take counters: underruns %d missing %d written %d clean %v, want 1, 1, 100, false: %+v",
			c.Stream.Underruns, c.Missing, c.Written, c.Clean(), c)
	}
	if res.Clean() {
		t.Error("a take with an underrun during it is clean")
	}
}

// TestFramesBeforeStart: frames of a camera that ran free while armed (well
// before the start, longer ago than the stall timeout) are given back: not
// the take's drops, and no stall at the start.
func TestFramesBeforeStart(t *testing.T) {
	cfg := testConfig(t)
	cfg.StallTimeout = 100 * time.Millisecond
	_, res := record(t, cfg, &fakeCamera{serial: "E1", early: []int64{-25, -24, -23, -22, -21, -20}})
	c := res.Cameras[0]
	if c.Err != "" || c.Written != 100 || c.Dropped != 0 || c.Missing != 0 || !c.Clean() {
		t.Errorf("camera with frames before the start: %+v", c)
	}
}

// TestCameraFails: a camera going silent mid-take is reported, the other
// completes.
func TestCameraFails(t *testing.T) {
	cfg := testConfig(t)
	cfg.StallTimeout = 300 * time.Millisecond
	_, res := record(t, cfg, &fakeCamera{serial: "F1"}, &fakeCamera{serial: "F2", stopAfter: 30})
	if res.Cameras[0].Err != "" || res.Cameras[0].Written != 100 {
		t.Errorf("F1: %+v", res.Cameras[0])
	}
	c := res.Cameras[1]
	if !strings.Contains(c.Err, "no frame for") {
		t.Errorf("F2 error %q, want a stall report", c.Err)
	}
	if n := testenv.VideoFrames(t, c.File); n != 31 {
		t.Errorf("F2: %d frames playable, want 31", n)
	}
	if res.Failed() != 1 {
		t.Errorf("failed = %d", res.Failed())
	}
}

// TestFFmpegKilled: a camera's ffmpeg killed mid-take is reported with its
// exit; the other camera completes and the killed one's Matroska file plays
// up to the kill.
func TestFFmpegKilled(t *testing.T) {
	cfg := testConfig(t)
	cfg.Encoder = EncoderLibx264
	r, ctx := prepared(t, cfg, 2)
	var seen atomic.Uint64
	go func() {
		// Kill K2's ffmpeg once 60 of its frames are written.
		cam := waitCams(ctx, r)[1]
		ff, _ := cam.proc()
		waitFor(ctx, nil, func() bool { return cam.written.Load() >= 60 })
		seen.Store(cam.written.Load())
		_ = syscall.Kill(ff.cmd.Process.Pid, syscall.SIGKILL)
	}()
	// Scrapes all through the take, while the writer replaces K2's ffmpeg
	// (under -race: the writer and Collect share the current ffmpeg).
	runDone := make(chan struct{})
	scrapes := make(chan int, 1)
	go func() {
		// Paced as a fast Prometheus would, not a busy loop taking a CPU
		// from the take.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for ; ; n++ {
			select {
			case <-runDone:
				scrapes <- n
				return
			case <-tick.C:
			}
			testutil.CollectAndCount(r)
		}
	}()
	res, err := r.Run(ctx, nil, []Camera{&fakeCamera{serial: "K1"}, &fakeCamera{serial: "K2"}}, nil)
	close(runDone)
	if n := <-scrapes; n == 0 {
		t.Error("no scrape during the take")
	}
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Cameras[0]; c.Err != "" || len(c.Segments) != 1 || testenv.VideoFrames(t, c.File) != 100 {
		t.Errorf("K1: %+v", c)
	}
	// K2's ffmpeg was killed ~60 frames in: the take goes on in a second
	// file from the frame that could not be written.
	c := res.Cameras[1]
	if c.Err != "" || c.Clean() || len(c.Segments) != 2 {
		t.Fatalf("K2: error %q, clean %v, %d segments; want no error, not clean, 2 segments", c.Err, c.Clean(), len(c.Segments))
	}
	s1, s2 := c.Segments[0], c.Segments[1]
	if !strings.Contains(s1.Err, "killed") || s1.FFmpegExitCode != -1 || s2.FFmpegExitCode != 0 || s2.Err != "" {
		t.Errorf("K2 segments: %+v", c.Segments)
	}
	if s1.File != c.File || s2.File != segmentFile(c.File, 2) || s2.Encoder.Encoder != EncoderLibx264 || !strings.Contains(s2.Encoder.Reason, "killed") {
		t.Errorf("K2 segment 2: %+v", s2)
	}
	if s2.FirstGrid != s1.Frames || uint64(s1.Frames) < seen.Load() || s1.Frames >= 100 {
		t.Errorf("K2: segment 2 starts at trigger %d, segment 1 took %d frames; want equal, at least the %d written before the kill", s2.FirstGrid, s1.Frames, seen.Load())
	}
	n1, n2 := testenv.VideoFrames(t, s1.File), testenv.VideoFrames(t, s2.File)
	if int64(n2) != 100-s2.FirstGrid || s2.Frames != int64(n2) {
		t.Errorf("K2: segment 2 holds %d frames (%d written), want triggers %d..99", n2, s2.Frames, s2.FirstGrid)
	}
	// What the killed ffmpeg had not stored is lost; the session says how
	// much at most.
	if int64(n1) > s1.Frames || s1.EncodedFrames > s1.Frames || s1.StoredFrames == nil || *s1.StoredFrames != int64(n1) {
		t.Errorf("K2: segment 1 holds %d frames (session: %v), %d encoded, of %d written", n1, s1.StoredFrames, s1.EncodedFrames, s1.Frames)
	}
	t.Logf("K2: killed after %d frames written, %d reported encoded, %d playable; segment 2 from trigger %d", s1.Frames, s1.EncodedFrames, n1, s2.FirstGrid)
	rows := readSidecar(t, c.Sidecar)
	if len(rows) != 100 {
		t.Fatalf("K2 sidecar: %d rows", len(rows))
	}
	for i, row := range rows {
		seg, out := "1", int64(i)
		if int64(i) >= s2.FirstGrid {
			seg, out = "2", int64(i)-s2.FirstGrid
		}
		if row["segment"] != seg || row["output_index"] != strconv.FormatInt(out, 10) {
			t.Fatalf("K2 sidecar row %d: segment %s output %s, want %s %d", i, row["segment"], row["output_index"], seg, out)
		}
	}
	if err := testutil.CollectAndCompare(r, strings.NewReader(`
# HELP ptpcam_record_ffmpeg_restarts_total ffmpeg processes that died mid-take and were replaced by a new one writing the next segment file.
# TYPE ptpcam_record_ffmpeg_restarts_total counter
ptpcam_record_ffmpeg_restarts_total{serial="K1"} 0
ptpcam_record_ffmpeg_restarts_total{serial="K2"} 1
`), "ptpcam_record_ffmpeg_restarts_total"); err != nil {
		t.Error(err)
	}
}

// ffmpegWrapper writes a sh script that stands in for ffmpeg (a fault
// injected around the real one, whose path body gets) and returns its path.
func ffmpegWrapper(t *testing.T, body func(real string) string) string {
	t.Helper()
	testenv.RequireTool(t, "ffmpeg", "sh")
	real, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body(real)), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNVENCSessionLostMidTake: an NVENC encoder that stops mid-take (here
// an ffmpeg wrapper that encodes 30 frames and then fails as ffmpeg does
// when the GPU's sessions are exhausted) spills to a CPU encoder in a new
// file instead of failing the camera.
func TestNVENCSessionLostMidTake(t *testing.T) {
	testenv.RequireTool(t, "ffprobe")
	wrapper := ffmpegWrapper(t, func(real string) string {
		return `# Stands in for an ffmpeg with NVENC: libx264 does the encoding. A recording
# (stdin input) stops after 30 frames and fails as NVENC does when another
# process took the GPU's last encoder session.
recording=0
nvenc=0
n=$#
for a in "$@"; do
	case "$a" in
	hevc_nvenc) a=libx264; nvenc=1 ;;
	p4) a=ultrafast ;;
	pipe:0) recording=1 ;;
	-y) [ $recording$nvenc = 11 ] && set -- "$@" -frames:v 30 ;;
	esac
	set -- "$@" "$a"
done
shift $n
` + real + ` "$@" || exit
if [ $recording$nvenc = 11 ]; then
	echo "[hevc_nvenc @ 0x55d0c0] OpenEncodeSessionEx failed: out of memory (10): (no details)" >&2
	exit 1
fi
`
	})
	cfg := testConfig(t)
	cfg.Encoder, cfg.FFmpeg = EncoderHEVCNVENC, wrapper
	_, res := record(t, cfg, &fakeCamera{serial: "N1"})
	c := res.Cameras[0]
	if c.Err != "" || len(c.Segments) != 2 {
		t.Fatalf("N1: error %q, %d segments, want 2 segments: %+v", c.Err, len(c.Segments), c.Segments)
	}
	s1, s2 := c.Segments[0], c.Segments[1]
	if s1.Encoder.Encoder != EncoderHEVCNVENC || !strings.Contains(s1.Err, "out of memory (10)") {
		t.Errorf("N1 segment 1: %+v", s1)
	}
	if s2.Encoder.Encoder != EncoderLibx264 || !strings.Contains(s2.Encoder.Reason, "hevc_nvenc died mid-take") ||
		!strings.Contains(s2.Encoder.Reason, "out of memory (10)") {
		t.Errorf("N1 segment 2 encoder: %+v", s2.Encoder)
	}
	if n := testenv.VideoFrames(t, s1.File); n != 30 || s1.EncodedFrames != 30 || s1.StoredFrames == nil || *s1.StoredFrames != 30 {
		t.Errorf("N1 segment 1: %d frames in the file, %d reported encoded, %v stored per the session; want 30", n, s1.EncodedFrames, s1.StoredFrames)
	}
	if n := testenv.VideoFrames(t, s2.File); int64(n) != 100-s2.FirstGrid || s2.FirstGrid < 30 {
		t.Errorf("N1 segment 2: %d frames from trigger %d, want the rest of 100", n, s2.FirstGrid)
	}
	t.Logf("N1: NVENC stopped after 30 frames; %d written to it; CPU segment from trigger %d", s1.Frames, s2.FirstGrid)
}

// A camera whose ffmpeg dies in every segment fails after maxRestarts.
func TestFFmpegKeepsDying(t *testing.T) {
	// Probes work; every recording reads a little and dies.
	wrapper := ffmpegWrapper(t, func(real string) string {
		return "case \"$*\" in *pipe:0*) head -c 10000 >/dev/null; echo 'disk on fire' >&2; exit 1 ;; esac\nexec " + real + " \"$@\"\n"
	})
	cfg := testConfig(t)
	cfg.FFmpeg = wrapper
	_, res := record(t, cfg, &fakeCamera{serial: "D1"})
	c := res.Cameras[0]
	if len(c.Segments) != maxRestarts+1 || !strings.Contains(c.Err, "disk on fire") || !strings.Contains(c.Err, "died 4 times") {
		t.Errorf("D1: error %q, %d segments; want failed after %d restarts", c.Err, len(c.Segments), maxRestarts)
	}
}

// TestSegmentDuration: with SegmentDuration every camera starts a new file
// at the same triggers, and together the files hold every trigger once.
func TestSegmentDuration(t *testing.T) {
	cfg := testConfig(t)
	cfg.Duration, cfg.SegmentDuration = 2500*time.Millisecond, time.Second // 250 triggers, 100 per file
	// Every frame must reach its file: half a second of queue, so that a
	// loaded machine (-race, other tests) stalling ffmpeg for 80 ms (the
	// default 8 frames) does not drop one. Seen once: frame 175 repeated.
	cfg.QueueFrames = 50
	cams := []Camera{&fakeCamera{serial: "S1"}, &fakeCamera{serial: "S2", skip: map[int64]bool{100: true, 150: true}}}
	_, res := record(t, cfg, cams...)
	if res.Frames != 250 {
		t.Fatalf("take frames = %d, want 250", res.Frames)
	}
	for _, c := range res.Cameras {
		if c.Err != "" || len(c.Segments) != 3 {
			t.Fatalf("camera %s: error %q, %d segments, want 3: %+v", c.Serial, c.Err, len(c.Segments), c.Segments)
		}
		var counters []uint64
		for i, s := range c.Segments {
			want := []int64{100, 100, 50}[i]
			if s.FirstGrid != int64(100*i) || s.Frames != want || s.Err != "" || s.FFmpegExitCode != 0 || s.File != segmentFile(c.File, i+1) {
				t.Errorf("camera %s segment %d: %+v; want triggers %d.. (%d frames), exit 0", c.Serial, i+1, s, 100*i, want)
			}
			counters = append(counters, decodeCounters(t, s.File, tw*th)...)
		}
		// Raw frames carry the fake camera's trigger counter: the files
		// joined are triggers 0..249, with S2's two lost frames repeated.
		if len(counters) != 250 {
			t.Fatalf("camera %s: %d frames in its files, want 250", c.Serial, len(counters))
		}
		for k, got := range counters {
			want := uint64(k)
			if c.Serial == "S2" && (k == 100 || k == 150) {
				want = uint64(k - 1)
			}
			if got != want {
				t.Errorf("camera %s: frame %d of the take is trigger %d, want %d", c.Serial, k, got, want)
				break
			}
		}
		rows := readSidecar(t, c.Sidecar)
		for k, row := range rows {
			if want := strconv.Itoa(k/100 + 1); row["segment"] != want || row["output_index"] != strconv.Itoa(k%100) {
				t.Fatalf("camera %s sidecar row %d: segment %s output %s, want %s %d", c.Serial, k, row["segment"], row["output_index"], want, k%100)
			}
		}
		if !c.Clean() && c.Serial == "S1" {
			t.Errorf("camera S1 not clean: %+v", c)
		}
	}
}

// TestForcedStop: with every ffmpeg stuck (it reads nothing), a stop
// followed by a forced one ends the take promptly: the stuck ffmpegs of the
// current and the rotated-out segments are killed, and the camera is
// reported failed.
func TestForcedStop(t *testing.T) {
	testenv.RequireTool(t, "sleep")
	wrapper := ffmpegWrapper(t, func(real string) string {
		return "case \"$*\" in *pipe:0*) exec sleep 60 ;; esac\nexec " + real + " \"$@\"\n"
	})
	cfg := testConfig(t)
	cfg.FFmpeg, cfg.Duration, cfg.SegmentDuration = wrapper, 0, time.Second
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := r.Prepare(ctx, 1); err != nil {
		t.Fatal(err)
	}
	force := make(chan struct{})
	type ran struct {
		res *Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := r.Run(ctx, force, []Camera{&fakeCamera{serial: "F1"}}, nil)
		done <- ran{res, err}
	}()
	// The stand-in ffmpegs never read: the take rotates (1 MiB of pipe
	// holds ~340 frames of 64x48, past the first rotation at 100), is
	// stopped, and hangs in the clean stop until forced.
	cam := waitCams(ctx, r)[0]
	waitFor(ctx, nil, func() bool {
		cam.mu.Lock()
		defer cam.mu.Unlock()
		return len(cam.segments) >= 2
	})
	cancel()
	waitFor(context.Background(), nil, func() bool { return r.state.Load() == int32(StateStopping) })
	close(force)
	select {
	case got := <-done:
		if got.err != nil {
			t.Fatal(got.err)
		}
		c := got.res.Cameras[0]
		if c.Err == "" || len(c.Segments) < 2 {
			t.Errorf("F1 after a forced stop: error %q, %d segments; want failed, rotated at least once", c.Err, len(c.Segments))
		}
		for _, s := range c.Segments {
			if s.FFmpegExitCode != -1 {
				t.Errorf("F1 segment %s: ffmpeg exit %d, want -1 (killed)", s.File, s.FFmpegExitCode)
			}
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of a forced stop")
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	ts := time.Date(2025, 1, 7, 14, 23, 55, 123456789, time.UTC)
	if got := FileName("05520125", ts, "mkv"); got != "cam05520125_20250107_142355123.mkv" {
		t.Errorf("FileName = %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.PixelFormat = "RGB8" }, `pixel format "RGB8"`},
		{func(c *Config) { c.FPS = 0 }, "fps 0"},
		{func(c *Config) { c.Encoder = "vp9" }, `encoder "vp9"`},
		{func(c *Config) { c.Container = "avi" }, `container "avi"`},
		{func(c *Config) { c.Encoder = EncoderRaw; c.Container = "mp4" }, "needs container mkv"},
		{func(c *Config) { c.LeadTime = 0 }, "lead time"},
		{func(c *Config) { c.SegmentDuration = 500 * time.Millisecond }, "segment duration 500ms"},
		{func(c *Config) { c.SegmentDuration = -time.Second }, "segment duration -1s"},
	} {
		cfg := Config{Width: 8, Height: 8, PixelFormat: "BayerGR8", FPS: 50, LeadTime: time.Second, OutputDir: "x"}
		tc.mod(&cfg)
		_, err := New(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestGridIndex(t *testing.T) {
	t.Parallel()
	const start, iv = 1_000_000_000, 20_000_000
	for _, tc := range []struct {
		ts   int64
		want int64
	}{{start, 0}, {start + 9_999_999, 0}, {start + 10_000_000, 1}, {start + 20_000_100, 1}, {start - 20_000_000, -1}, {start + 500*iv, 500}} {
		if got := gridIndex(tc.ts, start, iv); got != tc.want {
			t.Errorf("gridIndex(%d) = %d, want %d", tc.ts, got, tc.want)
		}
	}
	for _, tc := range []struct {
		prev, id uint64
		want     int64
	}{{1, 2, 1}, {65535, 1, 1}, {65534, 2, 3}, {100, 100, 0}, {70000, 70002, 2}} {
		if got := frameIDStep(tc.prev, tc.id); got != tc.want {
			t.Errorf("frameIDStep(%d, %d) = %d, want %d", tc.prev, tc.id, got, tc.want)
		}
	}
}

// TestSidecarNoAllocs: a sidecar row costs no allocation.
func TestSidecarNoAllocs(t *testing.T) {
	s, err := createSidecar(filepath.Join(t.TempDir(), "s.csv"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	r := row{output: 1, grid: 1, has: true, frameID: 2, deviceTS: 3, hostRx: 4, gridNs: 5, status: StatusOK, depth: 1}
	if n := testing.AllocsPerRun(100, func() { _ = s.write(r) }); n != 0 {
		t.Errorf("%v allocations per sidecar row", n)
	}
}

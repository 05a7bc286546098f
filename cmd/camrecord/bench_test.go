package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// procCPU is the time on a CPU so far (schedstat, in ns: not sampled at
// ticks) of every thread of process pid and of its descendants but those
// named skip: the rig starts commands through `ip netns exec` or nsenter,
// which may fork.
func procCPU(tb testing.TB, pid int, skip string) time.Duration {
	tb.Helper()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) == skip {
		return 0 // exited meanwhile, or skipped
	}
	var total time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, t := range tasks {
		if b, err := os.ReadFile(t + "/schedstat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				total += time.Duration(ns)
			}
		}
		kids, _ := os.ReadFile(t + "/children")
		for _, k := range strings.Fields(string(kids)) {
			if kid, err := strconv.Atoi(k); err == nil {
				total += procCPU(tb, kid, skip)
			}
		}
	}
	return total
}

// window is a process's CPU time over a run of frames.
type window struct {
	frames int64
	cpu    time.Duration
}

func (w window) perFrame() time.Duration {
	if w.frames <= 0 {
		return 0
	}
	return w.cpu / time.Duration(w.frames)
}

// waitMatches polls out until re matches at least n times (or done closes,
// or timeout) and returns the matches.
func waitMatches(tb testing.TB, out fmt.Stringer, re *regexp.Regexp, n int, done <-chan struct{}, timeout time.Duration) [][]string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindAllStringSubmatch(out.String(), -1); len(m) >= n {
			return m
		}
		select {
		case <-done:
			tb.Fatalf("process exited before %d lines matching %v:\n%s", n, re, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no %d lines matching %v after %v:\n%s", n, re, timeout, out.String())
		}
	}
}

var aravisRate = regexp.MustCompile(`(?m)^\s*(\d+) frames/s`)

// aravisLoop runs arv-camera-test-0.8 (Aravis' own receive loop) on a
// camera at 1920x1080, 50 fps, and measures its CPU from its 2nd to its 6th
// report of the last second's frames.
func aravisLoop(b *testing.B, r *rig.Rig) window {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// stdbuf: its reports must come when it prints them, not at exit.
	cmd := r.Host().Command(ctx, "stdbuf", "-oL", "arv-camera-test-0.8", "-n", r.Cameras[0].Address, "-w", "1920", "-h", "1080", "-f", "50", "--duration=8")
	out, done := testenv.Start(b, cmd)
	defer func() { <-done }()
	waitMatches(b, out, aravisRate, 2, done, 30*time.Second)
	c0 := procCPU(b, cmd.Process.Pid, "")
	m := waitMatches(b, out, aravisRate, 6, done, 30*time.Second)
	c1 := procCPU(b, cmd.Process.Pid, "")
	var w window
	for _, l := range m[2:6] {
		n, _ := strconv.ParseInt(l[1], 10, 64)
		w.frames += n
	}
	w.cpu = c1 - c0
	b.Logf("arv-camera-test: %d frames in 4 reports, %v CPU", w.frames, w.cpu)
	return w
}

var progressWritten = regexp.MustCompile(`msg=Progress [^\n]*frames_written=(\d+)`)

// camrecordLoop records the same camera at 1920x1080, 50 fps into a null
// sink and measures camrecord's own CPU (not ffmpeg's) between its 2nd and
// 4th progress line (4 s apart), which say how many frames it wrote.
func camrecordLoop(b *testing.B, r *rig.Rig) window {
	rec := startRecord(b, r, "--width", "1920", "--height", "1080", "--fps", "50", "--duration", "12s", "--encoder", "null")
	waitMatches(b, rec.out, progressWritten, 2, rec.done, 60*time.Second)
	c0 := procCPU(b, rec.cmd.Process.Pid, "ffmpeg")
	m := waitMatches(b, rec.out, progressWritten, 4, rec.done, 30*time.Second)
	c1 := procCPU(b, rec.cmd.Process.Pid, "ffmpeg")
	f0, _ := strconv.ParseInt(m[1][1], 10, 64)
	f1, _ := strconv.ParseInt(m[3][1], 10, 64)
	code := rec.wait(b, 60*time.Second)
	for _, c := range readSession(b, rec.dir).Cameras {
		b.Logf("camrecord exit %d: received %d written %d dropped %d missing %d incomplete %d; Aravis %+v",
			code, c.Received, c.Written, c.Dropped, c.Missing, c.Incomplete, c.Stream)
	}
	w := window{frames: f1 - f0, cpu: c1 - c0}
	b.Logf("camrecord: %d frames between progress lines, %v CPU", w.frames, w.cpu)
	return w
}

// BenchmarkVsAravis1080p runs Aravis' own receive loop (arv-camera-test-0.8)
// and camrecord, one after the other, on the same simulated camera at
// 1920x1080 BayerGR8 50 fps in a rig, and reports each one's CPU per frame
// and camrecord's as a multiple of Aravis' (the target is 1.2 at most).
// Run with -benchtime 1x.
func BenchmarkVsAravis1080p(b *testing.B) {
	testenv.RequireTool(b, "arv-camera-test-0.8", "stdbuf")
	r := upRig(b, 1)
	for b.Loop() {
		arv := aravisLoop(b, r)
		rec := camrecordLoop(b, r)
		ratio := float64(rec.perFrame()) / float64(arv.perFrame())
		b.Logf("CPU per 1080p frame: arv-camera-test %v, camrecord %v: ratio %.2f", arv.perFrame(), rec.perFrame(), ratio)
		b.ReportMetric(float64(arv.perFrame().Microseconds()), "aravis_us/frame")
		b.ReportMetric(float64(rec.perFrame().Microseconds()), "camrecord_us/frame")
		b.ReportMetric(ratio, "camrecord/aravis")
	}
}

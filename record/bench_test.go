package record

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/internal/testenv"
)

// benchCamera delivers 1080p frames from a few preallocated buffers (no
// allocation, no copy of its own), on the 1/fps grid or, unpaced, as fast as
// they are taken: the pipeline is what is measured.
type benchCamera struct {
	serial  string
	unpaced bool
	gate    func() bool // unpaced: whether the recorder has a free slot

	mu       sync.Mutex
	start    int64
	interval time.Duration
	size     int
}

func (c *benchCamera) Serial() string { return c.serial }
func (c *benchCamera) Configure(_ context.Context, a genicam.Acquisition) error {
	c.size = a.Width * a.Height
	return nil
}
func (c *benchCamera) Latch(context.Context) (genicam.LatchSample, error) {
	n := time.Now()
	return genicam.LatchSample{Device: n.UnixNano(), HostBefore: n, HostAfter: n}, nil
}
func (c *benchCamera) ProgramScheduler(_ context.Context, start int64, iv time.Duration) error {
	c.start, c.interval = start, iv
	return nil
}
func (c *benchCamera) CancelScheduler(context.Context) error { return nil }
func (c *benchCamera) StartStream(context.Context, genicam.StreamConfig) (Stream, error) {
	s := &benchStream{cam: c, done: make(chan struct{})}
	for i := range s.bufs {
		s.bufs[i] = make([]byte, c.size)
	}
	return s, nil
}

type benchStream struct {
	cam   *benchCamera
	bufs  [4][]byte
	k     int64
	timer *time.Timer
	done  chan struct{}
	once  sync.Once
}

func (s *benchStream) Next(ctx context.Context) (genicam.Frame, error) {
	c := s.cam
	ts := c.start + s.k*int64(c.interval)
	if !c.unpaced {
		if d := time.Until(time.Unix(0, ts)); d > 0 {
			// One reused timer: the camera must not add allocations of
			// its own to the pipeline's.
			if s.timer == nil {
				s.timer = time.NewTimer(d)
			} else {
				s.timer.Reset(d)
			}
			select {
			case <-ctx.Done():
				return genicam.Frame{}, ctx.Err()
			case <-s.done:
				return genicam.Frame{}, genicam.ErrClosed
			case <-s.timer.C:
			}
		}
	} else {
		// Unpaced: as fast as the pipeline takes frames (a free slot),
		// so that what is measured is copy, pipe and ffmpeg, not drops.
		for !c.gate() {
			if ctx.Err() != nil {
				return genicam.Frame{}, ctx.Err()
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	b := s.bufs[s.k%int64(len(s.bufs))]
	binary.BigEndian.PutUint64(b, uint64(s.k))
	f := genicam.Frame{Data: b, FrameID: uint64(s.k%65535 + 1), Timestamp: ts, Status: genicam.FrameSuccess}
	s.k++
	return f, nil
}
func (s *benchStream) Release(genicam.Frame) error { return nil }
func (s *benchStream) Stats() genicam.StreamStats {
	return genicam.StreamStats{CompletedBuffers: uint64(s.k)}
}
func (s *benchStream) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

type benchRun struct {
	cams                 int
	frames, dropped      uint64
	cpuPerFrame          time.Duration
	allocsPerFrame       float64
	bytesPerSec          float64
	steadyFrames         uint64
	steadyElapsed        time.Duration
	underruns, incomplet uint64
}

func rusageSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runBench records n cameras of 1920x1080 BayerGR8 at 50 fps into ffmpeg
// discarding the frames, and measures the steady state (from 0.5 s after
// the start to 0.5 s before the end): camrecord's CPU (RUSAGE_SELF, so
// without ffmpeg) and allocations per frame, and bytes per second to ffmpeg.
func runBench(b *testing.B, n int, unpaced bool, d time.Duration) benchRun {
	cfg := Config{Width: 1920, Height: 1080, PixelFormat: "BayerGR8", FPS: 50, Duration: d, LeadTime: 500 * time.Millisecond,
		OutputDir: b.TempDir(), Encoder: EncoderNull, Align: true, QueueFrames: 16}
	if unpaced {
		// The grid runs ahead of time: stop by context, and no padding
		// to the (far ahead) last grid index.
		cfg.Duration, cfg.Align = 0, false
	}
	r, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := r.Prepare(ctx, n); err != nil {
		b.Fatal(err)
	}
	cams := make([]Camera, n)
	for i := range cams {
		cams[i] = &benchCamera{serial: fmt.Sprintf("B%d", i), unpaced: unpaced, gate: func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.cams) > i && len(r.cams[i].free) > 0
		}}
	}
	type sample struct {
		at     time.Time
		cpu    time.Duration
		allocs uint64
		frames uint64
		bytes  uint64
	}
	take := func() sample {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := sample{at: time.Now(), cpu: rusageSelf(), allocs: ms.Mallocs}
		r.mu.Lock()
		for _, c := range r.cams {
			s.frames += c.received.Load()
			s.bytes += c.bytes.Load()
		}
		r.mu.Unlock()
		return s
	}
	var s0, s1 sample
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r.started.Load() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		start := time.Unix(0, r.started.Load())
		time.Sleep(time.Until(start.Add(500 * time.Millisecond)))
		s0 = take()
		time.Sleep(time.Until(start.Add(d - 500*time.Millisecond)))
		s1 = take()
		if unpaced {
			cancel()
		}
	}()
	res, err := r.Run(ctx, nil, cams, nil)
	if err != nil {
		b.Fatal(err)
	}
	<-done
	out := benchRun{cams: n, steadyFrames: s1.frames - s0.frames, steadyElapsed: s1.at.Sub(s0.at)}
	for _, c := range res.Cameras {
		out.frames += c.Written
		out.dropped += c.Dropped + c.Missing
		out.underruns += c.Stream.Underruns
		if c.Err != "" {
			b.Errorf("camera %s: %s", c.Serial, c.Err)
		}
	}
	if out.steadyFrames > 0 {
		out.cpuPerFrame = (s1.cpu - s0.cpu) / time.Duration(out.steadyFrames)
		out.allocsPerFrame = float64(s1.allocs-s0.allocs) / float64(out.steadyFrames)
	}
	out.bytesPerSec = float64(s1.bytes-s0.bytes) / s1.at.Sub(s0.at).Seconds()
	b.Logf("run N=%d unpaced=%v: written %d dropped %d, steady %d frames in %v, %d bytes", n, unpaced, out.frames, out.dropped, out.steadyFrames, out.steadyElapsed, s1.bytes-s0.bytes)
	return out
}

// pipeCeiling is the rate of writing whole 1080p frames into `cat >
// /dev/null` through a pipe of PipeSize: what any consumer of the pipe
// could get at best.
func pipeCeiling(b *testing.B, frameSize int, d time.Duration) float64 {
	pr, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := setPipeSize(w, PipeSize); err != nil {
		b.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command("cat")
	cmd.Stdin, cmd.Stdout = pr, null
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pr.Close()
	buf := make([]byte, frameSize)
	start := time.Now()
	var n int64
	for time.Since(start) < d {
		m, err := w.Write(buf)
		if err != nil {
			b.Fatal(err)
		}
		n += int64(m)
	}
	el := time.Since(start)
	w.Close()
	_ = cmd.Wait()
	return float64(n) / el.Seconds()
}

// BenchmarkPipeline is camrecord's benchmark (make bench): N cameras ×
// 1920x1080 BayerGR8 @ 50 fps into ffmpeg discarding the frames; the highest
// N with 0 drops, camrecord's own CPU and allocations per frame, and the
// transport rate of one unpaced camera as a ratio of the `cat` pipe ceiling
// measured in the same run. Run with -benchtime 1x.
func BenchmarkPipeline(b *testing.B) {
	testenv.RequireTool(b, "ffmpeg", "cat")
	for b.Loop() {
		best := 0
		var runs []benchRun
		for _, n := range []int{1, 2, 4, 6, 8} {
			r := runBench(b, n, false, 3*time.Second)
			runs = append(runs, r)
			b.Logf("N=%d: %d frames written, %d dropped/missing, camrecord CPU %v/frame, %.2f allocs/frame",
				n, r.frames, r.dropped, r.cpuPerFrame, r.allocsPerFrame)
			if r.dropped != 0 || r.underruns != 0 {
				break
			}
			best = n
		}
		ceiling := pipeCeiling(b, 1920*1080, time.Second)
		up := runBench(b, 1, true, 3*time.Second)
		ratio := up.bytesPerSec / ceiling
		b.Logf("transport: unpaced camera %.2f GB/s to ffmpeg, cat pipe ceiling %.2f GB/s (pipe %d KiB): ratio %.2f",
			up.bytesPerSec/1e9, ceiling/1e9, PipeSize>>10, ratio)
		b.ReportMetric(float64(best), "max_cameras_0_drops")
		b.ReportMetric(float64(runs[0].cpuPerFrame.Microseconds()), "cpu_us/frame")
		b.ReportMetric(runs[0].allocsPerFrame, "allocs/frame")
		b.ReportMetric(ratio, "pipe_ratio")
	}
}

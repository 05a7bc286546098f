package record

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ptpcam/ptpcam/check"
	"github.com/ptpcam/ptpcam/genicam"
)

// Camera is what the recorder needs of a camera. FromGenicam adapts a
// *genicam.Camera.
type Camera interface {
	Serial() string
	Configure(ctx context.Context, a genicam.Acquisition) error
	Latch(ctx context.Context) (genicam.LatchSample, error)
	ProgramScheduler(ctx context.Context, start int64, interval time.Duration) error
	CancelScheduler(ctx context.Context) error
	StartStream(ctx context.Context, cfg genicam.StreamConfig) (Stream, error)
}

// Stream is a running acquisition (*genicam.Stream).
type Stream interface {
	// Next waits for a frame; it fails only when ctx ends or the stream is
	// closed.
	Next(ctx context.Context) (genicam.Frame, error)
	Release(f genicam.Frame) error
	Stats() genicam.StreamStats
	Close() error
}

// FromGenicam adapts an open Aravis camera.
func FromGenicam(c *genicam.Camera) Camera { return genicamCamera{c} }

type genicamCamera struct{ *genicam.Camera }

func (g genicamCamera) StartStream(ctx context.Context, cfg genicam.StreamConfig) (Stream, error) {
	s, err := g.Camera.StartStream(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Recorder records one take. Create it with New, call Prepare (encoder
// probes: before any camera is touched), then Run. It is a
// prometheus.Collector for its live metrics.
type Recorder struct {
	cfg     Config
	log     *slog.Logger
	opts    ffmpegOptions
	frameSz int

	encoders []EncoderChoice
	version  string
	// cpuFallback is the CPU encoder that takes over from an NVENC one that
	// dies mid-take ("" when none opened or none is needed).
	cpuFallback string

	state    atomic.Int32
	started  atomic.Int64 // host ns of the common start, 0 before
	skewNs   atomic.Int64 // -1 until known
	mu       sync.Mutex
	cams     []*camRec
	progress *progressDisplay
	// sendAction sends action mode's commands (a genicam.ActionSender per
	// take when nil; tests replace it).
	sendAction sendActionFunc
}

// New validates cfg.
func New(cfg Config, log *slog.Logger) (*Recorder, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pf, bpp, _ := FFmpegPixelFormat(cfg.PixelFormat)
	r := &Recorder{cfg: cfg, log: log, frameSz: cfg.Width * cfg.Height * bpp,
		opts: ffmpegOptions{bin: cfg.FFmpeg, width: cfg.Width, height: cfg.Height, fps: cfg.FPS, pixFmt: pf, genicamFormat: cfg.PixelFormat,
			bitrate: cfg.Bitrate, preset: cfg.Preset, container: cfg.Container,
			clusterLimitMs: int(cfg.ClusterTimeLimit / time.Millisecond)}}
	if r.cfg.QueueFrames <= 0 {
		r.cfg.QueueFrames = min(512, max(16, (64<<20)/r.frameSz))
	}
	if r.cfg.StreamBuffers <= 0 {
		// The frames the writer may hold, and those Aravis fills or
		// keeps waiting for resends meanwhile.
		r.cfg.StreamBuffers = r.cfg.QueueFrames + 1 + spliceRing(r.frameSz) + r.inFlight()
	}
	r.skewNs.Store(-1)
	r.state.Store(int32(StateIdle))
	return r, nil
}

// Prepare checks ffmpeg and chooses the encoder of each of n cameras with a
// one-frame test encode. It fails (before any camera is armed) when the
// requested encoder cannot open.
func (r *Recorder) Prepare(ctx context.Context, n int) ([]EncoderChoice, error) {
	r.state.Store(int32(StatePreparing))
	v, err := ffmpegVersion(ctx, r.cfg.FFmpeg)
	if err != nil {
		r.state.Store(int32(StateFailed))
		return nil, err
	}
	r.version = v
	enc, err := planEncoders(ctx, r.opts, r.cfg.Encoder, n, r.cfg.NVENCMaxSessions, r.log)
	if err != nil {
		r.state.Store(int32(StateFailed))
		return nil, err
	}
	r.encoders = enc
	for i, e := range enc {
		r.log.Info("Encoder chosen", "camera", i, "encoder", e.Encoder, "reason", e.Reason)
	}
	if slices.ContainsFunc(enc, func(e EncoderChoice) bool { return isNVENC(e.Encoder) }) {
		// An NVENC session can be lost mid-take (another process takes
		// the GPU's last one); the camera then goes on with this.
		for _, cpu := range []string{EncoderLibx264, EncoderLibx265} {
			if err := probeEncoder(ctx, r.opts, cpu); err == nil {
				r.cpuFallback = cpu
				break
			} else {
				r.log.Warn("CPU encoder unusable as NVENC's fallback", "encoder", cpu, "err", err)
			}
		}
	}
	return enc, nil
}

// FFmpegVersion is the version line of ffmpeg, known after Prepare.
func (r *Recorder) FFmpegVersion() string { return r.version }

// Ext is the file extension of the configured container.
func (r *Recorder) Ext() string {
	if r.cfg.Container == "mp4" {
		return "mp4"
	}
	return "mkv"
}

// cleanupSetup undoes a setup that failed before the take: schedulers
// cancelled, streams closed, ffmpegs aborted, sidecars closed.
func cleanupSetup(recs []*camRec) {
	for _, c := range recs {
		if c == nil {
			continue
		}
		if c.stream != nil {
			_ = c.cam.CancelScheduler(context.Background())
			_ = c.stream.Close()
		}
		if c.ff != nil {
			c.ff.abort()
		}
		if c.side != nil {
			c.side.close()
		}
	}
}

// take is one Run: what its steps hand on to each other.
type take struct {
	ctx       context.Context
	force     <-chan struct{}
	cams      []Camera
	recs      []*camRec
	start     int64     // device time of trigger 0
	hostStart time.Time // host time of trigger 0
	stamp     time.Time // the files' names' time
	res       *Result
	sess      *Session
	modes     []SyncMode            // each camera's start mode
	samples   []genicam.LatchSample // the latches the start was found from
}

// Run records a take from cams (opened, PTP-checked; encoders from Prepare
// in the same order). ptp is stored in the session file. When ctx ends the
// take stops cleanly; when force is closed ffmpeg is killed instead of
// awaited. Run returns an error only when recording could not start; camera
// failures during the take are in the Result.
func (r *Recorder) Run(ctx context.Context, force <-chan struct{}, cams []Camera, ptp *check.SyncResult) (*Result, error) {
	if len(r.encoders) != len(cams) {
		return nil, fmt.Errorf("record: %d cameras but %d encoders prepared (call Prepare with the camera count)", len(cams), len(r.encoders))
	}
	if err := os.MkdirAll(r.cfg.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("output dir: %w", err)
	}
	t := &take{ctx: ctx, force: force, cams: cams, recs: make([]*camRec, len(cams))}
	if err := r.setUp(t); err != nil {
		// The one failure path before the take: what was set up is undone.
		cleanupSetup(t.recs)
		r.state.Store(int32(StateFailed))
		return nil, err
	}
	r.announce(t, ptp)
	r.record(t)
	r.results(t)
	return t.res, nil
}

// setUp configures the cameras, finds the common start, opens every
// camera's files and ffmpeg, and arms the cameras.
func (r *Recorder) setUp(t *take) error {
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	r.state.Store(int32(StateArming))
	modes, err := r.chooseModes(t.cams)
	if err != nil {
		return err
	}
	t.modes = modes
	if err := r.configure(ctx, t.cams); err != nil {
		return err
	}
	if err := r.commonStart(ctx, t); err != nil {
		return err
	}
	if err := r.openFiles(t); err != nil {
		return err
	}
	return r.arm(ctx, t)
}

// configure sets size, format and rate first, as the payload size of the
// streams depends on them.
func (r *Recorder) configure(ctx context.Context, cams []Camera) error {
	cfg := &r.cfg
	for _, c := range cams {
		if err := c.Configure(ctx, genicam.Acquisition{Width: cfg.Width, Height: cfg.Height, PixelFormat: cfg.PixelFormat, FrameRate: cfg.FPS}); err != nil {
			return fmt.Errorf("camera %s: configure: %w", c.Serial(), err)
		}
	}
	return nil
}

// commonStart finds one common start on the shared PTP timeline: the latest
// latched device time plus the lead time. Latches run concurrently so the
// latest one is as recent as possible.
func (r *Recorder) commonStart(ctx context.Context, t *take) error {
	samples, err := latchAll(ctx, t.cams)
	if err != nil {
		return err
	}
	if err := r.startFrom(t, samples); err != nil {
		return err
	}
	t.stamp = t.hostStart.Local()
	return nil
}

// latchAll latches every camera at once, so that the latest is as recent
// as possible.
func latchAll(ctx context.Context, cams []Camera) ([]genicam.LatchSample, error) {
	samples := make([]genicam.LatchSample, len(cams))
	errs := make([]error, len(cams))
	var wg sync.WaitGroup
	for i, c := range cams {
		wg.Go(func() { samples[i], errs[i] = c.Latch(ctx) })
	}
	wg.Wait()
	for i, c := range cams {
		if errs[i] != nil {
			return nil, fmt.Errorf("camera %s: latch: %w", c.Serial(), errs[i])
		}
	}
	return samples, nil
}

// startFrom sets the take's start from latches.
func (r *Recorder) startFrom(t *take, samples []genicam.LatchSample) error {
	li := 0
	for i := range samples {
		if samples[i].Device > samples[li].Device {
			li = i
		}
	}
	start, err := r.alignStart(samples[li].Device, t.cams[li].Serial(), t.modes)
	if err != nil {
		return err
	}
	t.samples, t.start = samples, start
	// Host time of the start, through the first camera's offset (all share
	// PTP time; the offset absorbs TAI/UTC).
	t.hostStart = time.Unix(0, t.start-int64(samples[0].Offset()))
	t.res = &Result{Start: t.hostStart, StartDeviceNs: t.start, StartSkewNs: -1}
	return nil
}

// openFiles creates every camera's pipeline: its sidecar and its first
// segment's ffmpeg.
func (r *Recorder) openFiles(t *take) error {
	cfg := &r.cfg
	zero := make([]byte, r.frameSz) // black Bayer/mono frame for fills before the first frame
	for i, c := range t.cams {
		serial := c.Serial()
		file := filepath.Join(cfg.OutputDir, FileName(serial, t.stamp, r.Ext()))
		if !cfg.Overwrite && fileExists(file) {
			return fmt.Errorf("camera %s: %s exists (use --overwrite)", serial, file)
		}
		pool := r.heldFrames()
		cr := &camRec{r: r, idx: i, serial: serial, cam: c, enc: r.encoders[i], file: file,
			log: r.log.With("serial", serial), black: zero,
			free: make(chan *heldFrame, pool), queue: make(chan item, 2*cfg.QueueFrames+64)}
		cr.lastK.Store(-1)
		cr.mode = t.modes[i]
		for _, hf := range make([]heldFrame, pool) {
			cr.free <- &hf
		}
		cr.sideP = strings.TrimSuffix(file, filepath.Ext(file)) + ".csv"
		side, err := createSidecar(cr.sideP, !cfg.Overwrite)
		if err != nil {
			return fmt.Errorf("camera %s: %w", serial, err)
		}
		cr.side = side
		t.recs[i] = cr
		if err := cr.startSegment(file, 0, cr.enc, nil); err != nil {
			return fmt.Errorf("camera %s: %w", serial, err)
		}
		cr.args = cr.segments[0].FFmpegArgs
	}
	return nil
}

// arm programs every camera's scheduler and starts its stream, then checks
// that the start is still ahead of every camera.
func (r *Recorder) arm(ctx context.Context, t *take) error {
	for _, cr := range t.recs {
		if err := r.armMode(ctx, cr, t.start); err != nil {
			return err
		}
		st, err := cr.cam.StartStream(ctx, r.streamConfig())
		if err != nil {
			return fmt.Errorf("camera %s: start stream: %w", cr.serial, err)
		}
		cr.stream = st
	}
	if err := r.relatch(ctx, t); err != nil {
		return err
	}
	if s, err := t.recs[len(t.recs)-1].cam.Latch(ctx); err == nil && s.Device >= t.start {
		return fmt.Errorf("lead time %v too short: arming finished %v after the start", r.cfg.LeadTime, time.Duration(s.Device-t.start))
	}
	return nil
}

// announce makes the armed take visible: state, metrics' cameras, the
// session file.
func (r *Recorder) announce(t *take, ptp *check.SyncResult) {
	cfg := &r.cfg
	r.mu.Lock()
	r.cams = t.recs
	r.mu.Unlock()
	r.started.Store(t.hostStart.UnixNano())
	r.state.Store(int32(StateWaiting))
	t.sess = &Session{TakeID: takeID(cfg.TakeID, t.hostStart), Devices: cfg.Devices, Start: t.hostStart, StartDeviceNs: t.start, FPS: cfg.FPS, IntervalNs: int64(cfg.Interval()),
		Width: cfg.Width, Height: cfg.Height, PixelFormat: cfg.PixelFormat, Duration: cfg.Duration.String(),
		Align: cfg.Align, PTP: ptp, FFmpegVersion: r.version}
	for _, cr := range t.recs {
		t.sess.Serials = append(t.sess.Serials, cr.serial)
		t.sess.Cameras = append(t.sess.Cameras, CameraResult{Serial: cr.serial, File: cr.file, Sidecar: cr.sideP, Encoder: cr.enc, FFmpegArgs: cr.args,
			FFmpegExitCode: -2, Segments: cr.segmentsResult(), StartMode: string(cr.mode)})
	}
	t.res.Session = filepath.Join(cfg.OutputDir, "session_"+strings.TrimSuffix(strings.TrimPrefix(FileName("", t.stamp, "json"), "cam_"), ".json")+".json")
	if err := writeJSONAtomic(t.res.Session, t.sess); err != nil {
		r.log.Warn("Session file", "err", err)
	}
	r.log.Info("Armed: recording starts on the common PTP instant",
		"start_device_ns", t.start, "start", t.hostStart.Format(time.RFC3339Nano), "in", time.Until(t.hostStart).Round(time.Millisecond),
		"interval", cfg.Interval(), "frames", cfg.Frames(), "cameras", len(t.recs))
}

// record runs the take: per camera an acquirer (then a drainer), a writer
// and a watchdog, and one monitor; it returns once every file is finished
// and every stream closed.
func (r *Recorder) record(t *take) {
	interval, total := r.cfg.Interval(), r.cfg.Frames()
	var acqWG, wrWG, drainWG sync.WaitGroup
	// After the take the drainers give every frame that still arrives
	// back at once, until the streams close.
	drainCtx, stopDrain := context.WithCancel(context.Background())
	defer stopDrain()
	end := newEndOfTake()
	for _, cr := range t.recs {
		actx, cancel := context.WithCancel(t.ctx)
		cr.cancel = cancel
		cr.lastFrameHost.Store(t.hostStart.UnixNano())
		cr.hostStartNs = t.hostStart.UnixNano()
		acquired := make(chan struct{})
		baseTimer := time.AfterFunc(time.Until(t.hostStart.Add(-interval/2)), cr.takeBase)
		defer baseTimer.Stop()
		acqWG.Go(func() {
			defer close(acquired)
			defer cancel()
			cr.acquire(actx, t.start, int64(interval), total)
			// A take stopped early or cut off by the watchdog ends here;
			// one of fixed length ended at its last frame's dequeue.
			cr.endTake()
		})
		drainWG.Go(func() {
			<-acquired
			cr.drain(drainCtx)
		})
		wrWG.Go(func() { cr.writeLoop(t.start, int64(interval), end, t.force) })
		go cr.watchdog(actx, t.hostStart, interval, total)
	}
	sender, err := r.newActionSender(t)
	if err != nil {
		r.log.Error("Action commands", "err", err)
	}
	sendCtx, stopSend := context.WithCancel(t.ctx)
	defer stopSend()
	var sendWG sync.WaitGroup
	if sender != nil {
		sendWG.Go(func() { sender.run(sendCtx) })
	}
	monitorDone := make(chan struct{})
	var monWG sync.WaitGroup
	monWG.Go(func() { r.monitor(monitorDone, t.hostStart, t.recs) })

	acqWG.Wait()
	stopSend()
	sendWG.Wait() // every command's answer counted, the socket closed
	r.state.Store(int32(StateStopping))
	t.res.Frames = r.takeEnd(t)
	end.set(t.res.Frames)
	// The writers give every buffer back before the streams (and their
	// buffers) go; the schedulers stopped with acquisition.
	wrWG.Wait()
	stopDrain()
	drainWG.Wait()
	for _, cr := range t.recs {
		if err := cr.stream.Close(); err != nil && !cr.failed.Load() {
			cr.log.Warn("Close stream", "err", err)
		}
	}
	close(monitorDone)
	monWG.Wait()
}

// takeEnd is where every file ends once all acquirers are done: at the same
// trigger. A take of fixed length ends at its length; a stopped one at the
// latest trigger any working camera delivered.
func (r *Recorder) takeEnd(t *take) int64 {
	total := r.cfg.Frames()
	var maxK int64 = -1
	for _, cr := range t.recs {
		if !cr.failed.Load() {
			maxK = max(maxK, cr.lastK.Load())
		}
	}
	end := maxK + 1
	if total > 0 && t.ctx.Err() == nil {
		end = total
	}
	if total > 0 {
		end = min(end, total)
	}
	return end
}

// results fills the take's Result and session file and sets the final state.
func (r *Recorder) results(t *take) {
	t.res.StartSkewNs = r.skewNs.Load()
	for _, cr := range t.recs {
		t.res.Cameras = append(t.res.Cameras, cr.result(t.force))
	}
	t.sess.Cameras = t.res.Cameras
	t.sess.Result = t.res
	if err := writeJSONAtomic(t.res.Session, t.sess); err != nil {
		r.log.Warn("Session file", "err", err)
	}
	if t.res.Failed() > 0 {
		r.state.Store(int32(StateFailed))
	} else {
		r.state.Store(int32(StateDone))
	}
}

// result is how the camera's take went; segments whose ffmpeg failed are
// counted with ffprobe (unless forced).
func (cr *camRec) result(force <-chan struct{}) CameraResult {
	segs := cr.segmentsResult()
	for i := range segs {
		if segs[i].Err == "" || segs[i].Encoder.Encoder == EncoderNull || forced(force) {
			continue
		}
		n, err := countPackets(context.Background(), cr.r.cfg.FFmpeg, segs[i].File)
		if err != nil {
			cr.log.Warn("Could not count the frames of a segment whose ffmpeg failed", "file", segs[i].File, "err", err)
			continue
		}
		if lost := segs[i].Frames - n; lost > 0 {
			cr.log.Warn("Frames lost with a failed ffmpeg", "file", segs[i].File, "frames_written", segs[i].Frames,
				"frames_stored", n, "lost", lost)
		}
		segs[i].StoredFrames = &n
	}
	cr.mu.Lock()
	cres := CameraResult{Serial: cr.serial, File: cr.file, Sidecar: cr.sideP, Encoder: cr.enc, FFmpegArgs: cr.args,
		Received: cr.received.Load(), Written: cr.written.Load(), Filled: cr.filled.Load(), Missing: cr.missing.Load(),
		Dropped: cr.dropQueue.Load() + cr.dropLate.Load(), Incomplete: cr.dropIncomplete.Load(),
		FirstFrameOffsetNs: cr.firstOffset.Load(), Stream: cr.stats, FFmpegExitCode: segs[len(segs)-1].FFmpegExitCode,
		Segments: segs, StartMode: string(cr.mode), Actions: cr.actionSummary(), ClockStepNs: cr.clockStep.Load()}
	if cr.err != nil {
		cres.Err = cr.err.Error()
	}
	cr.mu.Unlock()
	if n := cr.beforeStart.Load(); n > 0 {
		cr.log.Info("Frames from before the start given back (not the take's)", "frames", n)
	}
	cr.log.Info("Camera done", "file", cr.file, "segments", len(segs), "frames_written", cres.Written, "filled", cres.Filled,
		"missing", cres.Missing, "dropped", cres.Dropped, "incomplete", cres.Incomplete,
		"aravis_underruns", cres.Stream.Underruns, "aravis_missing_packets", cres.Stream.MissingPackets,
		"aravis_resent_packets", cres.Stream.ResentPackets, "err", cres.Err)
	return cres
}

// State is the recorder's state, exported as a state set.
type State int32

// Recorder states.
const (
	StateIdle State = iota
	StatePreparing
	StateArming
	StateWaiting
	StateRecording
	StateStopping
	StateDone
	StateFailed
)

var stateNames = [...]string{"idle", "preparing", "arming", "waiting", "recording", "stopping", "done", "failed"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

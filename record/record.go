// Package record records several PTP-synchronized GigE Vision cameras, each
// into its own ffmpeg, starting on one common device-time instant.
//
// # Pipeline
//
// Per camera, two goroutines and a bounded queue of preallocated frame slots:
//
//	Aravis stream --Next--> acquire: copy into a free slot, Release at once --queue--> write: whole frames to ffmpeg stdin
//
// The Aravis buffer goes back to the stream right after the copy, so a slow
// encoder never starves acquisition (Aravis' n_underruns stays 0). When no
// slot is free the frame is dropped at a frame boundary and counted with its
// reason. The writer only ever writes whole frames, with no deadline: a cut
// write would misalign ffmpeg for the rest of the file.
//
// # Alignment
//
// Frames are placed on the trigger grid start + k/fps by their device
// timestamp (frame ids wrap at 16 bits on GigE Vision 1.x and only cross-
// check). With alignment on, every grid point k gets output frame k: a
// missing, dropped or incomplete frame is replaced by the previous frame
// written again (black before the first) and marked in the sidecar, so frame
// k of every camera's file is trigger k.
//
// # Stopping
//
// A take ends after Config.Duration worth of triggers, or when the context
// passed to Run ends (SIGINT/SIGTERM in camrecord): acquisition stops, the
// queues drain, every file is padded (aligned) to the same frame count,
// stdin is closed and ffmpeg finalizes. The force channel kills ffmpeg
// instead of waiting. A camera that fails is reported in its CameraResult;
// the other cameras go on.
//
// # Segments
//
// A camera's take is one file, or several segment files (cam..._2.mkv, _3,
// ...), and the sidecar's segment column maps every trigger to its file:
//   - With Config.SegmentDuration, every camera starts a new file at the same
//     triggers, every SegmentDuration of the grid: the new ffmpeg starts
//     before the old one is told to finish, so no frame waits for either
//     (NVENC, whose sessions GPUs cap, finishes first; the queue waits).
//   - An ffmpeg that dies mid-take (NVENC sessions exhausted, a crash, a
//     kill) does not end the camera's recording: the writer starts a new
//     ffmpeg into the next segment file from the frame the dead one did not
//     take, on a CPU encoder if the dead one was NVENC. The frames the dead
//     ffmpeg had not yet stored are lost with it; after the take ffprobe
//     counts what its file holds, and the session file says so per segment.
//     After maxRestarts the camera is reported failed.
package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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

// streamFrameRetention is how long a frame may wait for resent packets.
const streamFrameRetention = 500 * time.Millisecond

// streamConfig is how every camera's stream receives. A recorder can wait
// for resends, where a viewer would rather skip a frame: Aravis' 100 ms
// frame retention gives frames up as incomplete on a loaded host, and its
// default resend share (a quarter of a frame's packets) gives up a frame
// whose lost burst the camera could still resend. The socket buffer stays
// the kernel's: a fixed one (4 MiB) cost Aravis' receive thread several times
// its CPU per 1080p frame in BenchmarkVsAravis1080p.
func (r *Recorder) streamConfig() genicam.StreamConfig {
	return genicam.StreamConfig{Buffers: r.cfg.StreamBuffers, FrameRetention: streamFrameRetention, ResendRatio: 1}
}

func (g genicamCamera) StartStream(ctx context.Context, cfg genicam.StreamConfig) (Stream, error) {
	s, err := g.Camera.StartStream(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Config is one recording.
type Config struct {
	Width, Height int
	// PixelFormat is the GenICam pixel format (BayerGR8, Mono8, ...).
	PixelFormat string
	FPS         float64
	// Duration of the take; 0 records until Run's context ends.
	Duration time.Duration
	// LeadTime from the latest latched camera time to the common start.
	LeadTime  time.Duration
	OutputDir string
	// Encoder is one of Encoders.
	Encoder string
	Bitrate string
	// Preset is the encoder's preset; empty: p4 for NVENC, ultrafast for CPU.
	Preset string
	// Container is mkv (Matroska, flushed every ClusterTimeLimit) or mp4
	// (fragmented).
	Container string
	// NVENCMaxSessions caps the cameras encoded with NVENC.
	NVENCMaxSessions int
	// Align pads missing frames so output frame k is trigger k on every camera.
	Align bool
	// QueueFrames is the number of frame slots per camera between
	// acquisition and ffmpeg (default: 64 MiB worth, at least 16).
	QueueFrames int
	// StreamBuffers is the number of Aravis buffers per camera (default:
	// 16 MiB worth, at least 8).
	StreamBuffers int
	// FFmpegNice is the nice value ffmpeg runs at (default 5; negative:
	// leave as is). Encoders have the queue as slack, acquisition has
	// only the Aravis buffers: when CPU is short, acquisition must win.
	FFmpegNice int
	// StallTimeout: a camera that delivers no frame for this long once its
	// start has passed is reported failed (default max(2s, 20 intervals)).
	StallTimeout time.Duration
	// FFmpeg is the ffmpeg binary (default "ffmpeg").
	FFmpeg string
	// ClusterTimeLimit bounds what a killed Matroska recording loses
	// (default 200ms).
	ClusterTimeLimit time.Duration
	// Overwrite replaces existing files; otherwise they are an error.
	Overwrite bool
	// SegmentDuration starts a new file every so much of the trigger grid
	// (0: one file per camera).
	SegmentDuration time.Duration
	// Now gives the host time (tests); time.Now when nil.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.FFmpegNice == 0 {
		c.FFmpegNice = 5
	}
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.ClusterTimeLimit <= 0 {
		c.ClusterTimeLimit = 200 * time.Millisecond
	}
	if c.Container == "" {
		c.Container = "mkv"
	}
	if c.Bitrate == "" {
		c.Bitrate = "2.2M"
	}
	if c.Encoder == "" {
		c.Encoder = EncoderAuto
	}
	if c.NVENCMaxSessions <= 0 {
		c.NVENCMaxSessions = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StallTimeout <= 0 && c.FPS > 0 {
		c.StallTimeout = max(2*time.Second, time.Duration(20*float64(time.Second)/c.FPS))
	}
}

// Validate checks the configuration; errors name the setting.
func (c *Config) Validate() error {
	var errs []error
	if c.Width <= 0 || c.Height <= 0 {
		errs = append(errs, fmt.Errorf("size %dx%d: must be positive", c.Width, c.Height))
	}
	if _, _, err := FFmpegPixelFormat(c.PixelFormat); err != nil {
		errs = append(errs, err)
	}
	if !(c.FPS > 0 && c.FPS <= 10000) {
		errs = append(errs, fmt.Errorf("fps %v: must be in (0, 10000]", c.FPS))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration %v: must be >= 0", c.Duration))
	}
	if c.SegmentDuration != 0 && c.SegmentDuration < time.Second {
		errs = append(errs, fmt.Errorf("segment duration %v: must be 0 (one file) or at least 1s", c.SegmentDuration))
	}
	if c.LeadTime <= 0 {
		errs = append(errs, fmt.Errorf("lead time %v: must be > 0", c.LeadTime))
	}
	if c.Encoder != "" && !contains(Encoders, c.Encoder) {
		errs = append(errs, fmt.Errorf("encoder %q: one of %s", c.Encoder, strings.Join(Encoders, ", ")))
	}
	if c.Container != "" && !contains(Containers, c.Container) {
		errs = append(errs, fmt.Errorf("container %q: one of %s", c.Container, strings.Join(Containers, ", ")))
	}
	if c.Encoder == EncoderRaw && c.Container == "mp4" {
		errs = append(errs, errors.New("encoder raw: needs container mkv (MP4 does not carry Bayer rawvideo)"))
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Interval is the trigger interval, 1/fps, as the scheduler is programmed
// (whole microseconds: ActionSchedulerInterval is in µs).
func (c *Config) Interval() time.Duration {
	return time.Duration(math.Round(1e6/c.FPS)) * time.Microsecond
}

// SegmentFrames is the number of triggers per segment file (0: one file).
func (c *Config) SegmentFrames() int64 {
	if c.SegmentDuration <= 0 {
		return 0
	}
	return max(1, int64(math.Round(c.SegmentDuration.Seconds()*c.FPS)))
}

// Frames is the number of triggers of a take of Duration (0: unlimited).
func (c *Config) Frames() int64 {
	if c.Duration <= 0 {
		return 0
	}
	return int64(math.Round(c.Duration.Seconds() * c.FPS))
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

// inFlight is how many stream buffers Aravis keeps besides those the writer
// holds: two frame retentions' worth (frames waiting for resends, and
// frames complete but not yet taken by an acquirer kept off the CPU), and a
// few. With fewer, a loaded host counted Aravis underruns.
func (r *Recorder) inFlight() int {
	return max(16, int(2*r.cfg.FPS*streamFrameRetention.Seconds())+4)
}

// heldFrames is how many stream buffers the writer may hold: the queue, the
// frame kept for repeats and those its pipe still holds; never so many that
// Aravis is left fewer than it needs.
func (r *Recorder) heldFrames() int {
	return max(2, min(r.cfg.QueueFrames+1+spliceRing(r.frameSz), r.cfg.StreamBuffers-r.inFlight()))
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

// FileName is the video file name of a camera: cam<serial>_YYYYMMDD_HHMMSSmmm.<ext>.
func FileName(serial string, stamp time.Time, ext string) string {
	return fmt.Sprintf("cam%s_%s%03d.%s", serial, stamp.Format("20060102_150405"), stamp.Nanosecond()/1e6, ext)
}

// maxRestarts bounds the ffmpeg restarts of one camera's take: an ffmpeg
// that keeps dying (a full disk, a broken encoder) fails the camera.
const maxRestarts = 3

// Segment is one video file of a camera's take.
type Segment struct {
	File string `json:"file"`
	// FirstGrid is the first trigger the segment covers (its first frame's
	// unless alignment is off and that trigger brought no frame).
	FirstGrid int64         `json:"first_grid_index"`
	Encoder   EncoderChoice `json:"encoder"`
	// FFmpegArgs is the command line (without the program).
	FFmpegArgs []string `json:"ffmpeg_args"`
	// Frames is the number of frames written to this ffmpeg's stdin.
	Frames int64 `json:"frames_written"`
	// EncodedFrames is ffmpeg's last report of frames encoded (it reports
	// once a second).
	EncodedFrames int64 `json:"frames_encoded"`
	// StoredFrames, for a segment whose ffmpeg failed, is the number of
	// frames its file holds (ffprobe's packet count after the take; absent
	// when not counted). Frames StoredFrames..Frames-1 of the segment, the
	// sidecar rows with this segment and those output indexes, were lost.
	StoredFrames *int64 `json:"frames_stored,omitempty"`
	// MissedRotation says why the next time segment could not start here;
	// this file then goes on past its end.
	MissedRotation string `json:"missed_rotation,omitempty"`
	// FFmpegExitCode is -1 for a signal, -2 while ffmpeg runs.
	FFmpegExitCode int `json:"ffmpeg_exit_code"`
	// Err is why the segment ended before the take did.
	Err string `json:"error,omitempty"`
}

// countPackets counts the video packets of file with ffprobe (found next
// to ffmpegBin, else on PATH): the frames a file holds, without decoding.
func countPackets(ctx context.Context, ffmpegBin, file string) (int64, error) {
	probe := "ffprobe"
	if dir := filepath.Dir(ffmpegBin); dir != "." {
		if p := filepath.Join(dir, "ffprobe"); fileExists(p) {
			probe = p
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, probe, "-v", "error", "-count_packets", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", file).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return -1, fmt.Errorf("%s %s: %w", probe, file, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), 10, 64)
	if err != nil {
		return -1, fmt.Errorf("%s %s: %q: %w", probe, file, out, err)
	}
	return n, nil
}

// forced reports whether force is closed.
func forced(force <-chan struct{}) bool {
	select {
	case <-force:
		return true
	default:
		return false
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// segmentFile names segment n (1-based) of the take whose first file is first.
func segmentFile(first string, n int) string {
	if n <= 1 {
		return first
	}
	ext := filepath.Ext(first)
	return fmt.Sprintf("%s_%d%s", strings.TrimSuffix(first, ext), n, ext)
}

// CameraResult is how one camera's recording went.
type CameraResult struct {
	Serial string `json:"serial"`
	// File is the first segment's file; Segments lists them all.
	File    string        `json:"file"`
	Sidecar string        `json:"sidecar"`
	Encoder EncoderChoice `json:"encoder"`
	// FFmpegArgs is the command line (without the program).
	FFmpegArgs []string `json:"ffmpeg_args"`
	// Triggers is the number of grid points the take covered for this camera.
	Received   uint64 `json:"frames_received"`
	Written    uint64 `json:"frames_written"`
	Filled     uint64 `json:"frames_filled"`
	Missing    uint64 `json:"frames_missing"`
	Dropped    uint64 `json:"frames_dropped"`
	Incomplete uint64 `json:"frames_incomplete"`
	// FirstFrameOffsetNs is the first frame's timestamp minus its grid time.
	FirstFrameOffsetNs int64               `json:"first_frame_offset_ns"`
	Stream             genicam.StreamStats `json:"stream"`
	// FFmpegExitCode is the last segment's.
	FFmpegExitCode int       `json:"ffmpeg_exit_code"`
	Segments       []Segment `json:"segments"`
	Err            string    `json:"error,omitempty"`
}

// Clean reports whether the camera recorded every trigger as it came, with
// no ffmpeg dying on the way.
func (c CameraResult) Clean() bool {
	if c.Err != "" || c.Missing != 0 || c.Dropped != 0 || c.Incomplete != 0 {
		return false
	}
	for _, s := range c.Segments {
		if s.Err != "" || s.MissedRotation != "" {
			return false
		}
	}
	return true
}

// Result is the outcome of a take.
type Result struct {
	Start time.Time `json:"start"`
	// StartDeviceNs is the common start in camera (PTP) time.
	StartDeviceNs int64 `json:"start_device_ns"`
	// Frames is the number of frames of every aligned file.
	Frames int64 `json:"frames"`
	// StartSkewNs is the spread of the first frames' timestamps (-1: unknown).
	StartSkewNs int64          `json:"start_skew_ns"`
	Cameras     []CameraResult `json:"cameras"`
	Session     string         `json:"session_file"`
}

// Failed counts cameras that failed (camera or ffmpeg).
func (r *Result) Failed() int {
	n := 0
	for _, c := range r.Cameras {
		if c.Err != "" {
			n++
		}
	}
	return n
}

// Clean reports whether every camera recorded every trigger.
func (r *Result) Clean() bool {
	for _, c := range r.Cameras {
		if !c.Clean() {
			return false
		}
	}
	return len(r.Cameras) > 0
}

// Session is the session JSON written next to the files at the start and
// rewritten with the results at the end.
type Session struct {
	Start         time.Time         `json:"start"`
	StartDeviceNs int64             `json:"start_device_ns"`
	FPS           float64           `json:"fps"`
	IntervalNs    int64             `json:"interval_ns"`
	Width         int               `json:"width"`
	Height        int               `json:"height"`
	PixelFormat   string            `json:"pixel_format"`
	Duration      string            `json:"duration"`
	Align         bool              `json:"align"`
	Serials       []string          `json:"serials"`
	PTP           *check.SyncResult `json:"ptp,omitempty"`
	FFmpegVersion string            `json:"ffmpeg_version"`
	Cameras       []CameraResult    `json:"cameras"`
	Result        *Result           `json:"result,omitempty"`
	Extra         map[string]string `json:"extra,omitempty"`
}

// frameMeta is what the acquirer knows of one trigger.
type frameMeta struct {
	k       int64
	frameID uint64
	ts      int64
	rx      int64
	status  FrameStatus
	depth   int
}

// item travels from acquirer to writer: the held frame, or nil for a
// trigger whose frame was dropped or incomplete.
type item struct {
	hf   *heldFrame
	meta frameMeta
}

// camRec is one camera's pipeline.
type camRec struct {
	r      *Recorder
	idx    int
	serial string
	cam    Camera
	stream Stream
	enc    EncoderChoice // the first segment's
	args   []string      // the first segment's
	file   string        // the first segment's
	side   *sidecar
	sideP  string
	log    *slog.Logger

	// ff is the current segment's ffmpeg: the writer replaces it (under mu)
	// when ffmpeg dies; others read it with proc().
	ff        *ffmpegProc
	segments  []Segment // under mu
	restarts  atomic.Uint64
	finishing sync.WaitGroup // ffmpegs of closed segments finishing

	// free holds the heldFrames not in use: the acquirer takes one per
	// frame it queues, the writer gives it back (unhold). Their number
	// bounds the stream buffers the writer may keep from Aravis, so that a
	// slow encoder costs dropped frames, never a stalled stream.
	free  chan *heldFrame
	queue chan item
	black []byte

	cancel      context.CancelFunc // stops acquisition
	hostStartNs int64              // host time of trigger 0; set before the goroutines start

	received, written, filled, missing, bytes atomic.Uint64
	dropQueue, dropIncomplete, dropLate       atomic.Uint64
	beforeStart                               atomic.Uint64 // frames of before trigger 0: not the take's
	lastFrameHost                             atomic.Int64
	lastK                                     atomic.Int64
	firstOffset                               atomic.Int64
	haveFirst                                 atomic.Bool
	failed                                    atomic.Bool
	acqDone                                   atomic.Bool

	mu    sync.Mutex
	err   error
	stats genicam.StreamStats // the take's: Aravis' counters less base
	// base: Aravis' counters just before the take's first trigger (what
	// arming left, such as packets that came before the stream had
	// buffers); taken once, by the start timer or the acquirer.
	base     genicam.StreamStats
	haveBase bool
	baseOnce sync.Once
	// statsFinal: stats are the take's last, from the end of acquisition.
	statsFinal bool
	progress   Progress
}

func (c *camRec) fail(err error) {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = err
	}
	c.mu.Unlock()
	if first {
		c.failed.Store(true)
		c.log.Error("Camera failed; the other cameras go on", "err", err)
		if c.cancel != nil {
			c.cancel()
		}
	}
}

// proc returns the current segment's ffmpeg and encoder.
func (c *camRec) proc() (*ffmpegProc, EncoderChoice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ff, c.segments[len(c.segments)-1].Encoder
}

// segmentsResult returns the segments with the current one's ffmpeg state.
func (c *camRec) segmentsResult() []Segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.segments)
	last := &out[len(out)-1]
	last.FFmpegExitCode = c.ff.ExitCode()
	last.EncodedFrames = c.ff.Progress().Frame
	return out
}

func (c *camRec) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
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
	cfg := &r.cfg
	interval := cfg.Interval()
	if err := os.MkdirAll(cfg.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("output dir: %w", err)
	}
	setupCtx, cancelSetup := context.WithCancel(ctx)
	defer cancelSetup()

	// Configure every camera: size, format and rate first, as the payload
	// size of the streams depends on them.
	r.state.Store(int32(StateArming))
	for _, c := range cams {
		if err := c.Configure(setupCtx, genicam.Acquisition{Width: cfg.Width, Height: cfg.Height, PixelFormat: cfg.PixelFormat, FrameRate: cfg.FPS}); err != nil {
			r.state.Store(int32(StateFailed))
			return nil, fmt.Errorf("camera %s: configure: %w", c.Serial(), err)
		}
	}
	// One common start on the shared PTP timeline: the latest latched
	// device time plus the lead time. Latches run concurrently so the
	// latest one is as recent as possible.
	samples := make([]genicam.LatchSample, len(cams))
	errs := make([]error, len(cams))
	var wg sync.WaitGroup
	for i, c := range cams {
		wg.Go(func() { samples[i], errs[i] = c.Latch(setupCtx) })
	}
	wg.Wait()
	var latest int64
	for i, c := range cams {
		if errs[i] != nil {
			r.state.Store(int32(StateFailed))
			return nil, fmt.Errorf("camera %s: latch: %w", c.Serial(), errs[i])
		}
		latest = max(latest, samples[i].Device)
	}
	start := latest + int64(cfg.LeadTime)
	// Host time of the start, through the first camera's offset (all share
	// PTP time; the offset absorbs TAI/UTC).
	hostStart := time.Unix(0, start-int64(samples[0].Offset()))
	stamp := hostStart.Local()

	res := &Result{Start: hostStart, StartDeviceNs: start, StartSkewNs: -1}
	recs := make([]*camRec, len(cams))
	cleanupSetup := func() {
		for _, c := range recs {
			if c == nil {
				continue
			}
			if c.stream != nil {
				_ = c.cam.CancelScheduler(context.Background())
				_ = c.stream.Close()
			}
			if c.ff != nil {
				c.ff.stdin.Close()
				_ = c.ff.cmd.Process.Kill()
				<-c.ff.done
			}
			if c.side != nil {
				c.side.close()
			}
		}
	}
	zero := make([]byte, r.frameSz) // black Bayer/mono frame for fills before the first frame
	for i, c := range cams {
		serial := c.Serial()
		file := filepath.Join(cfg.OutputDir, FileName(serial, stamp, r.Ext()))
		if !cfg.Overwrite {
			if _, err := os.Stat(file); err == nil {
				cleanupSetup()
				r.state.Store(int32(StateFailed))
				return nil, fmt.Errorf("camera %s: %s exists (use --overwrite)", serial, file)
			}
		}
		pool := r.heldFrames()
		cr := &camRec{r: r, idx: i, serial: serial, cam: c, enc: r.encoders[i], file: file,
			log: r.log.With("serial", serial), black: zero,
			free: make(chan *heldFrame, pool), queue: make(chan item, 2*cfg.QueueFrames+64)}
		cr.lastK.Store(-1)
		for _, hf := range make([]heldFrame, pool) {
			cr.free <- &hf
		}
		cr.sideP = strings.TrimSuffix(file, filepath.Ext(file)) + ".csv"
		side, err := createSidecar(cr.sideP, !cfg.Overwrite)
		if err != nil {
			cleanupSetup()
			r.state.Store(int32(StateFailed))
			return nil, fmt.Errorf("camera %s: %w", serial, err)
		}
		cr.side = side
		recs[i] = cr
		if err := cr.startSegment(file, 0, cr.enc, nil); err != nil {
			cleanupSetup()
			r.state.Store(int32(StateFailed))
			return nil, fmt.Errorf("camera %s: %w", serial, err)
		}
		cr.args = cr.segments[0].FFmpegArgs
	}
	// Arm: scheduler, trigger and stream, then check that the start is
	// still ahead of every camera.
	for _, cr := range recs {
		if err := cr.cam.ProgramScheduler(setupCtx, start, interval); err != nil {
			cleanupSetup()
			r.state.Store(int32(StateFailed))
			return nil, fmt.Errorf("camera %s: program scheduler: %w", cr.serial, err)
		}
		st, err := cr.cam.StartStream(setupCtx, r.streamConfig())
		if err != nil {
			cleanupSetup()
			r.state.Store(int32(StateFailed))
			return nil, fmt.Errorf("camera %s: start stream: %w", cr.serial, err)
		}
		cr.stream = st
	}
	if s, err := recs[len(recs)-1].cam.Latch(setupCtx); err == nil && s.Device >= start {
		cleanupSetup()
		r.state.Store(int32(StateFailed))
		return nil, fmt.Errorf("lead time %v too short: arming finished %v after the start", cfg.LeadTime, time.Duration(s.Device-start))
	}

	r.mu.Lock()
	r.cams = recs
	r.mu.Unlock()
	r.started.Store(hostStart.UnixNano())
	r.state.Store(int32(StateWaiting))

	sess := &Session{Start: hostStart, StartDeviceNs: start, FPS: cfg.FPS, IntervalNs: int64(interval),
		Width: cfg.Width, Height: cfg.Height, PixelFormat: cfg.PixelFormat, Duration: cfg.Duration.String(),
		Align: cfg.Align, PTP: ptp, FFmpegVersion: r.version}
	for _, cr := range recs {
		sess.Serials = append(sess.Serials, cr.serial)
		sess.Cameras = append(sess.Cameras, CameraResult{Serial: cr.serial, File: cr.file, Sidecar: cr.sideP, Encoder: cr.enc, FFmpegArgs: cr.args,
			FFmpegExitCode: -2, Segments: cr.segmentsResult()})
	}
	res.Session = filepath.Join(cfg.OutputDir, "session_"+strings.TrimSuffix(strings.TrimPrefix(FileName("", stamp, "json"), "cam_"), ".json")+".json")
	if err := writeJSONAtomic(res.Session, sess); err != nil {
		r.log.Warn("Session file", "err", err)
	}
	r.log.Info("Armed: recording starts on the common PTP instant",
		"start_device_ns", start, "start", hostStart.Format(time.RFC3339Nano), "in", time.Until(hostStart).Round(time.Millisecond),
		"interval", interval, "frames", cfg.Frames(), "cameras", len(recs))

	total := cfg.Frames()
	var acqWG, wrWG, drainWG sync.WaitGroup
	// After the take the drainers give every frame that still arrives
	// back at once, until the streams close.
	drainCtx, stopDrain := context.WithCancel(context.Background())
	defer stopDrain()
	endReady := make(chan struct{})
	var end int64
	for _, cr := range recs {
		actx, cancel := context.WithCancel(ctx)
		cr.cancel = cancel
		cr.lastFrameHost.Store(hostStart.UnixNano())
		cr.hostStartNs = hostStart.UnixNano()
		acquired := make(chan struct{})
		baseTimer := time.AfterFunc(time.Until(hostStart.Add(-interval/2)), cr.takeBase)
		defer baseTimer.Stop()
		acqWG.Go(func() {
			defer close(acquired)
			defer cancel()
			cr.acquire(actx, start, int64(interval), total)
			// A take stopped early or cut off by the watchdog ends here;
			// one of fixed length ended at its last frame's dequeue.
			cr.endTake()
		})
		drainWG.Go(func() {
			<-acquired
			cr.drain(drainCtx)
		})
		wrWG.Go(func() { cr.writeLoop(start, int64(interval), endReady, &end, force) })
		go cr.watchdog(actx, hostStart, interval, total)
	}
	monitorDone := make(chan struct{})
	var monWG sync.WaitGroup
	monWG.Go(func() { r.monitor(monitorDone, hostStart, recs) })

	acqWG.Wait()
	r.state.Store(int32(StateStopping))
	// All acquirers are done: the files end at the same trigger. A take
	// of fixed length ends at its length; a stopped one at the latest
	// trigger any working camera delivered.
	var maxK int64 = -1
	stoppedEarly := ctx.Err() != nil
	for _, cr := range recs {
		if !cr.failed.Load() {
			maxK = max(maxK, cr.lastK.Load())
		}
	}
	end = maxK + 1
	if total > 0 && !stoppedEarly {
		end = total
	}
	if total > 0 {
		end = min(end, total)
	}
	res.Frames = end
	close(endReady)
	// The writers give every buffer back before the streams (and their
	// buffers) go; the schedulers stopped with acquisition.
	wrWG.Wait()
	stopDrain()
	drainWG.Wait()
	for _, cr := range recs {
		if err := cr.stream.Close(); err != nil && !cr.failed.Load() {
			cr.log.Warn("Close stream", "err", err)
		}
	}
	close(monitorDone)
	monWG.Wait()

	res.StartSkewNs = r.skewNs.Load()
	for _, cr := range recs {
		segs := cr.segmentsResult()
		for i := range segs {
			if segs[i].Err == "" || segs[i].Encoder.Encoder == EncoderNull || forced(force) {
				continue
			}
			n, err := countPackets(context.Background(), cfg.FFmpeg, segs[i].File)
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
			Segments: segs}
		if cr.err != nil {
			cres.Err = cr.err.Error()
		}
		cr.mu.Unlock()
		res.Cameras = append(res.Cameras, cres)
		if n := cr.beforeStart.Load(); n > 0 {
			cr.log.Info("Frames from before the start given back (not the take's)", "frames", n)
		}
		cr.log.Info("Camera done", "file", cr.file, "segments", len(segs), "frames_written", cres.Written, "filled", cres.Filled,
			"missing", cres.Missing, "dropped", cres.Dropped, "incomplete", cres.Incomplete,
			"aravis_underruns", cres.Stream.Underruns, "aravis_missing_packets", cres.Stream.MissingPackets,
			"aravis_resent_packets", cres.Stream.ResentPackets, "err", cres.Err)
	}
	sess.Cameras = res.Cameras
	sess.Result = res
	if err := writeJSONAtomic(res.Session, sess); err != nil {
		r.log.Warn("Session file", "err", err)
	}
	if res.Failed() > 0 {
		r.state.Store(int32(StateFailed))
	} else {
		r.state.Store(int32(StateDone))
	}
	return res, nil
}

// watchdog ends acquisition when the take's time is over (the last triggers
// never arrived) and reports a camera that stopped delivering frames.
func (c *camRec) watchdog(ctx context.Context, hostStart time.Time, interval time.Duration, total int64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	stall := c.r.cfg.StallTimeout
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if total > 0 && now.After(hostStart.Add(time.Duration(total)*interval+stall)) {
				c.log.Warn("Take over but the last triggers never arrived", "last_grid_index", c.lastK.Load(), "frames", total)
				c.cancel()
				return
			}
			last := time.Unix(0, c.lastFrameHost.Load())
			if now.Sub(last) > stall && now.After(hostStart) {
				if c.lastK.Load() < 0 {
					c.fail(fmt.Errorf("camera %s: no frame %v after the start (scheduler not firing, stream blocked, or camera gone)", c.serial, now.Sub(hostStart).Round(time.Millisecond)))
				} else {
					c.fail(fmt.Errorf("camera %s: no frame for %v after trigger %d (camera unplugged or stream lost)", c.serial, stall, c.lastK.Load()))
				}
				return
			}
		}
	}
}

// latestBelievable is the highest trigger whose frame can have arrived by
// host time now: the triggers fired so far, and a second more for the
// difference between host and camera clocks.
func (c *camRec) latestBelievable(now, interval int64) int64 {
	return (now-c.hostStartNs)/interval + max(int64(time.Second)/interval, 5)
}

// gridIndex places a frame on the trigger grid by its timestamp.
func gridIndex(ts, start, interval int64) int64 {
	d := ts - start
	if d >= 0 {
		return (d + interval/2) / interval
	}
	return -((-d + interval/2) / interval)
}

// frameIDStep is the number of blocks from prev to id with GigE Vision
// 1.x's 16-bit block ids, which skip 0 when they wrap.
func frameIDStep(prev, id uint64) int64 {
	if id > 0xffff || prev > 0xffff {
		return int64(id - prev)
	}
	if id >= prev {
		return int64(id - prev)
	}
	return int64(id + 0xffff - prev)
}

// acquire takes frames from the stream until the take is complete or ctx
// ends. It never blocks on the writer.
func (c *camRec) acquire(ctx context.Context, start, interval, total int64) {
	defer close(c.queue)
	// Largest believable gap between two frames: 10 s of triggers.
	maxJump := max(int64(10*time.Second)/interval, 100)
	var prevID uint64
	haveID := false
	lastK := int64(-1)
	for {
		f, err := c.stream.Next(ctx)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		// A frame from before the start (a camera that ran free while it
		// was armed) does not start the stall clock before the start.
		c.lastFrameHost.Store(max(now, c.hostStartNs))
		c.received.Add(1)
		rx := f.SystemTimestamp
		if rx == 0 {
			rx = now
		}
		k := gridIndex(f.Timestamp, start, interval)
		if f.Timestamp <= 0 && haveID {
			// No usable timestamp: count blocks instead.
			k = lastK + frameIDStep(prevID, f.FrameID)
		}
		if haveID && k > lastK {
			if step := frameIDStep(prevID, f.FrameID); step != k-lastK {
				c.log.Debug("Frame id and timestamp disagree on the gap", "frame_id", f.FrameID, "prev_frame_id", prevID, "id_step", step, "grid_step", k-lastK)
			}
		}
		prevID, haveID = f.FrameID, true
		switch {
		case k < 0:
			// Before the start: not a frame of the take.
			_ = c.stream.Release(f)
			c.beforeStart.Add(1)
			continue
		case k <= lastK:
			// Not after the previous one: a stale or
			// reordered frame has no place in the file.
			_ = c.stream.Release(f)
			c.dropLate.Add(1)
			continue
		case k > c.latestBelievable(now, interval):
			// Ahead of the host's clock: a trigger that has not fired yet
			// (a bogus timestamp or block id). Taken for real it would end
			// the take early or make every real frame after it stale.
			c.log.Warn("Frame from the future: dropped", "frame_id", f.FrameID, "timestamp", f.Timestamp, "grid_index", k, "last_grid_index", lastK)
			_ = c.stream.Release(f)
			c.dropLate.Add(1)
			continue
		case total > 0 && k >= total:
			// The take's last frame never came: a trigger after it.
			c.endTake()
			_ = c.stream.Release(f)
			return
		case lastK >= 0 && k-lastK > maxJump:
			// A timestamp far off the grid (camera clock stepped): padding
			// up to it would write minutes of repeats. Not a frame of ours.
			c.log.Warn("Frame timestamp far off the trigger grid: dropped", "frame_id", f.FrameID, "timestamp", f.Timestamp, "grid_index", k, "last_grid_index", lastK)
			_ = c.stream.Release(f)
			c.dropLate.Add(1)
			continue
		}
		if lastK < 0 {
			c.takeBase() // the start timer came late
		}
		if lastK < 0 && !c.haveFirst.Load() {
			c.firstOffset.Store(f.Timestamp - (start + k*interval))
			c.haveFirst.Store(true)
		}
		if gap := k - lastK - 1; gap > 0 {
			c.missing.Add(uint64(gap))
		}
		last := total > 0 && k == total-1
		if last {
			// The take's counters are Aravis' as its last frame comes
			// out, and its triggers stop before the writer drains.
			c.endTake()
		}
		c.queueFrame(f, frameMeta{k: k, frameID: f.FrameID, ts: f.Timestamp, rx: rx, status: StatusOK, depth: len(c.queue)})
		lastK = k
		c.lastK.Store(k)
		if last {
			return
		}
	}
}

// queueFrame hands a frame's buffer to the writer, or gives it back to the
// stream at once when it is incomplete or the writer holds all it may
// (dropped: the encoder is behind). It never blocks.
func (c *camRec) queueFrame(f genicam.Frame, m frameMeta) {
	var hf *heldFrame
	switch {
	case f.Status != genicam.FrameSuccess || len(f.Data) < c.r.frameSz:
		m.status = StatusIncomplete
		c.dropIncomplete.Add(1)
	default:
		select {
		case hf = <-c.free:
			hf.f, hf.data = f, f.Data[:c.r.frameSz]
		default:
			m.status = StatusDropped
			c.dropQueue.Add(1)
		}
	}
	if hf == nil {
		_ = c.stream.Release(f)
	}
	select {
	case c.queue <- item{hf: hf, meta: m}:
	default:
		// The marker queue is twice the held frames: full only when the
		// writer is stuck; the writer then sees a gap (missing).
		if hf != nil {
			_ = c.stream.Release(f)
			hf.f, hf.data = genicam.Frame{}, nil
			c.free <- hf
			c.dropQueue.Add(1)
		}
	}
}

// unhold gives a held frame's buffer back to the stream once no pipe holds
// its pages and it is not kept for repeating (writer only).
func (c *camRec) unhold(hf *heldFrame) {
	if hf.pins > 0 || hf.kept {
		return
	}
	_ = c.stream.Release(hf.f)
	hf.f, hf.data = genicam.Frame{}, nil
	c.free <- hf
}

// writeLoop writes queued frames to ffmpeg in grid order, filling gaps when
// aligning, until the acquirer closes the queue; then it pads to the common
// end and lets ffmpeg finalize.
func (c *camRec) writeLoop(start, interval int64, endReady <-chan struct{}, end *int64, force <-chan struct{}) {
	align := c.r.cfg.Align
	// A forced stop must not wait for a write into a stuck ffmpeg.
	writerDone := make(chan struct{})
	defer close(writerDone)
	go func() {
		select {
		case <-force:
			ff, _ := c.proc()
			_ = ff.cmd.Process.Kill()
		case <-writerDone:
		}
	}()
	var prev *heldFrame
	next := int64(0) // next grid index
	out := int64(0)  // next output index in the current segment
	seg := 1
	segFrames := c.r.cfg.SegmentFrames()
	timeSeg := int64(0) // segment of the grid the current file covers
	broken := false
	emit := func(buf []byte, hf *heldFrame, r row) {
		if broken {
			return
		}
		if forced(force) {
			// ffmpeg is being killed: nothing more goes to any file.
			broken = true
			c.fail(fmt.Errorf("camera %s: forced stop before trigger %d was written", c.serial, r.grid))
			return
		}
		if segFrames > 0 && r.grid/segFrames > timeSeg {
			timeSeg = r.grid / segFrames
			if c.rotate(r.grid, out, force) {
				out, seg = 0, seg+1
			} else if c.failed.Load() {
				broken = true
				return
			}
		}
		if buf != nil {
			for {
				c.ff.reclaim(c.unhold)
				err := c.ff.writeFrame(buf, hf)
				if err == nil {
					break
				}
				if !c.nextSegment(err, r.grid, out, force) {
					broken = true
					return
				}
				out, seg = 0, seg+1
			}
			c.written.Add(1)
			c.bytes.Add(uint64(len(buf)))
			r.output = out
			out++
		} else {
			r.output = -1
		}
		r.segment = seg
		if err := c.side.write(r); err != nil {
			c.log.Warn("Sidecar write", "err", err)
		}
	}
	fillBuf := func() []byte {
		if !align {
			return nil
		}
		c.filled.Add(1)
		if prev != nil {
			return prev.data
		}
		return c.black
	}
	for it := range c.queue {
		if broken {
			if it.hf != nil {
				c.unhold(it.hf)
			}
			continue
		}
		k := it.meta.k
		for ; next < k; next++ {
			emit(fillBuf(), nil, row{grid: next, gridNs: start + next*interval, status: StatusMissing, filled: align})
		}
		r := row{grid: k, has: true, frameID: it.meta.frameID, deviceTS: it.meta.ts, hostRx: it.meta.rx,
			gridNs: start + k*interval, status: it.meta.status, depth: it.meta.depth}
		if it.hf == nil {
			r.filled = align
			emit(fillBuf(), nil, r)
		} else {
			// Kept from now on: a write that fails over to a new ffmpeg
			// must not see the buffer go back to the stream.
			it.hf.kept = true
			emit(it.hf.data, it.hf, r)
			if prev != nil {
				prev.kept = false
				c.unhold(prev)
			}
			prev = it.hf
		}
		next = k + 1
	}
	<-endReady
	if align && !c.failed.Load() {
		for ; next < *end; next++ {
			emit(fillBuf(), nil, row{grid: next, gridNs: start + next*interval, status: StatusFilled, filled: true})
		}
	}
	c.mu.Lock()
	c.segments[len(c.segments)-1].Frames = out
	c.mu.Unlock()
	c.ff.drain(force, c.unhold)
	if prev != nil {
		prev.kept = false
		c.unhold(prev)
	}
	if err := c.ff.finish(force); err != nil && !broken {
		c.mu.Lock()
		last := &c.segments[len(c.segments)-1]
		last.Err = err.Error()
		file := last.File
		c.mu.Unlock()
		c.fail(fmt.Errorf("camera %s: %s: %w", c.serial, file, err))
	}
	c.finishing.Wait()
	if err := c.side.close(); err != nil {
		c.log.Warn("Sidecar close", "err", err)
	}
}

// startSegment starts an ffmpeg into file, segment of the take from trigger
// grid on, and makes it the current one.
func (c *camRec) startSegment(file string, grid int64, enc EncoderChoice, force <-chan struct{}) error {
	if forced(force) {
		return errors.New("forced stop")
	}
	if !c.r.cfg.Overwrite && fileExists(file) {
		return fmt.Errorf("%s exists (use --overwrite)", file)
	}
	c.mu.Lock()
	n := len(c.segments) + 1
	c.mu.Unlock()
	args := c.r.opts.recordArgs(enc.Encoder, file)
	// Live progress is the current segment's: a finishing one's last
	// reports do not count.
	var self *ffmpegProc // under c.mu
	ff, err := startFFmpeg(c.r.cfg.FFmpeg, args, c.r.cfg.FFmpegNice, c.log.With("encoder", enc.Encoder, "segment", n), func(p Progress) {
		c.mu.Lock()
		if c.ff == self {
			c.progress = p
		}
		c.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("segment %s: %w", file, err)
	}
	if err := ff.initSplice(); err != nil {
		c.log.Warn("ffmpeg's stdin does not splice; frames are copied in", "err", err)
	} else {
		ff.pipe.ring = make([]pinned, spliceRing(c.r.frameSz))
	}
	c.mu.Lock()
	self, c.ff = ff, ff
	c.progress = Progress{BitrateBps: math.NaN(), Speed: math.NaN()}
	c.segments = append(c.segments, Segment{File: file, FirstGrid: grid, Encoder: enc, FFmpegArgs: args, FFmpegExitCode: -2})
	c.mu.Unlock()
	return nil
}

// rotate starts the next time segment at trigger grid. The current ffmpeg,
// which took written frames, finishes in the background once the next one
// runs; an NVENC one finishes first, since GPUs cap concurrent sessions and
// the queue can hold the frames meanwhile. When the next ffmpeg cannot start,
// the current file goes on, rotate says false and the segment says why.
func (c *camRec) rotate(grid, written int64, force <-chan struct{}) bool {
	old := c.ff
	c.mu.Lock()
	idx, first, enc := len(c.segments)-1, c.segments[0].File, c.segments[len(c.segments)-1].Encoder
	c.mu.Unlock()
	closeSegment := func(err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		s := &c.segments[idx]
		s.Frames, s.EncodedFrames, s.FFmpegExitCode = written, old.Progress().Frame, old.ExitCode()
		if err != nil {
			s.Err = err.Error()
			c.log.Error("ffmpeg of a finished segment failed", "file", s.File, "err", err)
		}
	}
	file := segmentFile(first, idx+2)
	if isNVENC(enc.Encoder) {
		old.drain(force, c.unhold)
		closeSegment(old.finish(force))
		if err := c.startSegment(file, grid, enc, force); err != nil {
			// The old one is done: without a new one the camera is.
			c.fail(fmt.Errorf("camera %s: next segment: %w", c.serial, err))
			return false
		}
	} else {
		if err := c.startSegment(file, grid, enc, force); err != nil {
			c.log.Error("Could not start the next segment; the current file goes on", "file", file, "err", err)
			c.mu.Lock()
			c.segments[idx].MissedRotation = fmt.Sprintf("trigger %d: %v", grid, err)
			c.mu.Unlock()
			return false
		}
		// The buffers in the old pipe go back before it finishes alone.
		old.drain(force, c.unhold)
		c.finishing.Go(func() { closeSegment(old.finish(force)) })
	}
	c.log.Info("Next segment", "file", file, "from_grid_index", grid)
	return true
}

// nextSegment ends the current segment, whose ffmpeg took no more frames
// (werr) after written, and starts the next one at trigger grid: a new
// ffmpeg into the next file, on a CPU encoder when the dead one was NVENC.
// It returns false, having failed the camera, when the take is being
// forced to stop, maxRestarts is reached or the new ffmpeg cannot start.
func (c *camRec) nextSegment(werr error, grid, written int64, force <-chan struct{}) bool {
	old := c.ff
	old.stdin.Close()
	select {
	case <-old.done:
	case <-time.After(2 * time.Second):
		// It takes no frames but lives on: end it, the next one takes over.
		_ = old.cmd.Process.Kill()
		<-old.done
	}
	old.unpinAll(c.unhold)
	cause := old.result()
	if cause == nil {
		cause = fmt.Errorf("ffmpeg exited 0 while frames were still coming: %w", werr)
	}
	c.mu.Lock()
	last := &c.segments[len(c.segments)-1]
	last.Frames, last.EncodedFrames, last.FFmpegExitCode, last.Err = written, old.Progress().Frame, old.ExitCode(), cause.Error()
	n, first, enc := len(c.segments), c.segments[0].File, last.Encoder
	cause = fmt.Errorf("%s: %w", last.File, cause)
	c.mu.Unlock()
	if forced(force) {
		c.fail(fmt.Errorf("camera %s: %w", c.serial, cause))
		return false
	}
	if c.restarts.Load() >= maxRestarts {
		c.fail(fmt.Errorf("camera %s: %w (ffmpeg died %d times)", c.serial, cause, maxRestarts+1))
		return false
	}
	if fb := c.r.cpuFallback; isNVENC(enc.Encoder) && fb != "" {
		enc = EncoderChoice{Encoder: fb, Reason: fmt.Sprintf("%s died mid-take: %v", enc.Encoder, cause)}
	} else {
		enc.Reason = fmt.Sprintf("ffmpeg died mid-take: %v", cause)
	}
	file := segmentFile(first, n+1)
	if err := c.startSegment(file, grid, enc, force); err != nil {
		c.fail(fmt.Errorf("camera %s: %w; next segment: %w", c.serial, cause, err))
		return false
	}
	c.restarts.Add(1)
	c.log.Warn("ffmpeg died mid-take; recording goes on in a new file", "err", cause, "segment", n+1, "file", file,
		"encoder", enc.Encoder, "from_grid_index", grid, "frames_written_to_dead_ffmpeg", written,
		"frames_it_encoded", old.Progress().Frame)
	return true
}

// endTake ends the take for the camera, once (acquirer only): Aravis'
// counters are snapshot as the take's, before anything else, and then the
// camera's scheduler stops. What Aravis counts afterwards (frames of
// triggers after the take, and of a camera running free once its trigger is
// off) is not the take's; an underrun during the take (a lost frame) is.
func (c *camRec) endTake() {
	if c.acqDone.Load() {
		return
	}
	c.pollStats(true)
	c.acqDone.Store(true)
	cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer ccancel()
	if err := c.cam.CancelScheduler(cctx); err != nil && !c.failed.Load() {
		c.log.Warn("Cancel scheduler", "err", err)
	}
}

// drain gives every frame that arrives after the take back to the stream at
// once, until ctx ends (before the stream closes), so that Aravis never
// runs out of buffers while the writer still holds the take's.
func (c *camRec) drain(ctx context.Context) {
	for {
		f, err := c.stream.Next(ctx)
		if err != nil {
			return
		}
		_ = c.stream.Release(f)
	}
}

// pollStats copies Aravis' counters, until final: the acquirer's last call
// when the take is over for the camera. The stream stays open until the
// writer has given its buffers back, and a camera whose trigger is off runs
// free meanwhile: what Aravis counts then (underruns, with no one taking
// frames) is not the take's.
func (c *camRec) pollStats(final bool) {
	if c.stream == nil {
		return
	}
	s := c.stream.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statsFinal || s == (genicam.StreamStats{}) || (!final && !c.haveBase) {
		return // final, closed, or before the take (counters never go back)
	}
	c.stats, c.statsFinal = subStats(s, c.base), final
}

// takeBase takes the counters the take's are counted from, once: just before
// the first trigger, or at the take's first frame when that comes first.
func (c *camRec) takeBase() {
	c.baseOnce.Do(func() {
		s := c.stream.Stats()
		c.mu.Lock()
		c.base, c.haveBase = s, true
		c.mu.Unlock()
		if s.Underruns > 0 || s.IgnoredPackets > 0 || s.MissingFrames > 0 {
			c.log.Info("Aravis counted before the take (not the take's)", "aravis_underruns", s.Underruns,
				"aravis_ignored_packets", s.IgnoredPackets, "aravis_missing_frames", s.MissingFrames, "aravis_completed_buffers", s.CompletedBuffers)
		}
	})
}

// subStats is a less b, counter by counter (never below 0).
func subStats(a, b genicam.StreamStats) genicam.StreamStats {
	d := func(x, y uint64) uint64 {
		if x < y {
			return 0
		}
		return x - y
	}
	return genicam.StreamStats{
		CompletedBuffers: d(a.CompletedBuffers, b.CompletedBuffers), Failures: d(a.Failures, b.Failures),
		Underruns: d(a.Underruns, b.Underruns), Timeouts: d(a.Timeouts, b.Timeouts), Aborted: d(a.Aborted, b.Aborted),
		MissingFrames: d(a.MissingFrames, b.MissingFrames), ReceivedPackets: d(a.ReceivedPackets, b.ReceivedPackets),
		MissingPackets: d(a.MissingPackets, b.MissingPackets), ErrorPackets: d(a.ErrorPackets, b.ErrorPackets),
		IgnoredPackets: d(a.IgnoredPackets, b.IgnoredPackets), ResendRequests: d(a.ResendRequests, b.ResendRequests),
		ResentPackets: d(a.ResentPackets, b.ResentPackets), DuplicatedPackets: d(a.DuplicatedPackets, b.DuplicatedPackets),
		TransferredBytes: d(a.TransferredBytes, b.TransferredBytes),
	}
}

// monitor polls stream counters every second, computes the start skew once
// every camera has its first frame, and drives the progress output.
func (r *Recorder) monitor(done <-chan struct{}, hostStart time.Time, recs []*camRec) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	skewDone := false
	for {
		select {
		case <-done:
			r.checkSkew(recs, true)
			if r.progress != nil {
				r.progress.update(r, true)
			}
			return
		case <-t.C:
		}
		if r.state.Load() == int32(StateWaiting) && time.Now().After(hostStart) {
			r.state.Store(int32(StateRecording))
		}
		for _, cr := range recs {
			if !cr.failed.Load() && !cr.acqDone.Load() {
				cr.pollStats(false)
			}
		}
		if !skewDone {
			skewDone = r.checkSkew(recs, time.Since(hostStart) > 3*time.Second)
		}
		if r.progress != nil {
			r.progress.update(r, false)
		}
	}
}

// checkSkew computes the start skew: the spread across cameras of their
// first frames' offsets from the grid. With final set it settles for the
// cameras that have a first frame.
func (r *Recorder) checkSkew(recs []*camRec, final bool) bool {
	if r.skewNs.Load() >= 0 {
		return true
	}
	lo, hi, n := int64(math.MaxInt64), int64(math.MinInt64), 0
	for _, cr := range recs {
		if !cr.haveFirst.Load() {
			continue
		}
		o := cr.firstOffset.Load()
		lo, hi, n = min(lo, o), max(hi, o), n+1
	}
	if n == 0 || (n < len(recs) && !final) {
		return false
	}
	r.skewNs.Store(hi - lo)
	r.log.Info("Start skew across cameras", "skew", time.Duration(hi-lo), "cameras", n)
	return true
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

// The recording's configuration and the sizes derived from it.

package record

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

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
	// Sync is the start mode asked for (SyncAuto when empty): per camera,
	// see sync.go.
	Sync SyncMode
	// Force allows SyncFree (frames aligned to the grid only afterwards).
	Force bool
	// StartAt is the take's first trigger on the PTP timeline (zero: the
	// latest camera time plus LeadTime); it must be at least LeadTime
	// ahead of every camera.
	StartAt time.Time
	// Now gives the host time (tests); time.Now when nil.
	Now func() time.Time
	// TakeID is the take's id in the session file, shared by the hosts of
	// one take (default: from the start time, TakeIDFor).
	TakeID string
	// Devices are the cameras as ApplySettings left them (SetDevices).
	Devices []CameraDevice
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
	if c.Sync == "" {
		c.Sync = SyncAuto
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
	if _, err := ParseSyncMode(string(c.Sync)); err != nil {
		errs = append(errs, err)
	}
	if c.Encoder != "" && !slices.Contains(Encoders, c.Encoder) {
		errs = append(errs, fmt.Errorf("encoder %q: one of %s", c.Encoder, strings.Join(Encoders, ", ")))
	}
	if c.Container != "" && !slices.Contains(Containers, c.Container) {
		errs = append(errs, fmt.Errorf("container %q: one of %s", c.Container, strings.Join(Containers, ", ")))
	}
	if c.TakeID != "" && !ValidTakeID(c.TakeID) {
		errs = append(errs, fmt.Errorf("take id %q: want 1 to 64 of A-Z a-z 0-9 . _ : + -", c.TakeID))
	}
	if c.Encoder == EncoderRaw && c.Container == "mp4" {
		errs = append(errs, errors.New("encoder raw: needs container mkv (MP4 does not carry Bayer rawvideo)"))
	}
	return errors.Join(errs...)
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

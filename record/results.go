// What a take leaves: file names, segments, per-camera and take results, the session file.

package record

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ptpcam/ptpcam/check"
	"github.com/ptpcam/ptpcam/genicam"
)

// FileName is the video file name of a camera: cam<serial>_YYYYMMDD_HHMMSSmmm.<ext>.
func FileName(serial string, stamp time.Time, ext string) string {
	return fmt.Sprintf("cam%s_%s%03d.%s", serial, stamp.Format("20060102_150405"), stamp.Nanosecond()/1e6, ext)
}

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
	// StartMode is how the camera's frames were started (record.SyncMode).
	StartMode string `json:"start_mode,omitempty"`
	// Actions counts action mode's ACTION_CMD answers by result.
	Actions map[string]uint64 `json:"action_commands,omitempty"`
	// ClockStepNs is the step of the camera's clock found at arming (the
	// take was re-armed on the new timeline); 0 when none.
	ClockStepNs int64 `json:"clock_step_at_arming_ns,omitempty"`
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
	// TakeID is the take's id, the same in every host's session file of a
	// take across hosts (--take-id; default TakeIDFor the start).
	TakeID        string            `json:"take_id"`
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
	// Devices are the cameras (model, firmware, capabilities, name) and
	// their settings read back after applying them.
	Devices []CameraDevice    `json:"devices,omitempty"`
	Result  *Result           `json:"result,omitempty"`
	Extra   map[string]string `json:"extra,omitempty"`
}

// TakeIDFor is the default take id: the start in UTC to the millisecond,
// as a file name would carry it (20261202T030405.678Z).
func TakeIDFor(start time.Time) string {
	return start.UTC().Format("20060102T150405.000Z")
}

// takeID is the configured id, else TakeIDFor the start.
func takeID(id string, start time.Time) string {
	if id != "" {
		return id
	}
	return TakeIDFor(start)
}

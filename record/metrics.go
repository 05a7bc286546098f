package record

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ptpcam/ptpcam/internal/metric"
)

const subsystem = "record"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metric.Namespace, subsystem, name), help, labels, nil)
}

// Metric descriptions, built once. Counters of the pipeline are atomics
// updated on the hot path without allocating; Collect reads them.
var (
	descFramesReceived = desc("frames_received_total", "Frames received from the camera's stream.", "serial")
	descFramesWritten  = desc("frames_written_total", "Frames written to ffmpeg (including repeated frames that fill gaps).", "serial")
	descFramesFilled   = desc("frames_filled_total", "Output frames that repeat the previous frame (or black) in place of a missing, dropped or incomplete one.", "serial")
	descFramesDropped  = desc("frames_dropped_total", "Frames received but not written: queue_full (encoder too slow), incomplete (packets missing), late (stale or reordered).", "serial", "reason")
	descFramesMissing  = desc("frames_missing_total", "Triggers with no frame at all: gaps in timestamps and frame ids on the 1/fps grid.", "serial")
	descQueueDepth     = desc("queue_depth_frames", "Frames waiting between acquisition and ffmpeg.", "serial")
	descQueueCapacity  = desc("queue_capacity_frames", "Frame slots between acquisition and ffmpeg.", "serial")
	descBytesWritten   = desc("bytes_written_total", "Raw frame bytes written to ffmpeg's stdin.", "serial")
	descStreamMissPkt  = desc("stream_missing_packets_total", "Aravis n_missing_packets of the camera's stream.", "serial")
	descStreamResent   = desc("stream_resent_packets_total", "Aravis n_resent_packets of the camera's stream.", "serial")
	descStreamUnder    = desc("stream_underruns_total", "Aravis n_underruns: frames lost for want of a free buffer.", "serial")
	descStreamMissFr   = desc("stream_missing_frames_total", "Aravis n_missing_frames of the camera's stream.", "serial")
	descEncoderFPS     = desc("encoder_fps", "Encoding rate ffmpeg reports (frames per second).", "serial")
	descEncoderSpeed   = desc("encoder_speed_ratio", "ffmpeg's speed: media time encoded per wall time (NaN while N/A).", "serial")
	descEncoderBitrate = desc("encoder_bitrate_bits_per_second", "Output bitrate ffmpeg reports (NaN while N/A).", "serial")
	descEncoderFrames  = desc("encoder_frames", "Frames ffmpeg has encoded.", "serial")
	descOutputBytes    = desc("output_bytes", "Size of the output written by ffmpeg so far.", "serial")
	descEncoderInfo    = desc("encoder_info", "Encoder of each camera and why it was chosen (value 1).", "serial", "encoder", "reason")
	descFFmpegUp       = desc("ffmpeg_up", "1 while the camera's ffmpeg runs.", "serial")
	descFFmpegExit     = desc("ffmpeg_exit_code", "Exit code of the camera's ffmpeg (-1: killed by a signal); absent while it runs.", "serial")
	descFFmpegRestart  = desc("ffmpeg_restarts_total", "ffmpeg processes that died mid-take and were replaced by a new one writing the next segment file.", "serial")
	descCameraFailed   = desc("camera_failed", "1 when the camera or its ffmpeg failed during the take.", "serial")
	descFirstOffset    = desc("first_frame_offset_seconds", "First frame's timestamp minus its scheduled trigger time.", "serial")
	descStartSkew      = desc("start_skew_seconds", "Spread of the first frames' timestamps across cameras.")
	descState          = desc("state", "Recorder state (one series per state, 1 for the current).", "state")
	descStartTime      = desc("start_time_seconds", "Host time (Unix) of the common start.")
	descElapsed        = desc("elapsed_seconds", "Time recorded since the common start.")
	descStartMode      = desc("camera_start_mode_info", "How the camera's frames start (value 1): scheduler, action, line or free.", "serial", "mode")
	descActionCmds     = desc("action_commands_total", "Action mode's scheduled ACTION_CMDs by answer: ok, late, overflow (queue full: a gap), no_ack, error, skipped (not sent in time: a gap).", "serial", "result")
)

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFramesReceived, descFramesWritten, descFramesFilled, descFramesDropped,
		descFramesMissing, descQueueDepth, descQueueCapacity, descBytesWritten, descStreamMissPkt, descStreamResent,
		descStreamUnder, descStreamMissFr, descEncoderFPS, descEncoderSpeed, descEncoderBitrate, descEncoderFrames,
		descOutputBytes, descEncoderInfo, descFFmpegUp, descFFmpegExit, descFFmpegRestart, descCameraFailed, descFirstOffset,
		descStartSkew, descState, descStartTime, descElapsed, descStartMode, descActionCmds} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	state := State(r.state.Load())
	for i, n := range stateNames {
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, metric.Bool(State(i) == state), n)
	}
	if s := r.started.Load(); s != 0 {
		start := time.Unix(0, s)
		ch <- prometheus.MustNewConstMetric(descStartTime, prometheus.GaugeValue, float64(s)/1e9)
		ch <- prometheus.MustNewConstMetric(descElapsed, prometheus.GaugeValue, max(0, time.Since(start).Seconds()))
	}
	if s := r.skewNs.Load(); s >= 0 {
		ch <- prometheus.MustNewConstMetric(descStartSkew, prometheus.GaugeValue, float64(s)/1e9)
	}
	r.mu.Lock()
	cams := r.cams
	r.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, c := range cams {
		s := c.serial
		counter(descFramesReceived, c.received.Load(), s)
		counter(descFramesWritten, c.written.Load(), s)
		counter(descFramesFilled, c.filled.Load(), s)
		counter(descFramesDropped, c.dropQueue.Load(), s, "queue_full")
		counter(descFramesDropped, c.dropIncomplete.Load(), s, "incomplete")
		counter(descFramesDropped, c.dropLate.Load(), s, "late")
		counter(descFramesMissing, c.missing.Load(), s)
		counter(descBytesWritten, c.bytes.Load(), s)
		gauge(descQueueDepth, float64(len(c.queue)), s)
		gauge(descQueueCapacity, float64(cap(c.free)-1), s)
		c.mu.Lock()
		st, p, err := c.stats, c.progress, c.err
		c.mu.Unlock()
		counter(descStreamMissPkt, st.MissingPackets, s)
		counter(descStreamResent, st.ResentPackets, s)
		counter(descStreamUnder, st.Underruns, s)
		counter(descStreamMissFr, st.MissingFrames, s)
		gauge(descEncoderFPS, p.FPS, s)
		gauge(descEncoderSpeed, p.Speed, s)
		gauge(descEncoderBitrate, p.BitrateBps, s)
		gauge(descEncoderFrames, float64(p.Frame), s)
		gauge(descOutputBytes, float64(p.TotalSize), s)
		ff, enc := c.proc()
		gauge(descEncoderInfo, 1, s, enc.Encoder, enc.Reason)
		counter(descFFmpegRestart, c.restarts.Load(), s)
		code := ff.ExitCode()
		gauge(descFFmpegUp, metric.Bool(code == -2), s)
		if code != -2 {
			gauge(descFFmpegExit, float64(code), s)
		}
		gauge(descCameraFailed, metric.Bool(err != nil), s)
		if c.mode != "" {
			gauge(descStartMode, 1, s, string(c.mode))
		}
		if c.mode == SyncAction {
			for i, n := range actionResultNames {
				counter(descActionCmds, c.actions[i].Load(), s, n)
			}
		}
		if c.haveFirst.Load() {
			gauge(descFirstOffset, float64(c.firstOffset.Load())/1e9, s)
		}
	}
}

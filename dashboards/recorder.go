package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// RecorderUID is the recorder dashboard's stable Grafana uid.
const RecorderUID = "ptpcam-recorder"

// StartSkewThreshold is the spread of the cameras' first frames above which
// a take did not start together (PtpcamRecordStartSkew).
const StartSkewThreshold = 0.001

// recSel selects the recorder's series of the chosen jobs, instances and
// cameras.
const recSel = `job=~"$job", instance=~"$instance", serial=~"$camera"`

// recorderStates are ptpcam_record_state's state values (record.State).
var recorderStates = []state{
	{"idle", "text"}, {"preparing", "yellow"}, {"arming", "yellow"}, {"waiting", "blue"},
	{"recording", "green"}, {"stopping", "purple"}, {"done", "text"}, {"failed", "red"},
}

// Recorder builds the camrecord dashboard: frames in and out per camera,
// what was lost and why, the encoder's pace, ffmpeg restarts and how
// together the take started. camrecord serves these metrics only while it
// records, so the panels are empty between takes.
func Recorder() (dashboard.Dashboard, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
	p := &panels{ds: ds}
	b := newDashboard("ptpcam: recorder", RecorderUID, "10s", []string{"ptpcam", "camrecord", "cameras"},
		"camrecord's takes: frames received and written per camera, drops by reason, gaps, the queue to ffmpeg, encoder speed and bitrate, ffmpeg restarts and the start skew across cameras.")
	b = withVariables(b, ds, "camrecord_build_info").
		WithVariable(cameraVariable(ds, "ptpcam_record_frames_received_total").AllValue(".+"))
	b.WithRow(dashboard.NewRowBuilder("Take").Id(p.id()))
	for _, pb := range p.take() {
		b.WithPanel(pb)
	}
	b.WithRow(dashboard.NewRowBuilder("Frames").Id(p.id()))
	for _, pb := range p.frames() {
		b.WithPanel(pb)
	}
	b.WithRow(dashboard.NewRowBuilder("Encoder").Id(p.id()))
	for _, pb := range p.encoder() {
		b.WithPanel(pb)
	}
	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", RecorderUID, err)
	}
	return d, nil
}

func (p *panels) take() []cog.Builder[dashboard.Panel] {
	takeSel := `job=~"$job", instance=~"$instance"`
	return []cog.Builder[dashboard.Panel]{
		p.timeline().
			Title("Recorder state").
			Description("camrecord's state over time: preparing and arming (latching the cameras' clocks), waiting for the common start, recording, stopping; failed is a take that did not end well.").
			Datasource(p.ds).Height(6).Span(16).
			Unit("none").
			WithTarget(p.query(stateCode("ptpcam_record_state", takeSel, "state", recorderStates, "job, instance"), "{{instance}}")).
			Mappings(stateMappings(recorderStates)).
			ShowValue(common.VisibilityModeAuto),
		p.stat().
			Title("Start skew").
			Description("Spread of the cameras' first-frame timestamps: how together the take started. Above 1 ms fires PtpcamRecordStartSkew.").
			Datasource(p.ds).Height(6).Span(4).
			Unit("s").
			WithTarget(p.instant(`max by (job, instance) (ptpcam_record_start_skew_seconds{`+takeSel+`})`, "{{instance}}")).
			Thresholds(steps("green", level{StartSkewThreshold, "red"})).
			ColorMode(common.BigValueColorModeBackground).
			GraphMode(common.BigValueGraphModeNone),
		p.stat().
			Title("Cameras failed").
			Description("Cameras whose stream or ffmpeg failed during the take (ptpcam_record_camera_failed).").
			Datasource(p.ds).Height(6).Span(4).
			Unit("none").
			WithTarget(p.instant(`sum by (job, instance) (ptpcam_record_camera_failed{`+recSel+`})`, "{{instance}}")).
			Thresholds(steps("green", level{1, "red"})).
			ColorMode(common.BigValueColorModeBackground).
			GraphMode(common.BigValueGraphModeNone),
		p.seconds("First frame offset",
			"Each camera's first frame timestamp minus its scheduled trigger: the PTP-scheduled start as each camera met it.",
			`ptpcam_record_first_frame_offset_seconds{`+recSel+`}`, "{{serial}}").Span(12),
		p.counts("ffmpeg restarts",
			"ffmpeg processes that died mid-take and were replaced (PtpcamRecordFFmpegRestarts); the take goes on in the next segment file.",
			"short", `increase(ptpcam_record_ffmpeg_restarts_total{`+recSel+`}[$__rate_interval])`, "{{serial}}").Span(12),
	}
}

func (p *panels) frames() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		p.counts("Frames per second",
			"Frames received from each camera's stream and written to its ffmpeg. Written includes repeated frames that fill gaps, so it stays at the frame rate while frames are lost.",
			"cps", `rate(ptpcam_record_frames_received_total{`+recSel+`}[$__rate_interval])`, "received {{serial}}").
			WithTarget(p.query(`rate(ptpcam_record_frames_written_total{`+recSel+`}[$__rate_interval])`, "written {{serial}}")).
			Span(12),
		p.counts("Frames dropped by reason",
			"Frames received but not written, per interval: queue_full (the encoder is too slow), incomplete (packets missing), late (stale or reordered). Any drop fires PtpcamRecordFramesLost.",
			"short", `increase(ptpcam_record_frames_dropped_total{`+recSel+`}[$__rate_interval])`, "{{reason}} {{serial}}").
			DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).
			Span(12),
		p.counts("Gaps",
			"Triggers with no frame at all (missing) and output frames that repeat the previous one in their place (filled), per interval.",
			"short", `increase(ptpcam_record_frames_missing_total{`+recSel+`}[$__rate_interval])`, "missing {{serial}}").
			WithTarget(p.query(`increase(ptpcam_record_frames_filled_total{`+recSel+`}[$__rate_interval])`, "filled {{serial}}")).
			DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).
			Span(12),
		p.counts("Queue depth",
			"Frames waiting between acquisition and ffmpeg, against the queue's capacity: a queue that stays full drops frames (queue_full).",
			"short", `ptpcam_record_queue_depth_frames{`+recSel+`}`, "depth {{serial}}").
			WithTarget(p.query(`ptpcam_record_queue_capacity_frames{`+recSel+`}`, "capacity {{serial}}")).
			Span(12),
		p.counts("Stream packets",
			"Aravis' stream counters per second: missing and resent packets, and underruns (frames lost for want of a free buffer).",
			"pps", `rate(ptpcam_record_stream_missing_packets_total{`+recSel+`}[$__rate_interval])`, "missing {{serial}}").
			WithTarget(p.query(`rate(ptpcam_record_stream_resent_packets_total{`+recSel+`}[$__rate_interval])`, "resent {{serial}}")).
			WithTarget(p.query(`rate(ptpcam_record_stream_underruns_total{`+recSel+`}[$__rate_interval])`, "underruns {{serial}}")).
			Span(24),
	}
}

func (p *panels) encoder() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		p.counts("Encoder speed",
			"ffmpeg's speed: media time encoded per wall time. Below 1 (100 %) the encoder falls behind the cameras and the queue fills (PtpcamRecordEncoderSlow).",
			"percentunit", `ptpcam_record_encoder_speed_ratio{`+recSel+`}`, "{{serial}}").
			Thresholds(steps("red", level{1, "green"})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
			Span(8),
		p.counts("Encoder frame rate",
			"Frames per second ffmpeg reports encoding.",
			"cps", `ptpcam_record_encoder_fps{`+recSel+`}`, "{{serial}}").
			Span(8),
		p.counts("Bitrate",
			"Output bitrate ffmpeg reports.",
			"bps", `ptpcam_record_encoder_bitrate_bits_per_second{`+recSel+`}`, "{{serial}}").
			Span(8),
		p.counts("Output size",
			"Bytes ffmpeg has written to each camera's files so far.",
			"decbytes", `ptpcam_record_output_bytes{`+recSel+`}`, "{{serial}}").
			Span(12),
		p.timeline().
			Title("ffmpeg running").
			Description("Whether each camera's ffmpeg runs (ptpcam_record_ffmpeg_up).").
			Datasource(p.ds).Height(8).Span(12).
			Unit("none").
			WithTarget(p.query(`ptpcam_record_ffmpeg_up{`+recSel+`}`, "{{serial}}")).
			Mappings(upMappings("running", "stopped")).
			ShowValue(common.VisibilityModeNever),
	}
}

// counts is a time series panel of one query in unit.
func (p *panels) counts(title, description, unit, expr, legend string) *timeseries.PanelBuilder {
	return p.seconds(title, description, expr, legend).Unit(unit).Min(0)
}

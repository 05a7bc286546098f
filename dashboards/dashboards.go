// Package dashboards builds ptpcam's Grafana dashboard from Go code with the
// Grafana Foundation SDK. dashboards/ptpcam.json is its committed output:
// regenerate it with `go run ./dashboards/gen -o dashboards/ptpcam.json`; a
// test fails when the two differ.
package dashboards

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Thresholds drawn on the panels. They are the ones of alerts/ptpcam.rules.yml
// (a test checks that they still agree), so that a panel turns red exactly
// when the alert would fire.
const (
	// DesyncThreshold is the |camera clock delta| above which a camera is
	// out of sync (PtpcamCameraClockDesync).
	DesyncThreshold = 0.001
	// UncertaintyThreshold is the latch uncertainty above which a delta
	// cannot be judged against DesyncThreshold (PtpcamLatchUncertaintyHigh).
	UncertaintyThreshold = 0.0005
	// SyncStaleThreshold is the Sync age in seconds above which a slave
	// host's grandmaster is considered silent (PtpcamSyncStale).
	SyncStaleThreshold = 10
)

// UID is the dashboard's stable Grafana uid, so that links survive re-imports.
const UID = "ptpcam"

// Selectors of the template variables, in every query (dashboard-linter's
// target-job-rule and target-instance-rule). All are multi-value with "All",
// hence regex matchers.
const (
	hostSel   = `job=~"$job", instance=~"$instance"`
	cameraSel = `job=~"$job", instance=~"$instance", serial=~"$camera"`
)

// rigTargets are the targets of the rig dashboard: exporters, and camrecord,
// which serves the ptpcam_camera_* series of the cameras it holds during a
// take (the exporter reports them held, without a delta).
const rigTargets = `{__name__=~"ptpcam_exporter_build_info|camrecord_build_info"}`

// judged is a camera metric as the alerts judge it (alerts/ptpcam.rules.yml):
// once per camera, from camrecord's series where camrecord serves the
// camera, else from the exporter's.
func judged(metric string) string {
	return `(` + metric + `{` + cameraSel + `} and on(job, instance) camrecord_build_info{` + hostSel + `}) or on(serial) ` +
		metric + `{` + cameraSel + `}`
}

// hostRoles are the values of ptpcam_ptp_role's role label (pmc.AllRoles,
// lower-cased) with the colour each gets on the timeline; the index + 1 is
// the code the timeline query maps the state set to.
var hostRoles = []state{
	{"unknown", "text"}, {"grandmaster", "green"}, {"slave", "green"}, {"uncalibrated", "yellow"},
	{"listening", "orange"}, {"faulty", "red"}, {"disabled", "text"}, {"master", "blue"}, {"passive", "purple"},
}

// cameraStatuses are the values of ptpcam_camera_ptp_status's status label
// (the exporter's contract, README "Metrics").
var cameraStatuses = []state{
	{"initializing", "yellow"}, {"faulty", "red"}, {"disabled", "text"}, {"listening", "orange"},
	{"premaster", "yellow"}, {"master", "blue"}, {"passive", "purple"}, {"uncalibrated", "yellow"},
	{"slave", "green"}, {"unknown", "text"},
}

type state struct{ name, color string }

// JSON returns the dashboard as committed in dashboards/ptpcam.json:
// indented, with a final newline.
func JSON() ([]byte, error) { return marshal(PTPCam) }

// Files are the committed dashboards by file name, each with its builder.
var Files = map[string]func() ([]byte, error){
	"ptpcam.json":   JSON,
	"recorder.json": func() ([]byte, error) { return marshal(Recorder) },
}

func marshal(build func() (dashboard.Dashboard, error)) ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: marshal: %w", *d.Uid, err)
	}
	return append(b, '\n'), nil
}

// withVariables adds the data source, job and instance variables every dashboard
// starts with, as dashboard-linter's template rules ask: query variables
// on $datasource, labelled by their name, multi-value with allValue ".+",
// refreshed when the time range changes. metric is the series whose job
// and instance labels are offered.
func withVariables(b *dashboard.DashboardBuilder, ds common.DataSourceRef, metric string) *dashboard.DashboardBuilder {
	q := func(name, query string) *dashboard.QueryVariableBuilder {
		return dashboard.NewQueryVariableBuilder(name).
			Label(name).
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".+")
	}
	return b.WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Data source").
		Type("prometheus")).
		WithVariable(q("job", "label_values("+metric+", job)").
			Description("Prometheus job of the scrape targets")).
		WithVariable(q("instance", "label_values("+withMatcher(metric, `job=~"$job"`)+", instance)").
			Description("Scrape target (host:port)"))
}

// withMatcher adds a label matcher to a metric name or a {...} selector.
func withMatcher(sel, matcher string) string {
	if strings.HasSuffix(sel, "}") {
		return sel[:len(sel)-1] + ", " + matcher + "}"
	}
	return sel + "{" + matcher + "}"
}

// newDashboard is what both dashboards share: read-only, the last hour,
// the browser's time zone, a shared crosshair and the runbook link.
func newDashboard(title, uid, refresh string, tags []string, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Readonly().
		Description(description).
		Tags(tags).
		Refresh(refresh).
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("Runbook").
			Type(dashboard.DashboardLinkTypeLink).
			Url("https://github.com/ptpcam/ptpcam#runbook").
			TargetBlank(true))
}

// cameraVariable is the multi-select camera serial, from the series of
// metric in the chosen jobs and instances.
func cameraVariable(ds common.DataSourceRef, metric string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder("camera").
		Label("Camera").
		Description("Camera serial number").
		Datasource(ds).
		Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(` + metric + `{job=~"$job", instance=~"$instance"}, serial)`)}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true)
}

// PTPCam builds the rig dashboard: the host's ptp4l, the cameras' clocks and
// PTP states, and the exporter's own health.
func PTPCam() (dashboard.Dashboard, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
	p := &panels{ds: ds}

	b := newDashboard("ptpcam: PTP camera rig", UID, "30s", []string{"ptpcam", "ptp", "cameras"},
		"PTP timing of a GigE Vision camera rig, from ptpcam_exporter: the host's ptp4l, each camera's clock against the host, and the exporter's health.")
	b = withVariables(b, ds, rigTargets).
		WithVariable(cameraVariable(ds, "ptpcam_camera_up")).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("ptpcam alerts").
			Datasource(ds).
			Enable(true).
			IconColor("red").
			// ALERTS is written by Prometheus itself for every pending or
			// firing alert of the loaded rules (alerts/ptpcam.rules.yml).
			Expr(`ALERTS{alertname=~"Ptpcam.+", alertstate="firing", ` + hostSel + `}`).
			Step("1m").
			TitleFormat("{{alertname}}").
			TextFormat("{{severity}} {{instance}} {{serial}}{{socket}}").
			TagKeys("severity"))

	b.WithRow(dashboard.NewRowBuilder("Host: ptp4l").Id(p.id()))
	for _, pb := range p.host() {
		b.WithPanel(pb)
	}
	// Ids in the order panels were added to the dashboard over time (they
	// stay stable), panels in the order they are shown.
	camRow, cams := dashboard.NewRowBuilder("Cameras").Id(p.id()), p.cameras()
	expRow, exp := dashboard.NewRowBuilder("Exporter").Id(p.id()), p.exporter()
	hcRow, hc := dashboard.NewRowBuilder("Host: port statistics and reference").Id(p.id()), p.hostCounters()
	cams = append(cams, p.cameraControl())
	for _, row := range []struct {
		row    *dashboard.RowBuilder
		panels []cog.Builder[dashboard.Panel]
	}{{camRow, cams}, {expRow, exp}, {hcRow, hc}} {
		b.WithRow(row.row)
		for _, pb := range row.panels {
			b.WithPanel(pb)
		}
	}
	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", UID, err)
	}
	return d, nil
}

// panels hands out stable panel ids (Grafana's links to a panel use them) in
// the order the panels are built.
type panels struct {
	ds     common.DataSourceRef
	lastID uint32
}

func (p *panels) id() uint32 {
	p.lastID++
	return p.lastID
}

func (p *panels) host() []cog.Builder[dashboard.Panel] {
	return append(p.hostState(), p.hostTiming()...)
}

// hostState is ptp4l's role, identities and reachability.
func (p *panels) hostState() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		p.stat().
			Title("Host role").
			Description("What ptp4l is doing as a whole, derived from its ports (grandmaster, slave, ...). The rig expects the host to be grandmaster unless the exporter runs with --no-ptp.expect-grandmaster.").
			Datasource(p.ds).Height(5).Span(6).
			Unit("none").
			WithTarget(p.instant(`ptpcam_ptp_role{`+hostSel+`} == 1`, "{{role}}")).
			TextMode(common.BigValueTextModeName).
			ColorMode(common.BigValueColorModeNone).
			GraphMode(common.BigValueGraphModeNone),
		table.NewPanelBuilder().Id(p.id()).
			Title("Clock and grandmaster identity").
			Description("The host's own clock identity and PTP domain, and the grandmaster it follows (itself when it is grandmaster). Several rows with different grandmasters in one domain fire PtpcamGrandmasterDisagreement.").
			Datasource(p.ds).Height(5).Span(12).
			Unit("none").
			WithTarget(p.table(`ptpcam_ptp_clock_info{` + hostSel + `}
  * on(job, instance, socket) group_left(grandmaster_identity)
ptpcam_ptp_grandmaster_info{` + hostSel + `}`)).
			WithTransformation(organize([]string{"Time", "Value", "__name__", "job"},
				map[string]string{"clock_identity": "clock", "grandmaster_identity": "grandmaster"})),
		p.stat().
			Title("Grandmaster clock class").
			Description("clockClass the grandmaster announces: 6 locked to a primary reference, 7 holdover, 248 default (free-running), 255 slave-only. Higher is worse.").
			Datasource(p.ds).Height(5).Span(3).
			Unit("none").
			WithTarget(p.instant(`ptpcam_ptp_grandmaster_clock_class{`+hostSel+`}`, "{{instance}}")).
			ColorMode(common.BigValueColorModeNone).
			GraphMode(common.BigValueGraphModeNone),
		p.stat().
			Title("Worst host |offset|").
			Description("Largest |offset from master| ptp4l reported within the dashboard's time range (0 on a grandmaster).").
			Datasource(p.ds).Height(5).Span(3).
			Unit("s").
			WithTarget(p.instant(`max(max_over_time(ptpcam_ptp_offset_from_master_max_abs_seconds{`+hostSel+`}[$__range]))`, "worst")).
			Thresholds(steps("green", level{DesyncThreshold, "red"})).
			ColorMode(common.BigValueColorModeValue).
			GraphMode(common.BigValueGraphModeNone),

		p.timeline().
			Title("Host role over time").
			Description("ptp4l's role per socket over the time range: a grandmaster host stays green; changes are BMCA decisions or faults.").
			Datasource(p.ds).Height(6).Span(12).
			Unit("none").
			WithTarget(p.query(stateCode("ptpcam_ptp_role", hostSel, "role", hostRoles, "instance, socket"), "{{instance}} {{socket}}")).
			Mappings(stateMappings(hostRoles)).
			ShowValue(common.VisibilityModeAuto),
		p.timeline().
			Title("ptp4l management reachable").
			Description("Whether ptp4l's management socket answered the exporter (ptpcam_ptp_up).").
			Datasource(p.ds).Height(6).Span(12).
			Unit("none").
			WithTarget(p.query(`ptpcam_ptp_up{`+hostSel+`}`, "{{instance}} {{socket}}")).
			Mappings(upMappings("answers", "unreachable")).
			ShowValue(common.VisibilityModeNever),
	}
}

// hostTiming is ptp4l's offset, path delay and Sync, its changes and its
// port counters.
func (p *panels) hostTiming() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		p.seconds("Host offset from master",
			"ptp4l's offset from its master (time series of polled values); 0 when the host is grandmaster.",
			`ptpcam_ptp_offset_from_master_seconds{`+hostSel+`}`, "{{instance}} {{socket}}").Span(8),
		p.seconds("Host worst |offset| per poll window",
			"Worst |offset| ptp4l reported between two scrapes, so that short excursions are not missed by the scrape interval.",
			`ptpcam_ptp_offset_from_master_max_abs_seconds{`+hostSel+`}`, "{{instance}} {{socket}}").Span(8),
		p.seconds("Mean path delay",
			"ptp4l's mean path delay to its master: a jump means the network path changed.",
			`ptpcam_ptp_mean_path_delay_seconds{`+hostSel+`}`, "{{instance}} {{socket}}").Span(8),

		p.seconds("Sync age",
			"Time since ptp4l last processed a Sync from the grandmaster (slave hosts only). The red line is the PtpcamSyncStale threshold.",
			`ptpcam_ptp_sync_age_seconds{`+hostSel+`}`, "{{instance}} {{socket}}").
			Span(12).
			Thresholds(steps("green", level{SyncStaleThreshold, "red"})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)),
		timeseries.NewPanelBuilder().Id(p.id()).
			Title("Grandmaster and port state changes").
			Description("Changes seen per interval: a grandmaster change is a BMCA decision (PtpcamGrandmasterChanged); many port state changes are flapping (PtpcamPortStateFlapping).").
			Datasource(p.ds).Height(8).Span(12).
			Unit("short").
			WithTarget(p.query(`increase(ptpcam_ptp_grandmaster_changes_total{`+hostSel+`}[$__rate_interval])`, "grandmaster {{instance}} {{socket}}")).
			WithTarget(p.query(`increase(ptpcam_ptp_port_state_changes_total{`+hostSel+`}[$__rate_interval])`, "port {{port}} {{interface}} {{instance}}")).
			DrawStyle(common.GraphDrawStyleBars).
			FillOpacity(80).
			Min(0).
			Decimals(0).
			Tooltip(tooltip()),
	}
}

func (p *panels) cameras() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		p.seconds("Camera clock delta",
			"Camera time minus the midpoint of the host's bracket around the timestamp latch (TAI/UTC corrected). The green band is ±1 ms, the PtpcamCameraClockDesync threshold; the alert only fires while the host clock is a valid reference.",
			judged("ptpcam_camera_clock_delta_seconds"), "{{serial}}").
			Span(16).Height(9).
			Thresholds(steps("red", level{-DesyncThreshold, "green"}, level{DesyncThreshold, "red"})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashedAndArea)).
			// Keep the band in view when every camera is well inside it.
			AxisSoftMin(-2 * DesyncThreshold).
			AxisSoftMax(2 * DesyncThreshold),
		p.stat().
			Title("Worst camera |delta|").
			Description("Largest |camera clock delta| of the selected cameras within the dashboard's time range.").
			Datasource(p.ds).Height(9).Span(4).
			Unit("s").
			WithTarget(p.instant(`max(max_over_time(abs(`+judged("ptpcam_camera_clock_delta_seconds")+`)[$__range:]))`, "worst")).
			Thresholds(steps("green", level{DesyncThreshold, "red"})).
			ColorMode(common.BigValueColorModeBackground).
			GraphMode(common.BigValueGraphModeNone),
		p.stat().
			Title("Host reference valid").
			Description("Whether the host clock is a valid reference for the camera deltas: the host is grandmaster or a synchronized slave. While it is not, deltas are shown but not alerted on.").
			Datasource(p.ds).Height(9).Span(4).
			Unit("none").
			WithTarget(p.instant(`ptpcam_camera_host_reference_valid{`+hostSel+`}`, "{{instance}}")).
			Mappings(upMappings("valid", "not valid")).
			ColorMode(common.BigValueColorModeBackground).
			GraphMode(common.BigValueGraphModeNone),

		p.timeline().
			Title("Camera PTP status").
			Description("PTP status of each camera. In a healthy rig every camera is Slave of the host grandmaster; a Master camera did not hear it (PtpcamSeveralMasters). Cameras without PTP have no row.").
			Datasource(p.ds).Height(8).Span(12).
			Unit("none").
			WithTarget(p.query(stateCode("ptpcam_camera_ptp_status", cameraSel, "status", cameraStatuses, "instance, serial"), "{{serial}}")).
			Mappings(stateMappings(cameraStatuses)).
			ShowValue(common.VisibilityModeAuto),
		p.timeline().
			Title("Camera up").
			Description("Whether the camera answered (ptpcam_camera_up): the exporter's samples, or camrecord's while it holds the camera for a take. A camera another application controls answers the exporter's reads and is up.").
			Datasource(p.ds).Height(8).Span(12).
			Unit("none").
			WithTarget(p.query(judged("ptpcam_camera_up"), "{{serial}}")).
			Mappings(upMappings("up", "down")).
			ShowValue(common.VisibilityModeNever),

		p.seconds("Delta uncertainty",
			"Half the host bracket around each latch: the delta is known to ± this. Above the red line (PtpcamLatchUncertaintyHigh) a 1 ms threshold cannot be judged.",
			judged("ptpcam_camera_clock_delta_uncertainty_seconds"), "{{serial}}").
			Span(8).
			Min(0).
			Thresholds(steps("green", level{UncertaintyThreshold, "red"})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)),
		p.seconds("Delta sample age",
			"Age of the last good latch sample of each camera: it grows while a camera does not answer latches.",
			judged("ptpcam_camera_clock_delta_sample_age_seconds"), "{{serial}}").
			Span(8).
			Min(0),
		p.seconds("Camera offset from master",
			"The offset from master the camera itself reports, for cameras that expose it.",
			`ptpcam_camera_ptp_offset_from_master_seconds{`+cameraSel+`}`, "{{serial}}").
			Span(8),

		table.NewPanelBuilder().Id(p.id()).
			Title("Cameras").
			Description("Every camera the exporter watches, and the grandmaster each one follows when it exposes it (it should be the host's: PtpcamCameraGrandmasterMismatch).").
			Datasource(p.ds).Height(7).Span(24).
			Unit("none").
			WithTarget(p.table(`ptpcam_camera_info{` + cameraSel + `}`)).
			WithTarget(p.table(`ptpcam_camera_ptp_grandmaster_info{` + cameraSel + `}`)).
			WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
			WithTransformation(organize([]string{"Time", "Value #A", "Value #B", "__name__", "job"},
				map[string]string{"grandmaster_identity": "grandmaster"})),
	}
}

// cameraControl is the table of cameras held by another application.
func (p *panels) cameraControl() cog.Builder[dashboard.Panel] {
	return table.NewPanelBuilder().Id(p.id()).
		Title("Camera control").
		Description("Cameras another application controls (GigE Vision allows one controller; the exporter takes control only for its samples). The exporter then reads what monitor access allows and sends no latch; during a take the holder is camrecord (this host), which serves the cameras' deltas. Another holder leaves the clock unjudged (PtpcamCameraClockUnmeasured).").
		Datasource(p.ds).Height(5).Span(24).
		Unit("none").
		WithTarget(p.table(`ptpcam_camera_controller_info{` + cameraSel + `}`)).
		WithTransformation(organize([]string{"Time", "Value", "__name__", "job"},
			map[string]string{"address": "controller", "this_host": "this host"}))
}

// hostCounters are ptp4l's port statistics and the host reference check;
// they are built last so that the older panels keep their ids (links to a
// panel use them).
func (p *panels) hostCounters() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		p.timeline().
			Title("Host reference").
			Description("Whether CLOCK_REALTIME, which the camera deltas are measured against, is PTP time, and why (ptpcam_host_reference_valid): software_timestamping, or with hardware timestamping phc_agrees / phc_disagrees / phc_unreadable. While not valid, desync alerts are held back.").
			Datasource(p.ds).Height(6).Span(12).
			Unit("none").
			WithTarget(p.query(`ptpcam_host_reference_valid{`+hostSel+`}`, "{{reason}} {{instance}}")).
			Mappings(upMappings("valid", "not valid")).
			ShowValue(common.VisibilityModeAuto),
		p.seconds("PHC − system clock disagreement",
			"With hardware timestamping: PHC − CLOCK_REALTIME minus currentUtcOffset (TAI domain) — how far the system clock is from PTP time. Beyond the band (the desync threshold) the host is no valid reference. Empty with software timestamping.",
			`ptpcam_host_phc_disagreement_seconds{`+hostSel+`}`, "{{interface}} /dev/ptp{{phc}} {{instance}}").
			Span(12).Height(6).
			Thresholds(steps("red", level{-DesyncThreshold, "green"}, level{DesyncThreshold, "red"})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashedAndArea)),
		timeseries.NewPanelBuilder().Id(p.id()).
			Title("PTP messages per second").
			Description("Messages each port of ptp4l receives and sends, by type (PORT_STATS_NP): a grandmaster sends Sync, Follow_Up and Announce; a slave receives them. A rate that drops to 0 is a silent master or a broken link.").
			Datasource(p.ds).Height(8).Span(12).
			Unit("cps").
			WithTarget(p.query(`sum by (job, instance, socket, direction, type) (rate(ptpcam_ptp_port_messages_total{`+hostSel+`}[$__rate_interval])) > 0`, "{{direction}} {{type}} {{instance}} {{socket}}")).
			Min(0).
			Tooltip(tooltip()),
		timeseries.NewPanelBuilder().Id(p.id()).
			Title("Sync and Announce timeouts").
			Description("Receipt timeouts per port and interval (PORT_SERVICE_STATS_NP; ptp4l 4.0 and later only — empty with linuxptp 3.1). Any Sync timeout fires PtpcamSyncTimeouts.").
			Datasource(p.ds).Height(8).Span(12).
			Unit("short").
			WithTarget(p.query(`increase(ptpcam_ptp_port_sync_timeouts_total{`+hostSel+`}[$__rate_interval])`, "sync port {{port}} {{interface}} {{instance}}")).
			WithTarget(p.query(`increase(ptpcam_ptp_port_announce_timeouts_total{`+hostSel+`}[$__rate_interval])`, "announce port {{port}} {{interface}} {{instance}}")).
			DrawStyle(common.GraphDrawStyleBars).
			FillOpacity(80).
			Min(0).
			Decimals(0).
			Tooltip(tooltip()),
	}
}

func (p *panels) exporter() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		p.timeline().
			Title("Scrape health").
			Description("Whether Prometheus could scrape the exporter (up) and whether each collector succeeded (ptpcam_scrape_collector_success). A failing collector does not fail the scrape.").
			Datasource(p.ds).Height(8).Span(12).
			Unit("none").
			WithTarget(p.query(`up{`+hostSel+`}`, "scrape {{instance}}")).
			WithTarget(p.query(`ptpcam_scrape_collector_success{`+hostSel+`}`, "{{collector}} {{instance}}")).
			Mappings(upMappings("ok", "failed")).
			ShowValue(common.VisibilityModeNever),
		p.seconds("Collector duration",
			"Time each collector took in a scrape: the camera collector shares one sample among concurrent scrapes, so it should stay flat however many scrapers there are.",
			`ptpcam_scrape_collector_duration_seconds{`+hostSel+`}`, "{{collector}} {{instance}}").
			Span(12).
			Min(0),
	}
}

// query is a range query of the dashboard's data source.
func (p *panels) query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(p.ds).Expr(expr).LegendFormat(legend).Range()
}

// instant is an instant query, for stats that show the current value.
func (p *panels) instant(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(p.ds).Expr(expr).LegendFormat(legend).Instant()
}

// table is an instant query whose labels become table columns.
func (p *panels) table(expr string) *prometheus.DataqueryBuilder {
	return p.instant(expr, "__auto").Format(prometheus.PromQueryFormatTable)
}

// seconds is a time series panel of one query in seconds.
func (p *panels) seconds(title, description, expr, legend string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Id(p.id()).
		Title(title).
		Description(description).
		Datasource(p.ds).
		Height(8).
		Unit("s").
		WithTarget(p.query(expr, legend)).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"min", "max", "lastNotNull"})).
		Tooltip(tooltip())
}

// stat is a stat panel of the current value (last non-null).
func (p *panels) stat() *stat.PanelBuilder {
	return stat.NewPanelBuilder().Id(p.id()).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Orientation(common.VizOrientationAuto)
}

// timeline is a state timeline, one row per series.
func (p *panels) timeline() *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().Id(p.id()).
		MergeValues(true).
		Tooltip(tooltip())
}

func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

// stateCode turns a state set (one series per state, the current one 1) into
// one series per group whose value is the current state's code (index + 1),
// which a state timeline can show as one row. PromQL cannot turn a label into
// a value, hence one term per state.
func stateCode(metric, sel, label string, states []state, by string) string {
	terms := make([]string, len(states))
	for i, s := range states {
		terms[i] = fmt.Sprintf("%s{%s, %s=%q} * %d", metric, sel, label, s.name, i+1)
	}
	return "max by (" + by + ") (\n    " + strings.Join(terms, "\n  or ") + "\n)"
}

// stateMappings maps stateCode's codes back to the state names.
func stateMappings(states []state) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, s := range states {
		opts[strconv.Itoa(i+1)] = dashboard.ValueMappingResult{Text: cog.ToPtr(s.name), Color: cog.ToPtr(s.color), Index: cog.ToPtr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// upMappings names the two values of a 0/1 gauge.
func upMappings(one, zero string) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: cog.ToPtr(zero), Color: cog.ToPtr("red"), Index: cog.ToPtr(int32(0))},
			"1": {Text: cog.ToPtr(one), Color: cog.ToPtr("green"), Index: cog.ToPtr(int32(1))},
		},
	}}}
}

// level is a threshold: from this value up, the colour.
type level struct {
	from  float64
	color string
}

// steps builds absolute thresholds: base below the first level.
func steps(base string, levels ...level) *dashboard.ThresholdsConfigBuilder {
	out := []dashboard.Threshold{{Color: base}} // nil value: -Infinity
	for _, l := range levels {
		out = append(out, dashboard.Threshold{Value: cog.ToPtr(l.from), Color: l.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(out)
}

// organize hides and renames table columns.
func organize(exclude []string, rename map[string]string) dashboard.DataTransformerConfig {
	ex := map[string]bool{}
	for _, e := range exclude {
		ex[e] = true
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
		"excludeByName": ex,
		"renameByName":  rename,
	}}
}

package dashboards

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/record"
)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// recorderMetrics are the metrics camrecord serves: what record.Recorder
// describes, its build info, and Prometheus' up.
func recorderMetrics(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 100)
	(&record.Recorder{}).Describe(ch)
	close(ch)
	known := map[string]bool{"up": true, "camrecord_build_info": true}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no fqName in %s", d)
		}
		known[m[1]] = true
	}
	if len(known) < 20 {
		t.Fatalf("record.Recorder describes %d metrics, want the ~27 of record/metrics.go", len(known)-2)
	}
	return known
}

// Every query of the recorder dashboard parses and names only metrics
// camrecord serves; the panels cover the metrics issue 17 asks for.
func TestRecorderQueries(t *testing.T) {
	testenv.RequireTool(t, "promtool")
	qs := committedQueries(t, "recorder.json")
	known := recorderMetrics(t)
	if err := checkQueries(t, qs, known); err != nil {
		t.Fatal(err)
	}
	used := usedMetrics(qs)
	for _, m := range []string{
		"ptpcam_record_frames_received_total", "ptpcam_record_frames_written_total", "ptpcam_record_frames_dropped_total",
		"ptpcam_record_frames_missing_total", "ptpcam_record_queue_depth_frames", "ptpcam_record_encoder_speed_ratio",
		"ptpcam_record_encoder_bitrate_bits_per_second", "ptpcam_record_ffmpeg_restarts_total", "ptpcam_record_start_skew_seconds",
	} {
		if !used[m] {
			t.Errorf("recorder dashboard does not show %s", m)
		}
	}
	t.Logf("%d queries use %d of camrecord's %d metrics", len(qs), len(used), len(known))
}

// The start skew panel turns red where PtpcamRecordStartSkew fires.
func TestRecorderThresholdMatchesAlert(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "alerts", "record.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want := "ptpcam_record_start_skew_seconds > " + strconv.FormatFloat(StartSkewThreshold, 'g', -1, 64)
	if !strings.Contains(string(b), want) {
		t.Errorf("alerts/record.rules.yml lacks %q, the dashboard's start skew threshold", want)
	}
}

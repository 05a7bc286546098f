package collector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ptpcam/ptpcam/genicam"
)

// fakeCamera is a camera whose clock runs offset ahead of the host's, with
// a fixed latch bracket.
type fakeCamera struct {
	info    genicam.DeviceInfo
	ptp     bool
	enabled bool
	status  genicam.PTPStatus
	offset  time.Duration
	bracket time.Duration
	// brackets, when set, are the brackets of the latches in turn (the
	// last one again when they run out), instead of bracket.
	brackets []time.Duration
	dead     bool
	mu       sync.Mutex
	latches  int
	closed   bool
	enableOn int
	// enableErr makes PTPEnabled fail (a status-only camera).
	enableErr error
	calls     []string // PTP reads in order
	// closeHold, when set, makes Close wait for it (Aravis closing a
	// camera that stopped answering).
	closeHold chan struct{}
}

func (f *fakeCamera) called(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, what)
}

func (f *fakeCamera) Capabilities() genicam.Capabilities {
	if !f.ptp {
		return genicam.Capabilities{PTPForm: "none", LatchUnit: genicam.LatchNone, Action: genicam.ActionNone}
	}
	return genicam.Capabilities{PTPForm: "PtpEnable:bool", StatusLatched: true, LatchUnit: genicam.LatchNs,
		Action: genicam.ActionScheduled, ActionQueueSize: 2, ActionSelector: 1, ActionTrigger: "Action1",
		TriggerSources: []string{"Software", "Action1", "Line0"}}
}

func (f *fakeCamera) Info() genicam.DeviceInfo { return f.info }
func (f *fakeCamera) PTPAvailable() bool       { return f.ptp }
func (f *fakeCamera) EnablePTP(ctx context.Context, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enabled = on
	f.enableOn++
	return nil
}
func (f *fakeCamera) PTPEnabled(ctx context.Context) (bool, error) {
	f.called("enabled")
	if err := f.err(); err != nil {
		return false, err
	}
	if f.enableErr != nil {
		return false, f.enableErr
	}
	if !f.ptp {
		return false, genicam.ErrNotAvailable
	}
	return f.enabled, nil
}
func (f *fakeCamera) PTPStatus(ctx context.Context) (genicam.PTPStatus, error) {
	f.called("status")
	if err := f.err(); err != nil {
		return 0, err
	}
	if !f.ptp {
		return 0, genicam.ErrNotAvailable
	}
	return f.status, nil
}
func (f *fakeCamera) PTPDataSet(ctx context.Context) (genicam.PTPDataSet, error) {
	f.called("dataset")
	if !f.ptp {
		return genicam.PTPDataSet{}, genicam.ErrNotAvailable
	}
	return genicam.PTPDataSet{OffsetFromMaster: 120 * time.Nanosecond, HasOffsetFromMaster: true,
		GrandmasterID: 0xbcfce7fffe244daf, HasGrandmasterID: true}, nil
}
func (f *fakeCamera) Latch(ctx context.Context) (genicam.LatchSample, error) {
	f.mu.Lock()
	f.latches++
	br := f.bracket
	if len(f.brackets) > 0 {
		br = f.brackets[min(f.latches, len(f.brackets))-1]
	}
	f.mu.Unlock()
	if err := f.err(); err != nil {
		return genicam.LatchSample{}, err
	}
	if !f.ptp {
		return genicam.LatchSample{}, genicam.ErrNotAvailable
	}
	before := time.Unix(1_800_000_000, 0)
	after := before.Add(br)
	mid := before.Add(br / 2)
	return genicam.LatchSample{Serial: f.info.Serial, Device: mid.Add(f.offset).UnixNano(), HostBefore: before, HostAfter: after}, nil
}
func (f *fakeCamera) Close() error {
	if f.closeHold != nil {
		<-f.closeHold
	}
	f.closed = true
	return nil
}
func (f *fakeCamera) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return errors.New("GVCP timeout")
	}
	return nil
}

type fakeSource struct {
	cams  map[string]*fakeCamera
	opens int
}

func (s *fakeSource) Discover(ctx context.Context) ([]genicam.DeviceInfo, error) {
	var out []genicam.DeviceInfo
	for _, c := range s.cams {
		if !c.dead {
			out = append(out, c.info)
		}
	}
	return out, nil
}

func (s *fakeSource) Open(ctx context.Context, info genicam.DeviceInfo) (Camera, error) {
	s.opens++
	return s.cams[info.Serial], nil
}

type fixedRef Reference

func (r fixedRef) Reference(ctx context.Context) (Reference, error) { return Reference(r), nil }

func newFakeRig() *fakeSource {
	cam := func(serial, addr string, ptp bool, st genicam.PTPStatus, off time.Duration) *fakeCamera {
		return &fakeCamera{info: genicam.DeviceInfo{Serial: serial, Vendor: "camsim", Model: "DFK 33GR0234", Address: addr, Interface: "ptp0"},
			ptp: ptp, enabled: ptp, status: st, offset: off, bracket: 80 * time.Microsecond}
	}
	return &fakeSource{cams: map[string]*fakeCamera{
		"05520125": cam("05520125", "10.213.0.10", true, genicam.PTPSlave, 37*time.Second+250*time.Microsecond),
		"05520126": cam("05520126", "10.213.0.11", true, genicam.PTPMaster, 37*time.Second+5*time.Millisecond),
		"05520128": cam("05520128", "10.213.0.12", false, genicam.PTPUnknown, 0),
	}}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCameraCollectorFixture(t *testing.T) {
	t.Parallel()
	src := newFakeRig()
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true, PTPTimescale: true, UTCOffset: 37}, CameraConfig{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_010, 0)
	c.now = func() time.Time { return now }
	c.Sample(context.Background())
	now = now.Add(3 * time.Second)

	f, err := os.Open("testdata/camera.prom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(updater{c}, f); err != nil {
		t.Fatal(err)
	}
}

// updater adapts a Collector to prometheus.Collector for testutil.
type updater struct{ c Collector }

func (u updater) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(u, ch) }
func (u updater) Collect(ch chan<- prometheus.Metric) {
	if err := u.c.Update(ch); err != nil {
		panic(err)
	}
}

// However many scrapes, the cameras are latched once per sample.
func TestCameraCollectorScrapesShareSamples(t *testing.T) {
	t.Parallel()
	src := newFakeRig()
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true}, CameraConfig{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.Sample(context.Background())
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := testutil.CollectAndLint(updater{c}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for s, cam := range src.cams {
		if cam.latches != 1 {
			t.Errorf("camera %s latched %d times by one sample and 50 scrapes, want 1", s, cam.latches)
		}
	}
}

// One slow latch (a 12.5 ms bracket on a loaded host) does not decide the
// sample: the narrowest of a few latches does, and every latch sent counts.
func TestCameraCollectorNarrowestLatch(t *testing.T) {
	t.Parallel()
	src := newFakeRig()
	cam := src.cams["05520126"]
	cam.brackets = []time.Duration{12500 * time.Microsecond, 3 * time.Millisecond, 80 * time.Microsecond, 10 * time.Microsecond}
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true, PTPTimescale: true, UTCOffset: 37}, CameraConfig{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.Sample(t.Context())
	get := func(metric string) float64 {
		t.Helper()
		return testutil.ToFloat64(cameraMetric(c, metric, "05520126"))
	}
	if got := get("ptpcam_camera_clock_delta_uncertainty_seconds"); got != 40e-6 {
		t.Errorf("uncertainty %v s, want 4e-05 (the third latch's)", got)
	}
	if got := get("ptpcam_camera_clock_delta_seconds"); math.Abs(got-5e-3) > 1e-9 {
		t.Errorf("delta %v s, want 0.005", got)
	}
	if got := get("ptpcam_camera_latches_total"); got != 3 || cam.latches != 3 {
		t.Errorf("latches_total %v, camera latched %d times; want 3 (stopped at the first within 100 µs)", got, cam.latches)
	}
}

// A camera that stops answering is down after one sample and reconnected
// with backoff when it answers again.
func TestCameraCollectorDownAndBack(t *testing.T) {
	t.Parallel()
	src := newFakeRig()
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true}, CameraConfig{Interval: time.Second, Serials: []string{"05520125", "05520199"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	c.Sample(ctx)
	up := func(serial string) float64 {
		t.Helper()
		return testutil.ToFloat64(cameraMetric(c, `ptpcam_camera_up`, serial))
	}
	if up("05520125") != 1 || up("05520199") != 0 {
		t.Fatalf("up 05520125=%v (want 1), unknown serial 05520199=%v (want 0)", up("05520125"), up("05520199"))
	}
	src.cams["05520125"].dead = true
	now = now.Add(time.Second)
	c.Sample(ctx)
	if up("05520125") != 0 {
		t.Fatalf("dead camera still up")
	}
	if !src.cams["05520125"].closed {
		t.Errorf("dead camera not closed for reconnection")
	}
	opens := src.opens
	src.cams["05520125"].dead = false
	src.cams["05520125"].closed = false
	// Backoff: the retry is one interval after the failure.
	now = now.Add(500 * time.Millisecond)
	c.Sample(ctx)
	if src.opens != opens {
		t.Errorf("reopened within the backoff")
	}
	now = now.Add(time.Second)
	c.Sample(ctx)
	if up("05520125") != 1 {
		t.Errorf("camera not back after backoff")
	}
}

// A camera that stopped answering is closed without holding the lock that
// scrapes take: a scrape answers while its Close is still blocked.
func TestCameraCollectorScrapeWhileClosing(t *testing.T) {
	t.Parallel()
	src := newFakeRig()
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true}, CameraConfig{Interval: time.Second, Serials: []string{"05520125"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.Sample(ctx)
	cam := src.cams["05520125"]
	cam.closeHold = make(chan struct{})
	cam.mu.Lock()
	cam.dead = true
	cam.mu.Unlock()
	sampled := make(chan struct{})
	go func() { c.Sample(ctx); close(sampled) }()
	// The round marks the camera down, then waits in Close: the scrape
	// must see it down meanwhile.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := make(chan float64, 1)
		go func() { got <- testutil.ToFloat64(cameraMetric(c, `ptpcam_camera_up`, "05520125")) }()
		select {
		case v := <-got:
			if v == 0 {
				select {
				case <-sampled:
					t.Fatal("Sample returned before the camera's Close did")
				default:
				}
				close(cam.closeHold)
				<-sampled
				if !cam.closed {
					t.Fatal("camera not closed when Sample returned")
				}
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("scrape blocked while a dead camera was being closed")
		}
		if time.Now().After(deadline) {
			t.Fatal("camera never marked down")
		}
		runtime.Gosched()
	}
}

func TestCameraCollectorEnablePTPOnlyOnRequest(t *testing.T) {
	t.Parallel()
	for _, enable := range []bool{false, true} {
		src := newFakeRig()
		c, _ := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true}, CameraConfig{Interval: time.Second, EnablePTP: enable})
		c.Sample(context.Background())
		n := 0
		for _, cam := range src.cams {
			n += cam.enableOn
		}
		if enable && n != 2 || !enable && n != 0 {
			t.Errorf("EnablePTP=%v: %d EnablePTP calls", enable, n)
		}
	}
}

func TestCameraCollectorBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []CameraConfig{
		{Interval: 0},
		{Interval: time.Second, Timescale: "gps"},
		{Interval: time.Second, Serials: []string{"1", "1"}},
	} {
		if _, err := NewCameraCollector(quietLogger(), newFakeRig(), fixedRef{}, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// serialOf returns the serial label of m.
func serialOf(m prometheus.Metric) string {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		return ""
	}
	for _, l := range pb.Label {
		if l.GetName() == "serial" {
			return l.GetValue()
		}
	}
	return ""
}

// A status-only camera (enable unreadable) is up with its status; a status
// value with no entry is the state set's unknown; the data set is latched
// before the status is read.
func TestCameraCollectorStatusOnlyAndRawStatus(t *testing.T) {
	t.Parallel()
	src := newFakeRig()
	a, b := src.cams["05520125"], src.cams["05520126"]
	a.enableErr = errors.New("camera 05520125: feature PtpEnable: access denied")
	b.status = genicam.PTPStatusValue(13)
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true}, CameraConfig{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.Sample(context.Background())
	if v := testutil.ToFloat64(cameraMetric(c, "ptpcam_camera_up", "05520125")); v != 1 {
		t.Errorf("status-only camera up = %v, want 1", v)
	}
	state := func(serial, status string) float64 {
		t.Helper()
		all := make(chan prometheus.Metric, 1000)
		_ = c.Update(all)
		close(all)
		for m := range all {
			var pb dto.Metric
			_ = m.Write(&pb)
			labels := map[string]string{}
			for _, l := range pb.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if strings.Contains(m.Desc().String(), `"ptpcam_camera_ptp_status"`) && labels["serial"] == serial && labels["status"] == status {
				return pb.GetGauge().GetValue()
			}
		}
		t.Fatalf("no ptp_status{serial=%s,status=%s}", serial, status)
		return 0
	}
	if state("05520125", "slave") != 1 {
		t.Errorf("status-only camera: slave state not 1")
	}
	if state("05520126", "unknown") != 1 || state("05520126", "master") != 0 {
		t.Errorf("raw status 13: unknown=%v master=%v, want 1 0", state("05520126", "unknown"), state("05520126", "master"))
	}
	if n := testutil.CollectAndCount(cameraMetric(c, "ptpcam_camera_ptp_enabled", "05520125")); n != 0 {
		t.Errorf("status-only camera exports ptp_enabled (%d series)", n)
	}
	for _, cam := range []*fakeCamera{a, b} {
		ds, st := slices.Index(cam.calls, "dataset"), slices.Index(cam.calls, "status")
		if ds < 0 || st < 0 || ds > st {
			t.Errorf("camera %s: reads %v, want the data set latched before the status", cam.info.Serial, cam.calls)
		}
	}
}

package collector

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ptpcam/ptpcam/genicam"
)

// monitorCamera is a fakeCamera opened for monitoring, as GigE Vision
// cameras treat it: reads always work; writes (the latch, the data set
// latch, a latched status, enabling PTP) only with control; control cannot
// be taken while another application holds it.
type monitorCamera struct {
	*fakeCamera
	liveStatus bool // the status reads without a latch

	cmu     sync.Mutex
	holder  *genicam.Controller // another application controls the camera
	control bool
	takes   int
	leaves  int
	denied  int // writes tried without control
}

func (m *monitorCamera) TakeControl(ctx context.Context) error {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	if m.holder != nil {
		return &genicam.HeldError{Serial: m.info.Serial, Holder: *m.holder, Op: "take control"}
	}
	m.control = true
	m.takes++
	return nil
}

func (m *monitorCamera) LeaveControl(ctx context.Context) error {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	m.control = false
	m.leaves++
	return nil
}

// write checks a write is allowed.
func (m *monitorCamera) write(op string) error {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	if m.control {
		return nil
	}
	m.denied++
	ctl := genicam.Controller{}
	if m.holder != nil {
		ctl = *m.holder
	}
	return &genicam.HeldError{Serial: m.info.Serial, Holder: ctl, Op: op}
}

func (m *monitorCamera) EnablePTP(ctx context.Context, on bool) error {
	if err := m.write("feature PtpEnable"); err != nil {
		return err
	}
	return m.fakeCamera.EnablePTP(ctx, on)
}

func (m *monitorCamera) PTPDataSet(ctx context.Context) (genicam.PTPDataSet, error) {
	if err := m.write("feature PtpDataSetLatch"); err != nil {
		return genicam.PTPDataSet{}, err
	}
	return m.fakeCamera.PTPDataSet(ctx)
}

func (m *monitorCamera) PTPStatus(ctx context.Context) (genicam.PTPStatus, error) {
	if !m.liveStatus {
		if err := m.write("feature PtpDataSetLatch"); err != nil {
			return 0, err
		}
	}
	return m.fakeCamera.PTPStatus(ctx)
}

func (m *monitorCamera) Latch(ctx context.Context) (genicam.LatchSample, error) {
	if err := m.write("feature TimestampLatch"); err != nil {
		return genicam.LatchSample{}, err
	}
	return m.fakeCamera.Latch(ctx)
}

func (m *monitorCamera) Capabilities() genicam.Capabilities {
	c := m.fakeCamera.Capabilities()
	c.StatusLatched = !m.liveStatus
	return c
}

func (m *monitorCamera) hold(c *genicam.Controller) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	m.holder = c
}

type monitorSource struct{ cams map[string]*monitorCamera }

func (s monitorSource) Discover(ctx context.Context) ([]genicam.DeviceInfo, error) {
	var out []genicam.DeviceInfo
	for _, c := range s.cams {
		out = append(out, c.info)
	}
	return out, nil
}

func (s monitorSource) Open(ctx context.Context, info genicam.DeviceInfo) (Camera, error) {
	return s.cams[info.Serial], nil
}

func newMonitorRig() monitorSource {
	rig := newFakeRig()
	return monitorSource{cams: map[string]*monitorCamera{
		"05520125": {fakeCamera: rig.cams["05520125"], liveStatus: true},
		"05520126": {fakeCamera: rig.cams["05520126"]},
	}}
}

// count counts the series of one metric and serial whose text contains
// match (labels as `name="value"`).
func count(t *testing.T, c *CameraCollector, name, serial, match string) int {
	t.Helper()
	n := 0
	for _, m := range c.metrics() {
		if !strings.Contains(m.Desc().String(), `"`+name+`"`) || serialOf(m) != serial {
			continue
		}
		if match == "" || strings.Contains(metricText(m), match) {
			n++
		}
	}
	return n
}

// Each sample takes control, latches and reads, and leaves control: the
// camera is free between samples, every write had control, and PTP is
// enabled under control at the first sample.
func TestCameraCollectorControlPerSample(t *testing.T) {
	t.Parallel()
	src := newMonitorRig()
	for _, m := range src.cams {
		m.enabled = false
	}
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true}, CameraConfig{Interval: time.Second, EnablePTP: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c.Sample(context.Background())
	}
	for serial, m := range src.cams {
		if m.takes != 2 || m.leaves != 2 || m.control || m.denied != 0 {
			t.Errorf("camera %s: %d takes, %d leaves, control held after the sample %v, %d writes without control; want 2, 2, false, 0",
				serial, m.takes, m.leaves, m.control, m.denied)
		}
		if m.enableOn != 1 || !m.enabled {
			t.Errorf("camera %s: PTP enabled %d times (now %v), want once", serial, m.enableOn, m.enabled)
		}
		if count(t, c, "ptpcam_camera_clock_delta_seconds", serial, "") != 1 || count(t, c, "ptpcam_camera_controller_info", serial, "") != 0 {
			t.Errorf("camera %s: want a delta and no controller_info", serial)
		}
	}
}

// While another application holds a camera, the collector does not try to
// write: the camera is up with what monitor access reads (enable, a live
// status), the holder's address in controller_info, no delta and no latch;
// when the holder leaves, latching resumes.
func TestCameraCollectorHeld(t *testing.T) {
	t.Parallel()
	src := newMonitorRig()
	c, err := NewCameraCollector(quietLogger(), src, fixedRef{Valid: true}, CameraConfig{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.Sample(ctx) // free: deltas
	holder := &genicam.Controller{Addr: netip.MustParseAddrPort("10.213.0.99:50000")}
	for _, m := range src.cams {
		m.hold(holder)
	}
	latches := map[string]int{}
	for s, m := range src.cams {
		latches[s] = m.latches
	}
	c.Sample(ctx)
	for serial, m := range src.cams {
		if v := testutil.ToFloat64(cameraMetric(c, "ptpcam_camera_up", serial)); v != 1 {
			t.Errorf("held camera %s: up %v, want 1", serial, v)
		}
		if n := count(t, c, "ptpcam_camera_controller_info", serial, `address="10.213.0.99:50000"`); n != 1 {
			t.Errorf("held camera %s: %d controller_info series naming 10.213.0.99:50000, want 1", serial, n)
		}
		if n := count(t, c, "ptpcam_camera_controller_info", serial, `this_host="false"`); n != 1 {
			t.Errorf("held camera %s: controller_info without this_host=false", serial)
		}
		for _, name := range []string{"ptpcam_camera_clock_delta_seconds", "ptpcam_camera_clock_delta_uncertainty_seconds", "ptpcam_camera_ptp_grandmaster_info"} {
			if n := count(t, c, name, serial, ""); n != 0 {
				t.Errorf("held camera %s: %d %s series, want none (no stale sample)", serial, n, name)
			}
		}
		if m.latches != latches[serial] || m.denied != 0 {
			t.Errorf("held camera %s: %d latches sent and %d writes tried while held, want none", serial, m.latches-latches[serial], m.denied)
		}
		if count(t, c, "ptpcam_camera_ptp_enabled", serial, "") != 1 {
			t.Errorf("held camera %s: ptp_enabled not read", serial)
		}
	}
	// The live status reads with monitor access; the latched one does not.
	if count(t, c, "ptpcam_camera_ptp_status", "05520125", `status="slave"`) != 1 {
		t.Errorf("held camera with a live status: no slave status")
	}
	if n := count(t, c, "ptpcam_camera_ptp_status", "05520126", ""); n != 0 {
		t.Errorf("held camera with a latched status: %d status series, want none", n)
	}

	for _, m := range src.cams {
		m.hold(nil)
	}
	c.Sample(ctx)
	for serial, m := range src.cams {
		if count(t, c, "ptpcam_camera_controller_info", serial, "") != 0 || count(t, c, "ptpcam_camera_clock_delta_seconds", serial, "") != 1 {
			t.Errorf("camera %s after the holder left: want a delta and no controller_info", serial)
		}
		if m.latches == latches[serial] || m.control {
			t.Errorf("camera %s after the holder left: not latched, or control kept", serial)
		}
	}
}

// ControlledSource's cameras hide their control and Close: the collector
// would otherwise leave the control their owner needs, or close them.
func TestControlledCameraHidesControl(t *testing.T) {
	t.Parallel()
	m := newMonitorRig().cams["05520125"]
	var cam Camera = controlledCamera{Camera: m}
	if _, ok := cam.(controlCamera); ok {
		t.Fatal("a controlled camera offers TakeControl/LeaveControl to the collector")
	}
	if _, ok := cam.(capabilitiesCamera); !ok {
		t.Error("a controlled camera hides its capabilities")
	}
	if err := cam.Close(); err != nil || m.closed {
		t.Errorf("Close closed the owner's camera (err %v)", err)
	}
}

// metricText is a metric's labels as `name="value"` pairs.
func metricText(m prometheus.Metric) string {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		return ""
	}
	var b strings.Builder
	for _, l := range pb.Label {
		fmt.Fprintf(&b, "%s=%q,", l.GetName(), l.GetValue())
	}
	return b.String()
}

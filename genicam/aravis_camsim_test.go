//go:build cgo && !noaravis

package genicam

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/rig"
)

// Tests against camsim through real Aravis, in a rig (see rig_test.go).

func camsimSpec(noPTP4L bool, profiles ...string) rigSpec {
	var cams []rig.Camera
	for i, p := range profiles {
		cams = append(cams, rig.Camera{Serial: fmt.Sprintf("SIM%02d%s", i, strings.ToUpper(p[:1])), Profile: p})
	}
	return rigSpec{Cameras: cams, NoPTP4L: noPTP4L}
}

// camsimSet changes a camsim setting through its control endpoint.
func camsimSet(t testing.TB, control, key, value string) {
	t.Helper()
	sock := strings.TrimPrefix(control, "unix:")
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	resp, err := c.PostForm("http://camsim/control", url.Values{key: {value}})
	if err != nil {
		t.Fatalf("camsim %s: set %s=%s: %v", control, key, value, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("camsim %s: set %s=%s: %s", control, key, value, resp.Status)
	}
}

func TestCamsimFamilies(t *testing.T) {
	r, ok := inRig(t, camsimSpec(true, "sfnc", "gev", "noptp"))
	if !ok {
		return
	}
	devs := waitDiscover(t, r)
	if len(devs) != 3 {
		t.Errorf("discovered %+v, want 3 cameras", devs)
	}
	ctx := context.Background()
	want := map[string]map[string]string{
		"sfnc": {FeaturePTPEnable: "PtpEnable", FeaturePTPStatus: "PtpStatus",
			FeatureTimestampLatch: "TimestampLatch", FeatureTimestampLatchValue: "TimestampLatchValue"},
		"gev": {FeaturePTPEnable: "GevIEEE1588", FeaturePTPStatus: "GevIEEE1588Status",
			FeatureTimestampLatch: "GevTimestampControlLatch", FeatureTimestampLatchValue: "GevTimestampValue"},
		"noptp": {},
	}
	for i, c := range r.Cameras {
		t.Run(c.Profile, func(t *testing.T) {
			cams, err := OpenSelection(ctx, Selection{Serials: []string{c.Serial}})
			if err != nil {
				t.Fatal(err)
			}
			cam := cams[0]
			defer cam.Close()
			if cam.Info().Address != r.Cameras[i].Address {
				t.Errorf("address %s, want %s", cam.Info().Address, r.Cameras[i].Address)
			}
			for _, logical := range []string{FeaturePTPEnable, FeaturePTPStatus, FeatureTimestampLatch, FeatureTimestampLatchValue} {
				got, has := cam.Feature(logical)
				if w, wantHas := want[c.Profile][logical]; got != w || has != wantHas {
					t.Errorf("Feature(%s) = %q, %v; want %q, %v", logical, got, has, w, wantHas)
				}
			}
			if c.Profile == "noptp" {
				if cam.PTPAvailable() {
					t.Error("PTPAvailable on noptp")
				}
				if err := cam.EnablePTP(ctx, true); !errors.Is(err, ErrNotAvailable) {
					t.Errorf("EnablePTP: %v, want ErrNotAvailable", err)
				}
				if _, err := cam.Latch(ctx); !errors.Is(err, ErrNotAvailable) {
					t.Errorf("Latch: %v, want ErrNotAvailable", err)
				}
				return
			}
			if !cam.PTPAvailable() {
				t.Fatal("PTP not available")
			}
			for _, on := range []bool{true, false, true} {
				if err := cam.EnablePTP(ctx, on); err != nil {
					t.Fatal(err)
				}
				if got, err := cam.PTPEnabled(ctx); err != nil || got != on {
					t.Errorf("PTPEnabled = %v, %v; want %v", got, err, on)
				}
			}
			if _, err := cam.Latch(ctx); err != nil {
				t.Errorf("Latch: %v", err)
			}
		})
	}
}

// waitPTPStatus polls until every camera reports want.
func waitPTPStatus(t *testing.T, cams []*Camera, want PTPStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for _, cam := range cams {
		if err := cam.EnablePTP(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	for {
		var got []string
		all := true
		for _, cam := range cams {
			st, err := cam.PTPStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, cam.Serial()+"="+st.String())
			all = all && st == want
		}
		if all {
			t.Logf("statuses %v", got)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %v: statuses %v", want, got)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func TestCamsimPTPSlave(t *testing.T) {
	r, ok := inRig(t, camsimSpec(false, "sfnc", "gev"))
	if !ok {
		return
	}
	cams := openAll(t, r)
	waitPTPStatus(t, cams, PTPSlave)
	for _, cam := range cams {
		ds, err := cam.PTPDataSet(context.Background())
		if errors.Is(err, ErrNotAvailable) {
			t.Logf("%s: no PTP data set", cam.Serial())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: data set %+v", cam.Serial(), ds)
		// camsim follows the software-timestamped ptp4l within microseconds.
		if ds.HasOffsetFromMaster && (ds.OffsetFromMaster > time.Second || ds.OffsetFromMaster < -time.Second) {
			t.Errorf("%s: offset from master %v, implausible for a slave (sign lost?)", cam.Serial(), ds.OffsetFromMaster)
		}
		if ds.HasGrandmasterID && ds.HasClockID && ds.GrandmasterID == ds.ClockID {
			t.Errorf("%s: slave whose grandmaster is itself: %+v", cam.Serial(), ds)
		}
	}
}

func TestCamsimPTPMaster(t *testing.T) {
	r, ok := inRig(t, camsimSpec(true, "sfnc"))
	if !ok {
		return
	}
	waitPTPStatus(t, openAll(t, r), PTPMaster)
}

func TestCamsimLatchOffset(t *testing.T) {
	r, ok := inRig(t, camsimSpec(true, "sfnc", "gev"))
	if !ok {
		return
	}
	cams := openAll(t, r)
	ctx := context.Background()
	for i, cam := range cams {
		t.Run(r.Cameras[i].Profile, func(t *testing.T) {
			a, err := cam.Latch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			camsimSet(t, r.Cameras[i].Control, "offset", "5ms")
			b, err := cam.Latch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The step seen by the host must be the injected 5 ms, within
			// both brackets and 100 µs for the camera's own granularity.
			step := b.Offset() - a.Offset()
			tol := a.HalfBracket() + b.HalfBracket() + 100*time.Microsecond
			t.Logf("offset before %v after %v, step %v (tolerance %v)", a.Offset(), b.Offset(), step, tol)
			if d := step - 5*time.Millisecond; d < -tol || d > tol {
				t.Errorf("latched step %v, want 5ms ± %v", step, tol)
			}
			if a.HostBefore.After(a.HostAfter) || a.Serial != cam.Serial() {
				t.Errorf("bad sample %+v", a)
			}
		})
	}
}

func TestCamsimLatchAll(t *testing.T) {
	r, ok := inRig(t, camsimSpec(true, "sfnc", "sfnc", "gev", "gev"))
	if !ok {
		return
	}
	cams := openAll(t, r)
	ctx := context.Background()
	for _, latch := range []struct {
		name string
		f    func(context.Context, []*Camera) ([]LatchSample, []error)
	}{{"concurrent", LatchAll}, {"sequential", latchSequential}} {
		samples, errs := latch.f(ctx, cams)
		for i, s := range samples {
			if errs[i] != nil {
				t.Fatalf("%s: %s: %v", latch.name, r.Cameras[i].Serial, errs[i])
			}
			if s.Serial != r.Cameras[i].Serial || s.Device == 0 {
				t.Errorf("%s: sample %d = %+v", latch.name, i, s)
			}
			t.Logf("%s: %s offset %v ± %v", latch.name, s.Serial, s.Offset(), s.HalfBracket())
		}
		// All camsims run on the machine's clock: their offsets agree
		// within the brackets.
		for i := 1; i < len(samples); i++ {
			d := samples[i].Offset() - samples[0].Offset()
			tol := samples[i].HalfBracket() + samples[0].HalfBracket() + 100*time.Microsecond
			if d < -tol || d > tol {
				t.Errorf("%s: %s and %s disagree by %v (> %v)", latch.name, samples[i].Serial, samples[0].Serial, d, tol)
			}
		}
	}
	// A camera without latch gives its error in its slot only.
	if _, errs := LatchAll(ctx, cams[:1]); errs[0] != nil {
		t.Error(errs[0])
	}
}

func TestCamsimScheduler(t *testing.T) {
	r, ok := inRig(t, camsimSpec(true, "sfnc"))
	if !ok {
		return
	}
	cam := openAddr(t, r.Cameras[0].Address)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cam.Configure(ctx, Acquisition{Width: 64, Height: 48, PixelFormat: "Mono8"}); err != nil {
		t.Fatal(err)
	}
	if err := cam.SetActionKeys(ctx, 0x1234, 0x1, 0xffffffff); err != nil {
		t.Fatal(err)
	}
	now, err := cam.Latch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const interval = 20 * time.Millisecond
	start := (now.Device/int64(interval) + 25) * int64(interval) // 0.5 s ahead, on the grid
	if err := cam.ProgramScheduler(ctx, start, interval); err != nil {
		t.Fatal(err)
	}
	s, err := cam.StartStream(ctx, StreamConfig{Buffers: 8, FrameRetention: 300 * time.Millisecond, PacketTimeout: 15 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fr, pt := s.timing(); fr != 300*time.Millisecond || pt != 15*time.Millisecond {
		t.Errorf("stream frame retention %v, packet timeout %v; want 300ms, 15ms", fr, pt)
	}
	var prev Frame
	var prevCounter uint64
	for i := 0; i < 15; i++ {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != FrameSuccess {
			t.Fatalf("frame %d: %v", i, f.Status)
		}
		// camsim writes its frame counter and the frame's timestamp into the
		// first pixels: no frame lost or reordered between camera and Go.
		counter, ok := camsim.FrameCounter(f.Data)
		if !ok {
			t.Fatalf("frame %d: no camsim frame counter in the pixels", f.FrameID)
		}
		if i > 0 && counter != prevCounter+1 {
			t.Errorf("frame counter %d after %d: lost or reordered", counter, prevCounter)
		}
		prevCounter = counter
		if ts, ok := camsim.FrameTimestamp(f.Data); !ok || int64(ts) != f.Timestamp {
			t.Errorf("frame %d: timestamp in the pixels %d, in the leader %d", f.FrameID, ts, f.Timestamp)
		}
		if off := f.Timestamp - start; off < 0 || off%int64(interval) != 0 {
			t.Errorf("frame %d at %d: %d ns off the %v grid from %d", f.FrameID, f.Timestamp, off%int64(interval), interval, start)
		}
		if i > 0 && (f.FrameID != prev.FrameID+1 || f.Timestamp-prev.Timestamp != int64(interval)) {
			t.Errorf("frame %d at %d after frame %d at %d: gap", f.FrameID, f.Timestamp, prev.FrameID, prev.Timestamp)
		}
		prev = f
		_ = s.Release(f)
	}
	st := s.Stats()
	t.Logf("stats %+v", st)
	if st.CompletedBuffers < 15 || st.MissingFrames != 0 || st.Failures != 0 {
		t.Errorf("stats %+v: want ≥ 15 completed, no missing frames or failures", st)
	}
	if err := cam.CancelScheduler(ctx); err != nil {
		t.Fatal(err)
	}
	if mode, err := cam.getEnum(ctx, "TriggerMode"); err != nil || mode != "Off" {
		t.Errorf("TriggerMode after cancel = %q, %v", mode, err)
	}
}

func TestCamsimActionCommand(t *testing.T) {
	r, ok := inRig(t, camsimSpec(true, "sfnc", "sfnc"))
	if !ok {
		return
	}
	cams := openAll(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var streams []*Stream
	var targets []netip.Addr
	for _, cam := range cams {
		if err := cam.Configure(ctx, Acquisition{Width: 64, Height: 48, PixelFormat: "Mono8"}); err != nil {
			t.Fatal(err)
		}
		if err := cam.SetActionKeys(ctx, 0xabcd, 0x2, 0x1); err != nil {
			t.Fatal(err)
		}
		if err := cam.setTrigger(ctx, "Action0"); err != nil {
			t.Fatal(err)
		}
		// The one frame each camera sends must arrive whole: give its
		// resends time on a loaded machine.
		s, err := cam.StartStream(ctx, StreamConfig{Buffers: 4, FrameRetention: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		streams = append(streams, s)
		targets = append(targets, netip.MustParseAddr(cam.Info().Address))
	}
	now, err := cams[0].Latch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := uint64(now.Device + int64(200*time.Millisecond))
	acks, err := SendActionCommand(ctx, targets, ActionCommand{DeviceKey: 0xabcd, GroupKey: 0x2, GroupMask: 0x1, Time: &at, Ack: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) != len(targets) {
		t.Errorf("acks %+v, want one per camera", acks)
	}
	var stamps []int64
	for i, s := range streams {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("%s: %v", cams[i].Serial(), err)
		}
		if f.Status != FrameSuccess {
			t.Errorf("%s: frame %d %v (stream %+v)", cams[i].Serial(), f.FrameID, f.Status, s.Stats())
		}
		stamps = append(stamps, f.Timestamp)
		_ = s.Release(f)
	}
	sort.Slice(stamps, func(i, j int) bool { return stamps[i] < stamps[j] })
	t.Logf("scheduled %d, frames at %v", at, stamps)
	for _, ts := range stamps {
		if ts != int64(at) {
			t.Errorf("frame at %d, want the scheduled %d", ts, at)
		}
	}
	// A time already past is refused as late.
	late := uint64(now.Device)
	if _, err := SendActionCommand(ctx, targets[:1], ActionCommand{DeviceKey: 0xabcd, GroupKey: 0x2, GroupMask: 0x1, Time: &late, Ack: true}); !errors.Is(err, ErrActionLate) {
		t.Errorf("late action: %v, want ErrActionLate", err)
	}
}

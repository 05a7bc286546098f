package check

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/pmc"
)

func cam(serial string, ptp string, st genicam.PTPStatus) CameraStatus {
	return CameraStatus{Serial: serial, PTP: ptp, Status: st.String(), status: st}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	gm := &Host{Role: "Grandmaster", role: pmc.RoleGrandmaster}
	slave := &Host{Role: "Slave", role: pmc.RoleSlave}
	listening := &Host{Role: "Listening", role: pmc.RoleListening}
	na := CameraStatus{Serial: "05520128", PTP: "N/A", Status: "Unknown"}
	for _, tc := range []struct {
		name      string
		host      *Host
		cams      []CameraStatus
		converged bool
		masters   []string
		problem   string
		hint      string
	}{
		{"host GM, all slaves", gm, []CameraStatus{cam("1", "Enabled", genicam.PTPSlave), cam("2", "Enabled", genicam.PTPSlave)}, true, []string{"host"}, "", ""},
		{"noptp camera does not block", gm, []CameraStatus{cam("1", "Enabled", genicam.PTPSlave), na}, true, []string{"host"}, "", ""},
		{"camera in another domain", gm, []CameraStatus{cam("1", "Enabled", genicam.PTPSlave), cam("2", "Enabled", genicam.PTPMaster)}, false, []string{"host", "2"}, "several masters: host, 2", "same PTP domain"},
		{"host slave, camera master", slave, []CameraStatus{cam("1", "Enabled", genicam.PTPMaster), cam("2", "Enabled", genicam.PTPSlave)}, true, []string{"1"}, "", ""},
		{"no master", listening, []CameraStatus{cam("1", "Enabled", genicam.PTPListening)}, false, nil, "no master", "Start ptp4l"},
		{"stuck uncalibrated", gm, []CameraStatus{cam("1", "Enabled", genicam.PTPUncalibrated), cam("2", "Enabled", genicam.PTPSlave)}, false, []string{"host"}, "cameras Uncalibrated (not Slave): 1", "wait longer"},
		{"disabled", gm, []CameraStatus{cam("1", "Disabled", genicam.PTPDisabled)}, false, []string{"host"}, "cameras Disabled", "PTP turned off"},
		{"unreadable camera", gm, []CameraStatus{{Serial: "9", PTP: "Enabled", Error: "GVCP timeout"}}, false, []string{"host"}, "camera 9: GVCP timeout", ""},
		{"only noptp cameras", gm, []CameraStatus{na, na}, false, []string{"host"}, "no camera exposes PTP", "None of these cameras has PTP"},
		{"status-only camera slave", gm, []CameraStatus{cam("1", "StatusOnly", genicam.PTPSlave), na}, true, []string{"host"}, "", ""},
		{"status with no entry", gm, []CameraStatus{cam("1", "Enabled", genicam.PTPStatusValue(13))}, false, []string{"host"}, "cameras unknown(13) (not Slave): 1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(tc.host, tc.cams)
			if v.Converged != tc.converged {
				t.Errorf("converged = %v, want %v (%+v)", v.Converged, tc.converged, v)
			}
			if !slices.Equal(v.Masters, tc.masters) {
				t.Errorf("masters = %v, want %v", v.Masters, tc.masters)
			}
			if tc.problem != "" && !strings.Contains(strings.Join(v.Problems, "\n"), tc.problem) {
				t.Errorf("problems %q lack %q", v.Problems, tc.problem)
			}
			if tc.problem == "" && len(v.Problems) > 0 {
				t.Errorf("unexpected problems %q", v.Problems)
			}
			if tc.hint != "" && !strings.Contains(strings.Join(v.Hints, "\n"), tc.hint) {
				t.Errorf("hints %q lack %q", v.Hints, tc.hint)
			}
		})
	}
}

func TestStatistics(t *testing.T) {
	t.Parallel()
	m := func(serial string, d int64, ok bool) Measurement {
		return Measurement{Serial: serial, DeltaNs: d, OK: ok}
	}
	samples := [][]Measurement{
		{m("a", 100, true), m("b", -5_000_000, false)},
		{m("a", 300, true), {Serial: "b", Error: "timeout"}},
		{m("a", -200, true), m("b", -5_000_100, false)},
	}
	per, maxAbs := Statistics(samples)
	if len(per) != 2 {
		t.Fatalf("%d stats", len(per))
	}
	a, b := per[0], per[1]
	if a.Samples != 3 || math.Abs(a.MeanNs-200.0/3) > 1e-9 || !a.OK || a.MaxAbsNs != 300 {
		t.Errorf("a: %+v", a)
	}
	// sample stddev of 100, 300, -200: mean 66.67, sum sq 126666.7 / 2
	if want := math.Sqrt(((100-200.0/3)*(100-200.0/3) + (300-200.0/3)*(300-200.0/3) + (-200-200.0/3)*(-200-200.0/3)) / 2); math.Abs(a.StddevNs-want) > 1e-9 {
		t.Errorf("a stddev %v, want %v", a.StddevNs, want)
	}
	if b.Samples != 2 || b.Failed != 1 || b.OK || b.MaxAbsNs != 5_000_100 {
		t.Errorf("b: %+v", b)
	}
	if maxAbs != 5_000_100 {
		t.Errorf("max abs %d", maxAbs)
	}
}

// Measure judges |delta| ± uncertainty against the threshold after the
// correction, from each camera's narrowest bracket.
func TestMeasureVerdicts(t *testing.T) {
	t.Parallel()
	before := time.Unix(1_800_000_000, 0)
	// sample is a latch at off from the host with half bracket half.
	sample := func(serial string, off, half time.Duration) genicam.LatchSample {
		return genicam.LatchSample{Serial: serial, HostBefore: before, HostAfter: before.Add(2 * half),
			Device: before.Add(half + off).UnixNano()}
	}
	mk := func(serial string, off time.Duration, halves ...time.Duration) *latchFake {
		l := &latchFake{serial: serial}
		for _, h := range halves {
			l.s = append(l.s, sample(serial, off, h))
		}
		return l
	}
	const tai = 37 * time.Second
	us, ms := time.Microsecond, time.Millisecond
	wide := 6250 * us // the 12.5 ms latch seen on a loaded machine
	cams := []LatchCamera{
		mk("a", tai+ms, 20*us),
		mk("b", tai+5*ms, 20*us),
		&latchFake{serial: "c", err: true},
		// +5 ms read through a 12.5 ms bracket first: the next, narrow
		// latch decides.
		mk("d", tai+5*ms, wide, 30*us),
		// Never narrow: 5 ms ± 6.25 ms straddles 3 ms.
		mk("e", tai+5*ms, wide, wide, wide, wide, wide, wide),
		// In sync but ±4 ms: cannot be called in sync either.
		mk("f", tai, 4*ms, 4*ms, 4*ms, 4*ms, 4*ms),
	}
	got := Measure(t.Context(), cams, tai, 3*ms, genicam.LatchPolicy{})
	for i, want := range []struct {
		verdict        string
		delta, unc     int64
		latches, calls int
	}{
		{"OK", 1_000_000, 20_000, 1, 1},
		{"NG", 5_000_000, 20_000, 1, 1},
		{"ERROR", 0, 0, 1, 1},
		{"NG", 5_000_000, 30_000, 2, 2},
		{"UNCERTAIN", 5_000_000, 6_250_000, 5, 5},
		{"UNCERTAIN", 0, 4_000_000, 5, 5},
	} {
		m, l := got[i], cams[i].(*latchFake)
		if m.Verdict() != want.verdict || m.Latches != want.latches || l.calls != want.calls {
			t.Errorf("%s: %s after %d latches (%d calls), want %s after %d: %+v", m.Serial, m.Verdict(), m.Latches, l.calls, want.verdict, want.latches, m)
		}
		if m.Error == "" && (m.DeltaNs != want.delta || m.UncertaintyNs != want.unc) {
			t.Errorf("%s: delta %d ± %d, want %d ± %d", m.Serial, m.DeltaNs, m.UncertaintyNs, want.delta, want.unc)
		}
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		delta, unc int64
		want       string
	}{
		{2_900_000, 100_000, "OK"}, // at the bound
		{2_900_001, 100_000, "UNCERTAIN"},
		{-2_900_001, 100_000, "UNCERTAIN"},
		{3_100_000, 100_000, "UNCERTAIN"}, // its lower bound touches it
		{3_100_001, 100_000, "NG"},
		{-3_100_001, 100_000, "NG"},
		{1_800_000, 6_300_000, "UNCERTAIN"}, // the loaded-machine latch
		{0, 0, "OK"},
	} {
		m := Measurement{DeltaNs: tc.delta, UncertaintyNs: tc.unc}
		m.Judge(3 * time.Millisecond)
		if m.Verdict() != tc.want {
			t.Errorf("%d ± %d vs 3 ms: %s, want %s", tc.delta, tc.unc, m.Verdict(), tc.want)
		}
	}
}

// latchFake returns its samples in turn, the last one again when they run
// out.
type latchFake struct {
	serial string
	s      []genicam.LatchSample
	err    bool
	calls  int
}

func (l *latchFake) Info() genicam.DeviceInfo { return genicam.DeviceInfo{Serial: l.serial} }
func (l *latchFake) Latch(ctx context.Context) (genicam.LatchSample, error) {
	l.calls++
	if l.err {
		return genicam.LatchSample{}, errors.New("GVCP timeout")
	}
	return l.s[min(l.calls, len(l.s))-1], nil
}

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

// Measure judges |delta| against the threshold after the correction.
func TestMeasureVerdicts(t *testing.T) {
	before := time.Unix(1_800_000_000, 0)
	mk := func(serial string, off time.Duration) *latchFake {
		return &latchFake{serial: serial, s: genicam.LatchSample{Serial: serial, HostBefore: before, HostAfter: before.Add(40 * time.Microsecond),
			Device: before.Add(20*time.Microsecond + off).UnixNano()}}
	}
	cams := []LatchCamera{mk("a", 37*time.Second+time.Millisecond), mk("b", 37*time.Second+5*time.Millisecond), &latchFake{serial: "c", err: true}}
	ms := Measure(t.Context(), cams, 37*time.Second, 3*time.Millisecond)
	if !ms[0].OK || ms[0].DeltaNs != 1_000_000 || ms[0].UncertaintyNs != 20_000 {
		t.Errorf("a: %+v", ms[0])
	}
	if ms[1].OK || ms[1].DeltaNs != 5_000_000 {
		t.Errorf("b: %+v", ms[1])
	}
	if ms[2].Error == "" || ms[2].OK {
		t.Errorf("c: %+v", ms[2])
	}
}

type latchFake struct {
	serial string
	s      genicam.LatchSample
	err    bool
}

func (l *latchFake) Info() genicam.DeviceInfo { return genicam.DeviceInfo{Serial: l.serial} }
func (l *latchFake) Latch(ctx context.Context) (genicam.LatchSample, error) {
	if l.err {
		return genicam.LatchSample{}, errors.New("GVCP timeout")
	}
	return l.s, nil
}

package collector

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/ptpcam/ptpcam/pmc"
)

type stubRef struct {
	ref Reference
	err error
}

func (f stubRef) Reference(context.Context) (Reference, error) { return f.ref, f.err }

type fixedPorts struct {
	ports []pmc.PortPropertiesNP
	err   error
}

func (f fixedPorts) PortPropertiesNP(context.Context, int) ([]pmc.PortPropertiesNP, error) {
	return f.ports, f.err
}

// clockPHC is a PHC on an injected clock: it runs offset ahead of the
// system clock, read within a bracket of 2×half.
type clockPHC struct {
	offset, half time.Duration
	err          error
	reads        int
}

func (c *clockPHC) Offset() (time.Duration, time.Duration, error) {
	c.reads++
	if c.err != nil {
		return 0, 0, c.err
	}
	sys := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// A wide sample first: the narrowest bracket must win.
	off, unc, _ := bestOffset([][3]time.Time{
		{sys, sys.Add(c.offset + 3*c.half), sys.Add(10 * c.half)},
		{sys, sys.Add(c.offset + c.half), sys.Add(2 * c.half)},
	})
	return off, unc, nil
}

func (c *clockPHC) Close() error { return nil }

func hwPort(ts uint8) []pmc.PortPropertiesNP {
	return []pmc.PortPropertiesNP{{PortIdentity: pmc.PortIdentity{PortNumber: 1}, PortState: pmc.PortStateMaster, Timestamping: ts, Interface: "enp1s0"}}
}

// The decision: software timestamping trusts ptp4l's own verdict; with
// hardware timestamping the PHC must agree with CLOCK_REALTIME, TAI-UTC
// included on a TAI domain, within the 1 ms threshold.
func TestPHCReferenceJudges(t *testing.T) {
	tai := Reference{Valid: true, PTPTimescale: true, UTCOffset: 37}
	arb := Reference{Valid: true}
	for _, tc := range []struct {
		name    string
		ref     Reference
		ports   fixedPorts
		phc     *clockPHC
		openErr error
		valid   bool
		reason  string
		disagr  float64 // seconds, when measured
	}{
		{"software", tai, fixedPorts{ports: hwPort(0)}, nil, nil, true, refSoftware, 0},
		{"software, host not synchronized", Reference{}, fixedPorts{ports: hwPort(0)}, nil, nil, false, refNotSynced, 0},
		{"hardware, phc2sys on TAI", tai, fixedPorts{ports: hwPort(1)}, &clockPHC{offset: 37*time.Second + 200*time.Microsecond, half: 10 * time.Microsecond}, nil, true, refPHCAgrees, 200e-6},
		{"hardware, no phc2sys: system clock 37 s off", tai, fixedPorts{ports: hwPort(1)}, &clockPHC{offset: 0, half: 10 * time.Microsecond}, nil, false, refPHCDisagrees, -37},
		{"hardware, 2 ms apart on arb", arb, fixedPorts{ports: hwPort(1)}, &clockPHC{offset: 2 * time.Millisecond, half: 5 * time.Microsecond}, nil, false, refPHCDisagrees, 0.002},
		{"onestep, 0.5 ms apart on arb", arb, fixedPorts{ports: hwPort(3)}, &clockPHC{offset: -500 * time.Microsecond, half: 5 * time.Microsecond}, nil, true, refPHCAgrees, -0.0005},
		{"hardware, agrees but ptp4l not synchronized", Reference{PTPTimescale: true, UTCOffset: 37}, fixedPorts{ports: hwPort(1)}, &clockPHC{offset: 37 * time.Second, half: time.Microsecond}, nil, false, refNotSynced, 0},
		{"hardware, PHC read fails", tai, fixedPorts{ports: hwPort(1)}, &clockPHC{err: errors.New("EOPNOTSUPP")}, nil, false, refPHCUnreadable, 0},
		{"hardware, no PHC", tai, fixedPorts{ports: hwPort(1)}, nil, errors.New("enp1s0 has no PTP hardware clock"), false, refPHCUnreadable, 0},
		{"ports unreadable", tai, fixedPorts{err: errors.New("timeout")}, nil, nil, false, refPortsUnknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opens := 0
			open := func(iface string) (PHC, int, error) {
				opens++
				if iface != "enp1s0" {
					t.Errorf("opened the PHC of %q", iface)
				}
				if tc.openErr != nil {
					return nil, -1, tc.openErr
				}
				return tc.phc, 2, nil
			}
			r, err := NewPHCReference(slog.New(slog.DiscardHandler), stubRef{ref: tc.ref}, tc.ports, open, time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				got, err := r.Reference(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if got.Valid != tc.valid || got.UTCOffset != tc.ref.UTCOffset {
					t.Errorf("Valid = %v (utc offset %d), want %v", got.Valid, got.UTCOffset, tc.valid)
				}
			}
			if tc.phc != nil && tc.phc.err == nil && opens != 1 {
				t.Errorf("PHC opened %d times over two checks, want once", opens)
			}
			if got := testutil.ToFloat64(metricOf(r.Update, "ptpcam_host_reference_valid")); got != boolf(tc.valid) {
				t.Errorf("ptpcam_host_reference_valid = %v", got)
			}
			body, err := testutil.CollectAndFormat(only{update: r.Update}, expfmt.TypeTextPlain, "ptpcam_host_reference_valid", "ptpcam_host_phc_disagreement_seconds")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), `reason="`+tc.reason+`"`) {
				t.Errorf("want reason %s:\n%s", tc.reason, body)
			}
			measured := tc.phc != nil && tc.phc.err == nil && tc.openErr == nil
			if has := strings.Contains(string(body), "ptpcam_host_phc_disagreement_seconds{"); has != measured {
				t.Errorf("disagreement exported %v, measured %v:\n%s", has, measured, body)
			}
			if measured {
				got := testutil.ToFloat64(metricOf(r.Update, "ptpcam_host_phc_disagreement_seconds"))
				if d := got - tc.disagr; d > 1e-9 || d < -1e-9 {
					t.Errorf("disagreement %v s, want %v (the narrow sample's)", got, tc.disagr)
				}
			}
		})
	}
}

func TestPHCReferenceInnerError(t *testing.T) {
	want := errors.New("ptp4l down")
	r, _ := NewPHCReference(slog.New(slog.DiscardHandler), stubRef{err: want}, fixedPorts{}, nil, time.Millisecond)
	if _, err := r.Reference(t.Context()); !errors.Is(err, want) {
		t.Errorf("err = %v, want the inner reference's", err)
	}
	if _, err := NewPHCReference(slog.New(slog.DiscardHandler), stubRef{}, fixedPorts{}, nil, 0); err == nil {
		t.Error("threshold 0 accepted")
	}
}

// The real ioctl path on an interface without a PHC: a clear error.
func TestOpenPHCWithoutPHC(t *testing.T) {
	_, _, err := OpenPHC("lo")
	if err == nil || !strings.Contains(err.Error(), "lo") {
		t.Fatalf("OpenPHC(lo): %v, want an error naming lo", err)
	}
	t.Logf("OpenPHC(lo): %v", err)
	if _, _, err := OpenPHC("nosuchif0"); err == nil || !strings.Contains(err.Error(), "nosuchif0") {
		t.Errorf("OpenPHC(nosuchif0): %v", err)
	}
}

func TestBestOffset(t *testing.T) {
	t0 := time.Unix(1000, 0)
	off, unc, ok := bestOffset([][3]time.Time{
		{t0, t0.Add(5 * time.Second), t0.Add(-time.Microsecond)}, // stepped: skipped
		{t0, t0.Add(37*time.Second + 4*time.Microsecond), t0.Add(8 * time.Microsecond)},
	})
	if !ok || off != 37*time.Second || unc != 4*time.Microsecond {
		t.Errorf("bestOffset = %v ± %v (%v)", off, unc, ok)
	}
	if _, _, ok := bestOffset(nil); ok {
		t.Error("no samples gave an offset")
	}
}

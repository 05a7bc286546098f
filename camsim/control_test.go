package camsim_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

const taiMinusUTC = 37 * time.Second

// latchResidual latches the device clock through arv-tool and returns
// device − host − 37 s, with the host time taken halfway through the
// arv-tool run, and the run's duration (the residual's uncertainty).
func latchResidual(t *testing.T, ns *rig.Netns, addr string) (time.Duration, time.Duration) {
	t.Helper()
	before := time.Now()
	f := features(t, ns, addr, "TimestampLatch", "TimestampLatchValue")
	after := time.Now()
	v, err := strconv.ParseUint(f["TimestampLatchValue"], 10, 64)
	if err != nil {
		t.Fatalf("TimestampLatchValue %q: %v", f["TimestampLatchValue"], err)
	}
	mid := before.Add(after.Sub(before) / 2)
	return time.Duration(int64(v)-mid.UnixNano()) - taiMinusUTC, after.Sub(before)
}

func near(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if d := got - want; d < -tol || d > tol {
		t.Errorf("%s: %v, want %v ± %v", what, got, want, tol)
	}
}

// TestControlFaults exercises every fault of the control endpoint and
// observes each through Aravis (arv-tool-0.8, arv-camera-test-0.8) where the
// protocol shows it.
func TestControlFaults(t *testing.T) {
	ns := newNetns(t)
	cam := startCamsim(t, ns, "127.0.0.2", "05520125", "--ptp-enable")
	ctx := t.Context()
	set := func(k, v string) {
		t.Helper()
		if err := cam.Control.Set(ctx, k, v); err != nil {
			t.Fatalf("set %s=%s: %v", k, v, err)
		}
	}

	t.Run("offset", func(t *testing.T) {
		r, unc := latchResidual(t, ns, cam.Addr)
		near(t, "residual at start", r, 0, unc)
		set("offset", "10s")
		r, unc = latchResidual(t, ns, cam.Addr)
		near(t, "residual after offset=10s", r, 10*time.Second, unc)
	})
	t.Run("step", func(t *testing.T) {
		set("step", "-2.5s")
		r, unc := latchResidual(t, ns, cam.Addr)
		near(t, "residual after step=-2.5s", r, 7500*time.Millisecond, unc)
		set("offset", "0s")
	})
	t.Run("drift", func(t *testing.T) {
		set("drift-ppm", "100000") // 10 %: 100 ms per second, visible through arv-tool
		time.Sleep(2 * time.Second)
		r, unc := latchResidual(t, ns, cam.Addr)
		near(t, "residual after 2 s at +100000 ppm", r, 200*time.Millisecond, unc+50*time.Millisecond)
		set("drift-ppm", "0")
		set("offset", "0s") // clears the accumulated drift
		s, err := cam.Control.State(ctx)
		if err != nil || s.DriftPPM != 0 || s.DriftNS != 0 {
			t.Errorf("state after drift reset: %+v %v", s, err)
		}
	})
	t.Run("jitter", func(t *testing.T) {
		spread := func() (lo, hi time.Duration) {
			lo, hi = time.Hour, -time.Hour
			for i := 0; i < 30; i++ {
				s, err := cam.Control.State(ctx)
				if err != nil {
					t.Fatal(err)
				}
				r := time.Duration(int64(s.DeviceTime)-s.HostTimeNS) - taiMinusUTC
				lo, hi = min(lo, r), max(hi, r)
			}
			return lo, hi
		}
		lo, hi := spread()
		if hi-lo > 100*time.Microsecond {
			t.Errorf("without jitter device−host spreads %v", hi-lo)
		}
		set("jitter", "2ms")
		lo, hi = spread()
		if hi-lo < 500*time.Microsecond || lo < -2100*time.Microsecond || hi > 2100*time.Microsecond {
			t.Errorf("jitter=2ms: device−host in [%v, %v]", lo, hi)
		}
		set("jitter", "0s")
	})
	t.Run("ptp-status", func(t *testing.T) {
		waitFeature(t, ns, cam.Addr, "PtpStatus", "Master", 15*time.Second) // nobody else there
		set("ptp-status", "Faulty")
		if f := features(t, ns, cam.Addr, "PtpStatus"); f["PtpStatus"] != "Faulty" {
			t.Errorf("forced Faulty, Aravis reads %q", f["PtpStatus"])
		}
		set("ptp-status", "slave")
		if f := features(t, ns, cam.Addr, "PtpStatus"); f["PtpStatus"] != "Slave" {
			t.Errorf("forced Slave, Aravis reads %q", f["PtpStatus"])
		}
		set("ptp-status", "auto")
		if f := features(t, ns, cam.Addr, "PtpStatus"); f["PtpStatus"] != "Master" {
			t.Errorf("released, Aravis reads %q", f["PtpStatus"])
		}
		if err := cam.Control.Set(ctx, "ptp-status", "Sleeping"); err == nil || !strings.Contains(err.Error(), "Sleeping") {
			t.Errorf("bad status accepted: %v", err)
		}
	})
	t.Run("ptp-domain", func(t *testing.T) {
		set("ptp-domain", "7")
		if f := features(t, ns, cam.Addr, "PtpStatus"); f["PtpStatus"] != "Listening" {
			t.Errorf("after a domain change PtpStatus %q, want Listening", f["PtpStatus"])
		}
		if s, err := cam.Control.State(ctx); err != nil || s.PTPDomain != 7 {
			t.Errorf("ptp_domain %d (%v)", s.PTPDomain, err)
		}
	})
	t.Run("drop-percent", func(t *testing.T) {
		testenv.RequireTool(t, "arv-camera-test-0.8")
		set("drop-percent", "5")
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		out, err := ns.Command(cctx, "arv-camera-test-0.8", "-a", "-n", "ptpcam-camsim-05520125", "--duration", "3", "-f", "20").CombinedOutput()
		if err != nil {
			t.Fatalf("arv-camera-test-0.8: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`(?m)^n_resend_requests\s+=\s+(\d+)`).FindSubmatch(out)
		if m == nil || string(m[1]) == "0" {
			t.Errorf("drop-percent=5: Aravis made no resend request:\n%s", out)
		}
		s, err := cam.Control.State(ctx)
		if err != nil || s.PacketsDropped == 0 || s.PacketsResent == 0 {
			t.Errorf("packets_dropped %d packets_resent %d (%v)", s.PacketsDropped, s.PacketsResent, err)
		}
		set("drop-percent", "0")
	})
	t.Run("unplugged", func(t *testing.T) {
		set("unplugged", "true")
		if out := arv(t, ns); strings.Contains(out, "05520125") {
			t.Errorf("unplugged camera discovered:\n%s", out)
		}
		if out := arv(t, ns, "-a", cam.Addr, "control", "DeviceSerialNumber"); !strings.Contains(out, "Can't connect") {
			t.Errorf("unplugged camera answered:\n%s", out)
		}
		set("unplugged", "false")
		if out := arv(t, ns); !strings.Contains(out, "05520125") {
			t.Errorf("replugged camera not discovered:\n%s", out)
		}
	})
	t.Run("exit", func(t *testing.T) {
		set("exit", "1")
		select {
		case <-cam.done:
		case <-time.After(5 * time.Second):
			t.Fatal("camsim did not exit")
		}
		if ps := cam.cmd.ProcessState; ps == nil || !ps.Success() {
			t.Errorf("exit status %v, want 0", ps)
		}
	})
}

// TestControlEndpointRefusesNonLoopback checks the endpoint's address rules.
func TestControlEndpointRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9999", "10.1.2.3:9999", "[::]:9999", "nonsense"} {
		err := camsim.Run(t.Context(), camsim.Config{Address: mustAddr("127.0.0.1"), Profile: camsim.ProfileNoPTP,
			GVCPPort: freeUDPPort(t), ControlAddress: addr}, nil)
		if err == nil || !strings.Contains(err.Error(), "control endpoint") {
			t.Errorf("control address %q: %v, want a refusal", addr, err)
		}
	}
	// TCP on loopback works and speaks the same protocol.
	port := freeUDPPort(t) // free as TCP too in practice; the test fails loudly otherwise
	_, tc := startInProcess(t, func(c *camsim.Config) { c.ControlAddress = "127.0.0.1:" + strconv.Itoa(port) })
	if err := tc.Set(t.Context(), "offset", "1s"); err != nil {
		t.Fatal(err)
	}
	s, err := tc.State(t.Context())
	if err != nil || s.OffsetNS != int64(time.Second) {
		t.Fatalf("state over TCP: offset %d (%v)", s.OffsetNS, err)
	}
	if err := tc.Set(t.Context(), "bogus", "1"); err == nil || !strings.Contains(err.Error(), "unknown control") {
		t.Errorf("unknown key: %v", err)
	}
	if err := tc.Set(t.Context(), "offset", "ten"); err == nil || !strings.Contains(err.Error(), "offset") {
		t.Errorf("bad duration: %v", err)
	}
}

package camsim_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// camsimBinary is cmd/camsim, built once per test run (testenv.Build).
func camsimBinary(t testing.TB) string {
	t.Helper()
	return filepath.Join(testenv.Build(t, "camsim"), "camsim")
}

func TestMain(m *testing.M) { testenv.Main(m) }

// newNetns creates a namespace for the test with lo up and multicast on lo
// (for ptp4l and camsim on 127.0.0.x).
func newNetns(t *testing.T) *rig.Netns {
	t.Helper()
	testenv.RequireTool(t, "arv-tool-0.8")
	ns := testenv.Netns(t, "camsim")
	if err := ns.IP(t.Context(), "link", "set", "lo", "multicast", "on"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// simCamera is a camsim process in a namespace.
type simCamera struct {
	Addr    string
	Serial  string
	Control *camsim.ControlClient
	cmd     *exec.Cmd
	out     *testenv.LockedBuffer
	done    chan struct{}
}

// startCamsim starts the camsim binary in ns and waits for its control endpoint.
func startCamsim(t *testing.T, ns *rig.Netns, addr, serial string, args ...string) *simCamera {
	t.Helper()
	sock := filepath.Join(t.TempDir(), serial+".sock")
	all := []string{"--serial", serial, "--control-address", "unix:" + sock,
		"--announce-timeout", "3s", "--settle", "1s"}
	if addr != "" {
		all = append(all, "--address", addr)
	}
	all = append(all, args...)
	c := &simCamera{Addr: addr, Serial: serial, Control: camsim.DialControl("unix:" + sock), out: &testenv.LockedBuffer{}, done: make(chan struct{})}
	c.cmd = ns.Command(context.Background(), camsimBinary(t), all...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		rig.StopProcess(c.cmd.Process, c.done, os.Interrupt, 5*time.Second)
		if t.Failed() {
			t.Logf("camsim %s log:\n%s", serial, c.out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Control.State(t.Context()); err == nil {
			return c
		} else if time.Now().After(deadline) {
			t.Fatalf("camsim %s did not come up: %v\n%s", serial, err, c.out.String())
		}
		select {
		case <-c.done:
			t.Fatalf("camsim %s exited: %s", serial, c.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// arv runs arv-tool-0.8 in ns and returns its output.
func arv(t *testing.T, ns *rig.Netns, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := ns.Command(ctx, "arv-tool-0.8", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("arv-tool-0.8 %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// features reads features of the camera at addr with arv-tool; a missing
// feature maps to "<not found>".
func features(t *testing.T, ns *rig.Netns, addr string, names ...string) map[string]string {
	t.Helper()
	out := arv(t, ns, append([]string{"-a", addr, "control"}, names...)...)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			// "Width = 640 min:16 max:4096": keep the value.
			v, _, _ = strings.Cut(v, " min:")
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		} else if strings.HasPrefix(line, "Feature '") && strings.HasSuffix(line, "' not found") {
			m[strings.TrimSuffix(strings.TrimPrefix(line, "Feature '"), "' not found")] = "<not found>"
		} else if name, ok := strings.CutSuffix(line, " executed"); ok {
			m[name] = "<executed>"
		}
	}
	if len(m) == 0 {
		t.Fatalf("arv-tool control %v on %s: no feature in output:\n%s", names, addr, out)
	}
	return m
}

func waitFeature(t *testing.T, ns *rig.Netns, addr, name, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for time.Now().Before(deadline) {
		got = features(t, ns, addr, name)[name]
		if got == want {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s on %s: %q after %v, want %q", name, addr, got, within, want)
}

// TestAravisDiscoveryAndProfiles: three cameras with the three profiles in
// one namespace; arv-tool-0.8 discovers all of them by broadcast and sees
// each profile's node set.
func TestAravisDiscoveryAndProfiles(t *testing.T) {
	ns := newNetns(t)
	startCamsim(t, ns, "127.0.0.2", "05520125", "--profile", "sfnc")
	startCamsim(t, ns, "127.0.0.3", "05520126", "--profile", "gev")
	startCamsim(t, ns, "127.0.0.4", "05520127", "--profile", "noptp")

	list := arv(t, ns)
	for _, want := range []string{"ptpcam-camsim-05520125 (127.0.0.2)", "ptpcam-camsim-05520126 (127.0.0.3)", "ptpcam-camsim-05520127 (127.0.0.4)"} {
		if !strings.Contains(list, want) {
			t.Errorf("arv-tool-0.8 list lacks %q:\n%s", want, list)
		}
	}

	names := []string{"DeviceSerialNumber", "DeviceVendorName", "PtpEnable", "PtpStatus", "TimestampLatchValue",
		"GevIEEE1588", "GevIEEE1588Status", "GevTimestampValue", "ActionSchedulerInterval", "GevTimestampTickFrequency"}
	for _, tc := range []struct {
		addr, serial string
		present      []string
		absent       []string
	}{
		{"127.0.0.2", "05520125", []string{"PtpEnable", "PtpStatus", "TimestampLatchValue"}, []string{"GevIEEE1588", "GevIEEE1588Status", "GevTimestampValue"}},
		{"127.0.0.3", "05520126", []string{"GevIEEE1588", "GevIEEE1588Status", "GevTimestampValue"}, []string{"PtpEnable", "PtpStatus", "TimestampLatchValue"}},
		{"127.0.0.4", "05520127", nil, []string{"PtpEnable", "PtpStatus", "TimestampLatchValue", "GevIEEE1588", "GevIEEE1588Status", "GevTimestampValue"}},
	} {
		t.Run(tc.serial, func(t *testing.T) {
			f := features(t, ns, tc.addr, names...)
			if f["DeviceSerialNumber"] != tc.serial || f["DeviceVendorName"] != "ptpcam" {
				t.Errorf("serial %q vendor %q", f["DeviceSerialNumber"], f["DeviceVendorName"])
			}
			if f["GevTimestampTickFrequency"] != "1000000000" || f["ActionSchedulerInterval"] == "<not found>" {
				t.Errorf("tick frequency %q, ActionSchedulerInterval %q", f["GevTimestampTickFrequency"], f["ActionSchedulerInterval"])
			}
			for _, n := range tc.present {
				if v, ok := f[n]; !ok || v == "<not found>" {
					t.Errorf("%s missing (%q)", n, v)
				}
			}
			for _, n := range tc.absent {
				if f[n] != "<not found>" {
					t.Errorf("%s = %q, want not found", n, f[n])
				}
			}
		})
	}

	// Writes through Aravis land in the device.
	f := features(t, ns, "127.0.0.2", "Width=800", "PixelFormat=Mono8", "TriggerMode=On", "TriggerSource=Action0",
		"ActionDeviceKey=4660", "AcquisitionFrameRate=25", "Width", "PixelFormat", "PayloadSize", "TriggerSource", "AcquisitionFrameRate", "ActionDeviceKey")
	if f["Width"] != "800" || f["PixelFormat"] != "Mono8" || f["PayloadSize"] != "384000" || f["TriggerSource"] != "Action0" ||
		f["AcquisitionFrameRate"] != "25 Hz" || f["ActionDeviceKey"] != "4660" {
		t.Errorf("after writes: %v", f)
	}
	if out := arv(t, ns, "-a", "127.0.0.2", "control", "TriggerSource=Bogus"); !strings.Contains(out, "not an entry") {
		t.Errorf("bogus enum value: %s", out)
	}
}

// TestAravisCameraTest streams with arv-camera-test-0.8 for a few seconds and
// checks its statistics.
func TestAravisCameraTest(t *testing.T) {
	ns := newNetns(t)
	testenv.RequireTool(t, "arv-camera-test-0.8")
	cam := startCamsim(t, ns, "127.0.0.2", "05520125", "--width", "640", "--height", "480")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := ns.Command(ctx, "arv-camera-test-0.8", "-n", "ptpcam-camsim-05520125", "--duration", "3", "-f", "25").CombinedOutput()
	if err != nil {
		t.Fatalf("arv-camera-test-0.8: %v\n%s", err, out)
	}
	stats := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^(n_\w+)\s+=\s+(\d+)`).FindAllStringSubmatch(string(out), -1) {
		stats[m[1]], _ = strconv.Atoi(m[2])
	}
	if stats["n_completed_buffers"] < 25 || stats["n_failures"] != 0 || stats["n_missing_frames"] != 0 ||
		stats["n_missing_packets"] != 0 || stats["n_error_packets"] != 0 {
		t.Errorf("arv-camera-test statistics %v\n%s", stats, out)
	}
	s, err := cam.Control.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.FramesSent < uint64(stats["n_completed_buffers"]) || s.Acquiring {
		t.Errorf("camsim frames_sent %d (Aravis completed %d), acquiring %v after the test", s.FramesSent, stats["n_completed_buffers"], s.Acquiring)
	}
}

// TestAravisOverVeth: the rig's layout in small: camsim alone in a camera
// namespace on a veth (--interface), Aravis and ptp4l in a host namespace.
// Discovery crosses by broadcast, streaming and PTP work, and the gev
// profile's latch reads the device clock.
func TestAravisOverVeth(t *testing.T) {
	host := newNetns(t)
	camNS, err := rig.NewNetns(t.Context(), rig.UniqueName("camsimc"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { camNS.Close() })
	if err := rig.VethPair(t.Context(), host, "vh0", "10.88.0.1/24", camNS, "vc0", "10.88.0.2/24"); err != nil {
		t.Fatal(err)
	}
	p, err := rig.StartPTP4L(t.Context(), host, rig.PTP4LConfig{Interface: "vh0", Dir: t.TempDir(), Domain: 0})
	if err != nil {
		testenv.Skip(t, "ptp4l on a veth: %v", err)
	}
	t.Cleanup(p.Stop)
	cam := startCamsim(t, camNS, "", "05520130", "--interface", "vc0", "--profile", "gev", "--ptp-enable")
	if s, err := cam.Control.State(t.Context()); err != nil || s.Address != "10.88.0.2" {
		t.Fatalf("address from --interface: %q (%v)", s.Address, err)
	}
	if list := arv(t, host); !strings.Contains(list, "ptpcam-camsim-05520130 (10.88.0.2)") {
		t.Fatalf("not discovered over the veth:\n%s", list)
	}
	before := time.Now()
	f := features(t, host, "10.88.0.2", "GevTimestampControlLatch", "GevTimestampValue")
	after := time.Now()
	v, err := strconv.ParseUint(f["GevTimestampValue"], 10, 64)
	lo, hi := uint64(before.Add(37*time.Second).UnixNano()), uint64(after.Add(37*time.Second).UnixNano())
	if err != nil || v < lo || v > hi {
		t.Errorf("GevTimestampValue %q, want TAI within [%d, %d]", f["GevTimestampValue"], lo, hi)
	}
	waitFeature(t, host, "10.88.0.2", "GevIEEE1588Status", "Slave", 30*time.Second)
}

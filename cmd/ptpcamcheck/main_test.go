package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/internal/camsimtest"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Bad input is refused before anything is touched, naming the input.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--serials", "05520125,,05520126", "timestamps"}, `--serials "05520125,,05520126": empty serial`},
		{[]string{"--serials", "05520125,05520125", "timestamps"}, "camera serial 05520125 given twice"},
		{[]string{"--camera.serial", "05520125", "--serials", "05520125", "timestamps"}, "camera serial 05520125 given twice"},
		{[]string{"--camera.serial", "0552 0125", "sync"}, `camera serial "0552 0125": contains a space`},
		{[]string{"--camera.max", "0", "sync"}, "--camera.max 0: must be >= 1"},
		{[]string{"--max", "0", "sync"}, "--camera.max 0: must be >= 1"},
		{[]string{"--max", "2", "--camera.max", "3", "sync"}, "--camera.max and --max: give one of them"},
		{[]string{"--camera.interface", "ptp0", "--iface", "ptp1", "sync"}, `--camera.interface "ptp0" and --iface "ptp1": give one of them`},
		{[]string{"--log.level", "loud", "sync"}, "loud"},
		{[]string{"--log.format", "xml", "sync"}, "xml"},
		{[]string{"timestamps", "--threshold-ns=-5"}, "--threshold-ns -5: must be >= 0"},
		{[]string{"timestamps", "--threshold=-1ms"}, "--threshold -1ms: must be >= 0"},
		{[]string{"timestamps", "--threshold", "3"}, "3"},
		{[]string{"timestamps", "--threshold", "1ms", "--threshold-ns", "5"}, "--threshold and --threshold-ns: give one of them"},
		{[]string{"timestamps", "--interval-ms=-5"}, "--interval-ms -5: must be >= 0"},
		{[]string{"timestamps", "--interval=-1s"}, "--interval -1s: must be >= 0"},
		{[]string{"timestamps", "--timeout-s", "0"}, "--timeout-s 0: must be > 0"},
		{[]string{"timestamps", "--timeout", "0s"}, "--timeout 0s: must be > 0"},
		{[]string{"timestamps", "--timeout", "1m", "--timeout-s", "60"}, "--timeout and --timeout-s: give one of them"},
		{[]string{"timestamps", "--samples", "0"}, "--samples 0"},
		{[]string{"timestamps", "--samples", "many"}, "many"},
		{[]string{"sync", "--timeout", "0s"}, "--timeout"},
		{[]string{"--output", "xml", "sync"}, "xml"},
		{[]string{"frobnicate"}, "frobnicate"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != exitFatal {
			t.Errorf("%v: exit %d, want %d", tc.args, code, exitFatal)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errb.String(), tc.want)
		}
	}
}

// The original scripts' spellings mean what the new flags mean.
func TestFlagAliases(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (genicam.Selection, tsOptions, time.Duration) {
		t.Helper()
		var c common
		app := newApp(&c)
		ts := newTSFlags(app.Command("timestamps", ""))
		if _, err := app.Parse(append([]string{"timestamps"}, args...)); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		sel, err := c.selection()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		o, to, err := ts.options()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return sel, o, to
	}
	newSel, newOpt, newTO := parse("--camera.serial", "a", "--camera.serial", "b", "--camera.interface", "ptp0", "--camera.max", "3",
		"--threshold", "2.5ms", "--interval", "250ms", "--timeout", "90s")
	oldSel, oldOpt, oldTO := parse("--serials", "a, b", "--iface", "ptp0", "--max", "3",
		"--threshold-ns", "2500000", "--interval-ms", "250", "--timeout-s", "90")
	want := genicam.Selection{Interface: "ptp0", Serials: []string{"a", "b"}, Max: 3}
	for _, sel := range []genicam.Selection{newSel, oldSel} {
		if sel.Interface != want.Interface || !slices.Equal(sel.Serials, want.Serials) || sel.Max != want.Max {
			t.Errorf("selection %+v, want %+v", sel, want)
		}
	}
	for _, o := range []struct {
		opt tsOptions
		to  time.Duration
	}{{newOpt, newTO}, {oldOpt, oldTO}} {
		if o.opt.threshold != 2500*time.Microsecond || o.opt.interval != 250*time.Millisecond || o.to != 90*time.Second {
			t.Errorf("threshold %v, interval %v, timeout %v; want 2.5ms, 250ms, 1m30s", o.opt.threshold, o.opt.interval, o.to)
		}
	}
	defSel, defOpt, defTO := parse()
	if defSel.Max != 8 || len(defSel.Serials) != 0 || defOpt.threshold != 3*time.Millisecond || defOpt.interval != 0 || defTO != time.Minute {
		t.Errorf("defaults: %+v, %+v, timeout %v", defSel, defOpt, defTO)
	}
}

// checkRig is a rig of four sfnc cameras (the original serials) and one
// without PTP, with the binary built.
type checkRig struct {
	r   *rig.Rig
	bin string
}

func newCheckRig(t *testing.T) *checkRig {
	t.Helper()
	testenv.RequireTool(t, "ptp4l")
	cams := append(rig.DefaultCameras(4, 0), rig.Camera{Serial: "05520130", Profile: "noptp"})
	r := testenv.UpRig(t, rig.Config{Cameras: cams})
	return &checkRig{r: r, bin: filepath.Join(testenv.Build(t, "ptpcamcheck", "camsim"), "ptpcamcheck")}
}

// check runs ptpcamcheck in the rig's host namespace.
func (c *checkRig) check(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := c.r.Host().Command(ctx, c.bin, append([]string{"--ptp.socket", c.r.Socket}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ptpcamcheck %v: %v", args, err)
	}
	t.Logf("ptpcamcheck %s → exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
	return o.String(), e.String(), code
}

func (c *checkRig) ctl(t *testing.T, serial, key, value string) {
	t.Helper()
	cam, err := c.r.Camera(serial)
	if err != nil {
		t.Fatal(err)
	}
	if err := camsim.DialControl(cam.Control).Set(t.Context(), key, value); err != nil {
		t.Fatal(err)
	}
}

func (c *checkRig) waitStatus(t *testing.T, serial, status string) {
	t.Helper()
	cam, _ := c.r.Camera(serial)
	cl := camsim.DialControl(cam.Control)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := cl.State(t.Context())
		if err == nil && st.PTPStatus == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera %s: PTP status %q, want %q (%v)", serial, st.PTPStatus, status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var lineRE = regexp.MustCompile(`serial=(\d+), camera_time_ns=(\d+), delta_to_gm_ms=(-?[\d.]+), uncertainty_ms=([\d.]+), verdict=(OK|NG|UNCERTAIN)`)

type tsLine struct {
	delta, unc float64 // ms
	verdict    string
}

func parseTimestamps(t *testing.T, out string) map[string][]tsLine {
	t.Helper()
	res := map[string][]tsLine{}
	for _, m := range lineRE.FindAllStringSubmatch(out, -1) {
		d, _ := strconv.ParseFloat(m[3], 64)
		u, _ := strconv.ParseFloat(m[4], 64)
		res[m[1]] = append(res[m[1]], tsLine{d, u, m[5]})
	}
	return res
}

func TestRig(t *testing.T) {
	c := newCheckRig(t)
	sfnc := []string{"05520125", "05520126", "05520128", "05520129"}

	t.Run("sync healthy", func(t *testing.T) {
		out, _, code := c.check(t, "sync")
		if code != exitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		for i, s := range sfnc {
			if want := fmt.Sprintf("[%d] %s: PTP=Enabled, Status=Slave", i, s); !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		for _, want := range []string{"[4] 05520130: PTP=N/A, Status=Unknown", "Role=Grandmaster, stepsRemoved=0",
			"✅ PTP sync OK: Host=Grandmaster, Cameras: N/A x1, Slave x4", "=== Cameras ===", "(05520125) [ptp0] ptp=PtpEnable:bool",
			"action=scheduler trigger=Action0", "(05520130) [ptp0] ptp=none status=none latch=none"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})

	// No camera with PTP: a verdict that says so and exit 2, at once.
	t.Run("sync no PTP camera", func(t *testing.T) {
		out, _, code := c.check(t, "--serials", "05520130", "sync", "--timeout", "20s")
		if code != exitBad {
			t.Fatalf("exit %d, want 2", code)
		}
		for _, want := range []string{"[0] 05520130: PTP=N/A", "❌ No camera exposes PTP: nothing is synchronized (Cameras: N/A x1)"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if strings.Contains(out, "Cameras=Slave") || strings.Contains(out, "PTP sync OK") {
			t.Errorf("a rig without PTP cameras judged synchronized")
		}
		rep, jcode := syncJSON(t, c, "--serials", "05520130,05520125", "sync")
		if jcode != exitOK || rep.ExitCode != 0 || len(rep.Cameras) != 2 {
			t.Fatalf("mixed rig: exit %d, report %+v", jcode, rep)
		}
		for _, cam := range rep.Cameras {
			cp := cam.Capabilities
			switch {
			case cp == nil:
				t.Errorf("camera %s: no capabilities in the JSON", cam.Serial)
			case cam.Serial == "05520130" && (cam.PTP != "N/A" || cp.PTPForm != "none"):
				t.Errorf("noptp camera: PTP %s, capabilities %+v", cam.PTP, cp)
			case cam.Serial == "05520125" && (cp.PTPForm != "PtpEnable:bool" || cp.Action != genicam.ActionScheduler || cp.ActionTrigger != "Action0"):
				t.Errorf("sfnc camera: capabilities %+v", cp)
			}
		}
	})

	t.Run("timestamps healthy", func(t *testing.T) {
		out, _, code := c.check(t, "--serials", strings.Join(sfnc, ","), "timestamps", "--samples", "3")
		if code != exitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		got := parseTimestamps(t, out)
		for _, s := range sfnc {
			if len(got[s]) != 3 {
				t.Fatalf("camera %s: %d sample lines, want 3", s, len(got[s]))
			}
			for _, l := range got[s] {
				// camsim's clock is the host's: |delta| within its bracket + 100 µs.
				if abs := max(l.delta, -l.delta); abs > l.unc+0.1 || l.verdict != "OK" {
					t.Errorf("camera %s: delta %.6f ms, uncertainty %.6f ms, %s", s, l.delta, l.unc, l.verdict)
				}
			}
		}
		if !strings.Contains(out, "=== Statistics ===") || !strings.Contains(out, "Max_abs_delta_ns=") {
			t.Errorf("no statistics section")
		}
	})

	t.Run("json", func(t *testing.T) {
		rep, code := timestampsJSON(t, c, []string{"05520125"})
		if code != 0 || rep.ExitCode != 0 || len(rep.Samples) != 1 || len(rep.Samples[0].Cameras) != 1 || !rep.Samples[0].Cameras[0].OK {
			t.Errorf("exit %d, report %+v", code, rep)
		}
	})

	t.Run("unknown serial", func(t *testing.T) {
		_, errOut, code := c.check(t, "--serials", "05520125,99999999", "timestamps")
		if code != exitFatal || !strings.Contains(errOut, "99999999 not found") || !strings.Contains(errOut, "05520125, 05520126, 05520128, 05520129, 05520130") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})

	// --iface (alias of --camera.interface) restricts discovery: the rig's
	// interface finds the cameras, another finds none.
	t.Run("interface", func(t *testing.T) {
		out, _, code := c.check(t, "--iface", c.r.HostInterface, "--camera.serial", "05520125", "timestamps", "--threshold", "3ms")
		if code != exitOK || !strings.Contains(out, "interface="+c.r.HostInterface+"\n") || len(parseTimestamps(t, out)["05520125"]) != 1 {
			t.Errorf("on %s: exit %d, output %q", c.r.HostInterface, code, out)
		}
		_, errOut, code := c.check(t, "--camera.interface", "lo", "sync")
		if code != exitFatal || !strings.Contains(errOut, "no camera found on lo") {
			t.Errorf("on lo: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("offset 5ms", func(t *testing.T) {
		c.ctl(t, "05520126", "offset", "5ms")
		defer c.ctl(t, "05520126", "offset", "0s")
		out, _, code := c.check(t, "--serials", strings.Join(sfnc, ","), "timestamps")
		if code != exitBad {
			t.Fatalf("exit %d, want 2", code)
		}
		got := parseTimestamps(t, out)
		for _, s := range sfnc {
			want := "OK"
			if s == "05520126" {
				want = "NG"
				if l := got[s][0]; l.delta < 5-l.unc-0.1 || l.delta > 5+l.unc+0.1 {
					t.Errorf("camera %s: delta %.6f ms ± %.6f, want 5 within its uncertainty + 0.1 ms", s, l.delta, l.unc)
				}
			}
			if len(got[s]) != 1 || got[s][0].verdict != want {
				t.Errorf("camera %s: %+v, want %s", s, got[s], want)
			}
		}
	})

	t.Run("camera in another domain", func(t *testing.T) {
		c.ctl(t, "05520128", "ptp-domain", "1")
		defer c.ctl(t, "05520128", "ptp-domain", "0")
		c.waitStatus(t, "05520128", "Master")
		out, _, code := c.check(t, "sync", "--timeout", "3s")
		if code != exitBad {
			t.Fatalf("exit %d, want 2", code)
		}
		for _, want := range []string{"several masters: host, 05520128", "[2] 05520128: PTP=Enabled, Status=Master", "same PTP domain"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})

	t.Run("ptp4l stopped", func(t *testing.T) {
		if err := c.r.StopPTP4L(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := c.r.StartPTP4L(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		for _, args := range [][]string{{"sync"}, {"timestamps"}} {
			_, errOut, code := c.check(t, args...)
			if code != exitFatal || !strings.Contains(errOut, "host PTP state") || !strings.Contains(errOut, c.r.Socket) {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
			}
		}
	})
}

// holdCamera starts arv-camera-test on the camera and waits until camsim
// shows it as the controller; it returns the holder and that address.
func holdCamera(t *testing.T, r *rig.Rig, serial string) (*testenv.Holder, string) {
	t.Helper()
	h := testenv.HoldCamera(t, r, serial, "-f", "2")
	addr := h.WaitControl(t, 30*time.Second, func() string { return camsimtest.State(t, r, serial).Controller })
	return h, addr
}

// TestHeldCamera: a camera another application controls makes ptpcamcheck
// fail with exit 1 naming that application (address, this host, process),
// after the default wait; a hold that ends within --camera.control-wait
// does not fail the check.
func TestHeldCamera(t *testing.T) {
	r := testenv.UpRig(t, rig.Config{Cameras: rig.DefaultCameras(2, 0)})
	c := &checkRig{r: r, bin: testenv.Build(t, "ptpcamcheck", "camsim") + "/ptpcamcheck"}
	const serial = "05520125"
	// sync enables PTP and waits until the host is grandmaster and the
	// cameras its slaves: only then do timestamps judge the deltas.
	if _, _, code := c.check(t, "sync"); code != exitOK {
		t.Fatalf("sync before the hold: exit %d", code)
	}
	h, addr := holdCamera(t, r, serial)
	wantErr := fmt.Sprintf("camera %s is controlled by another application at %s (this host: arv-camera-test-0.8 pid %d)",
		serial, addr, h.Pid())

	for _, args := range [][]string{
		{"--camera.serial", serial, "timestamps"},
		{"--camera.serial", serial, "--camera.control-wait", "0s", "sync", "--timeout", "5s"},
	} {
		_, errOut, code := c.check(t, args...)
		if code != exitFatal || !strings.Contains(errOut, wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", args, code, errOut, wantErr)
		}
		if strings.Contains(errOut, "access-denied") {
			t.Errorf("%v: stderr still gives Aravis' access-denied: %q", args, errOut)
		}
	}
	// The other camera is free: the check of it alone passes.
	if _, _, code := c.check(t, "--camera.serial", "05520126", "timestamps"); code != exitOK {
		t.Errorf("free camera: exit %d", code)
	}

	// A hold that ends while ptpcamcheck waits: refused first (camsim
	// counts it), then taken, and the check passes.
	denied := camsimtest.State(t, r, serial).AccessDenied
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, _, code := c.check(t, "--camera.serial", serial, "--camera.control-wait", "2m", "timestamps")
		done <- result{out, code}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for camsimtest.State(t, r, serial).AccessDenied == denied {
		select {
		case res := <-done:
			t.Fatalf("ptpcamcheck ended (exit %d) before being refused while held", res.code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("ptpcamcheck was never refused while the camera was held")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.Stop()
	res := <-done
	if res.code != exitOK || len(parseTimestamps(t, res.out)[serial]) != 1 {
		t.Errorf("after the hold ended: exit %d, output %q", res.code, res.out)
	}
}

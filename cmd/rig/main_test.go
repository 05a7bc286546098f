package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type rigCLI struct {
	bin, name, state string
}

func (r rigCLI) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--name", r.name, "--state-dir", r.state}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("rig %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// waitPTPStatus polls a camera's PtpStatus (arv-tool's "PtpStatus = X"
// line, read by get) until it is want, for at most 30 s.
func waitPTPStatus(t *testing.T, serial, want string, get func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := get()
		if strings.Contains(got, "PtpStatus = "+want) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("camera %s: %q, want PtpStatus = %s", serial, got, want)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// netnsNames lists the machine's network namespaces.
func netnsNames(t *testing.T) map[string]bool {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names[f[0]] = true
		}
	}
	return names
}

// The simulated rig as a user drives it: up, Aravis' own tools in the host
// namespace, camsim faults, down.
func TestRigCommand(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l", "arv-tool-0.8")
	dir := testenv.Build(t, "rig", "camsim")
	r := rigCLI{bin: filepath.Join(dir, "rig"), name: rig.UniqueName("rc"), state: t.TempDir()}
	t.Cleanup(func() { r.run(t, "down") })

	out, errOut, code := r.run(t, "up", "--cameras", "4", "--camera", "05520129:domain=1", "--camera", "05520130:profile=noptp")
	if code != 0 {
		t.Fatalf("rig up: exit %d: %s", code, errOut)
	}
	env := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	if env["CAMERAS"] != "05520125,05520126,05520128,05520129,05520130" || env["CAMERA_3_DOMAIN"] != "1" || env["CAMERA_4_PROFILE"] != "noptp" {
		t.Fatalf("rig up printed:\n%s", out)
	}
	if _, err := os.Stat(env["PTP_SOCKET"]); err != nil {
		t.Fatalf("PTP_SOCKET: %v", err)
	}

	// Aravis' own tool, in the rig's host namespace, lists every camera.
	out, errOut, code = r.run(t, "exec", "--", "arv-tool-0.8")
	for _, s := range strings.Split(env["CAMERAS"], ",") {
		if !strings.Contains(out, s) {
			t.Errorf("arv-tool-0.8 does not list %s (exit %d):\n%s%s", s, code, out, errOut)
		}
	}
	// PtpStatus through Aravis: Slave in the grandmaster's domain, Master in
	// another, within 30 s of enabling PTP.
	arv := func(serial string, args ...string) string {
		out, errOut, _ := r.run(t, append([]string{"exec", "--", "arv-tool-0.8", "-n", "ptpcam-camsim-" + serial, "control"}, args...)...)
		return out + errOut
	}
	for _, s := range []string{"05520125", "05520129"} {
		arv(s, "PtpEnable=true")
	}
	for serial, want := range map[string]string{"05520125": "Slave", "05520129": "Master"} {
		waitPTPStatus(t, serial, want, func() string { return arv(serial, "PtpStatus") })
	}

	// rig ctl sets a fault and prints the state.
	if _, errOut, code := r.run(t, "ctl", "05520126", "offset=5ms", "drift-ppm=2"); code != 0 {
		t.Fatalf("rig ctl: exit %d: %s", code, errOut)
	}
	out, _, _ = r.run(t, "ctl", "05520126")
	var st struct {
		OffsetNS int64   `json:"offset_ns"`
		DriftPPM float64 `json:"drift_ppm"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.OffsetNS != 5_000_000 || st.DriftPPM != 2 {
		t.Errorf("rig ctl state: %+v %v\n%s", st, err, out)
	}
	for _, bad := range [][]string{{"ctl", "99999999", "offset=1ms"}, {"ctl", "05520126", "offset"}, {"ctl", "05520126", "bogus=1"}} {
		if _, errOut, code := r.run(t, bad...); code == 0 || errOut == "" {
			t.Errorf("rig %v: exit %d, stderr %q", bad, code, errOut)
		}
	}

	// rig exec passes the exit code through.
	if _, _, code := r.run(t, "exec", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("rig exec exit code %d, want 7", code)
	}
	// A second `up` of the same rig is refused.
	if _, errOut, code := r.run(t, "up", "--cameras", "1"); code == 0 || !strings.Contains(errOut, "already up") {
		t.Errorf("second up: exit %d: %s", code, errOut)
	}

	if _, errOut, code := r.run(t, "down"); code != 0 {
		t.Fatalf("rig down: exit %d: %s", code, errOut)
	}
	for ns := range netnsNames(t) {
		if strings.HasPrefix(ns, r.name+"-") {
			t.Errorf("namespace %s left after down", ns)
		}
	}
}

// After a crash that lost the rig's state, down still removes its
// namespaces, and only its own.
func TestRigDownAfterCrash(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l")
	dir := testenv.Build(t, "rig", "camsim")
	r := rigCLI{bin: filepath.Join(dir, "rig"), name: rig.UniqueName("rc"), state: t.TempDir()}
	other := rigCLI{bin: r.bin, name: r.name + "-c1x", state: t.TempDir()}
	t.Cleanup(func() { r.run(t, "down"); other.run(t, "down") })
	for _, x := range []rigCLI{r, other} {
		if _, errOut, code := x.run(t, "up", "--cameras", "2"); code != 0 {
			t.Fatalf("rig up: %s", errOut)
		}
	}
	if err := os.RemoveAll(filepath.Join(r.state, r.name)); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := r.run(t, "down"); code != 0 {
		t.Fatalf("rig down: exit %d: %s", code, errOut)
	}
	names := netnsNames(t)
	for _, ns := range []string{r.name + "-host", r.name + "-c0", r.name + "-c1"} {
		if names[ns] {
			t.Errorf("namespace %s left", ns)
		}
	}
	if !names[other.name+"-host"] || !names[other.name+"-c0"] {
		t.Errorf("down removed another rig's namespaces (%s-*): %v", other.name, names)
	}
}

func TestRigBadFlags(t *testing.T) {
	t.Parallel()
	dir := testenv.Build(t, "rig")
	r := rigCLI{bin: filepath.Join(dir, "rig"), name: "unused", state: t.TempDir()}
	broken := filepath.Join(t.TempDir(), "broken.xml")
	if err := os.WriteFile(broken, []byte("<RegisterDescription><Integer Name=\"x\">"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string // the start of stderr's text, naming the input
	}{
		{[]string{"up", "--cameras=-1"}, "rig up: --cameras -1: must be >= 0"},
		{[]string{"up", "--camera", "05520125:profile=usb"}, `rig up: --camera "05520125:profile=usb": profile "usb": want sfnc, gev or noptp`},
		{[]string{"up", "--camera", "05520125:domain=300"}, `rig up: --camera "05520125:domain=300": domain "300"`},
		{[]string{"up", "--camera", ":profile=gev"}, `rig up: --camera ":profile=gev": want SERIAL:key=value,...`},
		{[]string{"up", "--camera", "05520125:nokey"}, `rig up: --camera "05520125:nokey": "nokey" is not key=value`},
		{[]string{"up", "--camera", "05520125:genicam=/nonexistent/camera.xml"}, `rig up: --camera "05520125:genicam=/nonexistent/camera.xml": genicam:`},
		{[]string{"up", "--camera", "05520125:genicam=" + broken}, `rig up: --camera "05520125:genicam=` + broken + `": genicam:`},
		{[]string{"env"}, "rig env: rig unused is not up"},
		{[]string{"ctl", "05520125"}, "rig ctl: rig unused is not up"},
		{[]string{"up", "--bogus"}, "rig: unknown long flag '--bogus'"},
	} {
		if _, errOut, code := r.run(t, tc.args...); code != 1 || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("rig %v: exit %d, stderr %q; want exit 1, stderr starting %q", tc.args, code, errOut, tc.want)
		}
	}
	if ents, _ := os.ReadDir(r.state); len(ents) != 0 {
		t.Errorf("bad input left state behind: %v", ents)
	}
}

// Without root: `rig up` as an unprivileged user builds the rig in one user
// and network namespace (cameras on 127.0.0.x, ptp4l on lo); Aravis'
// arv-tool-0.8 finds the cameras there and down leaves nothing running.
func TestRigUnprivileged(t *testing.T) {
	testenv.RequireRoot(t) // to become the unprivileged user
	testenv.RequireTool(t, "ptp4l", "arv-tool-0.8", "runuser", "unshare", "nsenter")
	dir := testenv.Build(t, "rig", "camsim")
	state, err := os.MkdirTemp("", "ptpcam-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	// nobody writes the state and runs the binaries.
	if err := os.Chmod(state, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := rig.UniqueName("ru")
	run := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", "nobody", "--", filepath.Join(dir, "rig"), "--name", name, "--state-dir", state}, args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("rig %v: %v", args, err)
		}
		return string(out), code
	}
	t.Cleanup(func() { run("down") })
	if out, code := run("up", "--cameras", "2", "--camera", "05520126:domain=1"); code != 0 {
		if strings.Contains(out, "unprivileged user namespaces disabled") {
			testenv.Skip(t, "kernel refuses unprivileged user namespaces: %s", out)
		}
		t.Fatalf("rig up as nobody: exit %d:\n%s", code, out)
	} else if !strings.Contains(out, "CAMERA_0_ADDRESS=127.0.0.10") || !strings.Contains(out, "RIG_HOST_INTERFACE=lo") {
		t.Fatalf("rig up printed:\n%s", out)
	}
	out, _ := run("exec", "--", "arv-tool-0.8")
	for _, s := range []string{"05520125", "05520126"} {
		if !strings.Contains(out, s) {
			t.Errorf("arv-tool-0.8 in the user namespace does not list %s:\n%s", s, out)
		}
	}
	// PTP follows the Announce messages of ptp4l on lo: Slave in its domain,
	// Master in another.
	for serial, want := range map[string]string{"05520125": "Slave", "05520126": "Master"} {
		run("exec", "--", "arv-tool-0.8", "-n", "ptpcam-camsim-"+serial, "control", "PtpEnable=true")
		waitPTPStatus(t, serial, want, func() string {
			out, _ := run("exec", "--", "arv-tool-0.8", "-n", "ptpcam-camsim-"+serial, "control", "PtpStatus")
			return out
		})
	}
	if out, code := run("down"); code != 0 {
		t.Fatalf("rig down: exit %d: %s", code, out)
	}
	if out, err := exec.Command("pgrep", "-u", "nobody", "-f", "camsim|ptp4l|sleep infinity").Output(); err == nil {
		t.Errorf("processes left after down:\n%s", out)
	}
}

// TestRigGenICamCamera: a mixed rig, one camsim camera and one impersonating
// the Basler ace 2 of ../shared/vendor-xml; Aravis lists both, the
// impersonated one by the XML's vendor and model, and rig ctl's fault keys
// reach it in its own terms (ptp-status=Faulty reads as its Faulty entry
// after its PtpDataSetLatch).
func TestRigGenICamCamera(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l", "arv-tool-0.8")
	xml := filepath.Join(testenv.VendorXMLDir(t), "Basler_a2A2600-20gmBAS.xml")
	dir := testenv.Build(t, "rig", "camsim")
	r := rigCLI{bin: filepath.Join(dir, "rig"), name: rig.UniqueName("rg"), state: t.TempDir()}
	t.Cleanup(func() { r.run(t, "down") })
	if _, errOut, code := r.run(t, "up", "--cameras", "1", "--camera", "GC1:genicam="+xml); code != 0 {
		t.Fatalf("rig up: exit %d: %s", code, errOut)
	}
	out, errOut, _ := r.run(t, "exec", "--", "arv-tool-0.8")
	for _, want := range []string{"ptpcam-camsim-05520125", "Basler-vg4_gmax2505m_bas-GC1"} {
		if !strings.Contains(out, want) {
			t.Errorf("arv-tool-0.8 does not list %s:\n%s%s", want, out, errOut)
		}
	}
	arv := func(args ...string) string {
		out, errOut, _ := r.run(t, append([]string{"exec", "--", "arv-tool-0.8", "-n", "Basler-vg4_gmax2505m_bas-GC1", "control"}, args...)...)
		return out + errOut
	}
	arv("PtpEnable=true")
	if _, errOut, code := r.run(t, "ctl", "GC1", "ptp-status=Faulty"); code != 0 {
		t.Fatalf("rig ctl: exit %d: %s", code, errOut)
	}
	if got := arv("PtpDataSetLatch", "PtpStatus"); !strings.Contains(got, "PtpStatus = Faulty") {
		t.Errorf("after rig ctl ptp-status=Faulty: %q", got)
	}
}

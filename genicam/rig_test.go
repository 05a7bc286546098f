package genicam

// How tests that talk to cameras run (the pattern other packages copy):
//
// Aravis discovery broadcasts, camsim and ptp4l multicast, so none of it may
// run in the machine's own network namespace. A test that needs cameras
// calls inRig(t, spec). In the normal `go test` process (the parent) inRig
//
//  1. builds camsim (once per process) and brings up a rig with rig.Up in a
//     fresh set of namespaces (host namespace with bridge and, unless
//     spec.NoPTP4L, ptp4l as grandmaster; one namespace per camsim), removed
//     by t.Cleanup;
//  2. re-executes the test binary itself inside the rig's host namespace,
//     `ip netns exec HOST /path/genicam.test -test.run '^TestX$' ...`, with
//     the rig described as JSON in $GENICAM_TEST_RIG;
//  3. relays the child's output and fails the test if the child failed;
//     inRig then returns ok=false and the parent test returns.
//
// In the child, $GENICAM_TEST_RIG is set: inRig decodes it and returns it with
// ok=true, and the test body runs with every thread, including the ones
// Aravis starts, in the rig's namespace. Benchmarks work the same way; the
// parent reports the child's custom metrics as its own.
//
// Until camsim can be built, spec.Fake runs Aravis' own arv-fake-gv-camera-0.8
// instead (no PTP, latch or action features) in a two-namespace setup.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

const rigEnvVar = "GENICAM_TEST_RIG"

// rigSpec is what a test asks for.
type rigSpec struct {
	Cameras []rig.Camera // Serial, Profile, Domain, Args
	NoPTP4L bool
	// Fake uses arv-fake-gv-camera-0.8 instead of camsim.
	Fake bool
}

// testRig is what the child sees.
type testRig struct {
	Cameras       []rig.Camera `json:"cameras"`
	HostInterface string       `json:"host_interface"`
	HostAddress   string       `json:"host_address"`
	PTPSocket     string       `json:"ptp_socket"`
	Fake          bool         `json:"fake"`
}

func (r *testRig) serials() []string {
	var s []string
	for _, c := range r.Cameras {
		s = append(s, c.Serial)
	}
	return s
}

// TestMain removes the binaries testenv.Build made for the rigs.
func TestMain(m *testing.M) { testenv.Main(m) }

// camsimBin is the camsim binary for the rig: $GENICAM_CAMSIM, or
// ./cmd/camsim built once per test process (testenv.Build).
func camsimBin(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("GENICAM_CAMSIM"); p != "" {
		return p
	}
	return filepath.Join(testenv.Build(tb, "camsim"), "camsim")
}

// inRig runs the calling test or benchmark in a rig (see the comment at the
// top of the file). It returns the rig and true in the child, and false in
// the parent, which must then return.
func inRig(tb testing.TB, spec rigSpec) (*testRig, bool) {
	tb.Helper()
	if v := os.Getenv(rigEnvVar); v != "" {
		r := &testRig{}
		if err := json.Unmarshal([]byte(v), r); err != nil {
			tb.Fatalf("$%s: %v", rigEnvVar, err)
		}
		return r, true
	}
	if b, ok := tb.(*testing.B); ok {
		// The testing package calls a benchmark several times (b.N = 1,
		// then more); the rig and the child run only the first time.
		benchMu.Lock()
		lines, done := benchMetrics[b.Name()]
		benchMu.Unlock()
		if done {
			for _, l := range lines {
				reportMetrics(b, l[0], l[1])
			}
			return nil, false
		}
	}
	testenv.RequireRoot(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var tr *testRig
	var hostNS string
	if spec.Fake {
		testenv.RequireTool(tb, "arv-fake-gv-camera-0.8")
		tr, hostNS = fakeRig(ctx, tb, spec)
	} else {
		bin := camsimBin(tb)
		name := rig.UniqueName("gc")
		r, err := rig.Up(ctx, rig.Config{Name: name, StateDir: tb.TempDir(), Cameras: spec.Cameras,
			Camsim: bin, NoPTP4L: spec.NoPTP4L})
		if err != nil {
			tb.Fatalf("rig up: %v", err)
		}
		tb.Cleanup(func() {
			if err := r.Down(); err != nil {
				tb.Errorf("rig down: %v", err)
			}
		})
		tr = &testRig{Cameras: r.Cameras, HostInterface: r.HostInterface, HostAddress: r.HostAddress, PTPSocket: r.Socket}
		hostNS = r.HostNetns
	}
	runChild(tb, hostNS, tr)
	return nil, false
}

// fakeRig puts arv-fake-gv-camera-0.8 instances in a camera namespace joined
// by a veth to a host namespace.
func fakeRig(ctx context.Context, tb testing.TB, spec rigSpec) (*testRig, string) {
	tb.Helper()
	host, err := rig.NewNetns(ctx, rig.UniqueName("gch"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = host.Close() })
	cam, err := rig.NewNetns(ctx, rig.UniqueName("gcc"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cam.Close() })
	const subnet = "10.214.0."
	if err := rig.VethPair(ctx, host, "ptp0", subnet+"1/24", cam, "eth0", ""); err != nil {
		tb.Fatal(err)
	}
	tr := &testRig{HostInterface: "ptp0", HostAddress: subnet + "1", Fake: true}
	for i, c := range spec.Cameras {
		c.Address = subnet + strconv.Itoa(10+i)
		c.Profile = "fake"
		if err := cam.IP(ctx, "addr", "add", c.Address+"/24", "dev", "eth0"); err != nil {
			tb.Fatal(err)
		}
		// c.Args are extra flags of the fake, e.g. -g FILE to serve a vendor XML.
		cmd := cam.Command(context.Background(), "arv-fake-gv-camera-0.8", append([]string{"-i", c.Address, "-s", c.Serial}, c.Args...)...)
		log, done := testenv.Start(tb, cmd)
		tb.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-done
			if tb.Failed() {
				tb.Logf("arv-fake-gv-camera-0.8 %s:\n%s", c.Serial, log)
			}
		})
		tr.Cameras = append(tr.Cameras, c)
	}
	return tr, host.Name
}

// benchLine is a child's result line: the sub-benchmark's name (after the
// benchmark's, without the -GOMAXPROCS suffix) and its metrics.
var benchLine = regexp.MustCompile(`^Benchmark[^/\s]*?((?:/[^\s]*?)?)(?:-\d+)?\s+\d+\s+(.*)$`)

// runChild re-executes the test binary in namespace ns for tb's test only.
func runChild(tb testing.TB, ns string, tr *testRig) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := json.Marshal(tr)
	if err != nil {
		tb.Fatal(err)
	}
	var pat []string
	for _, p := range strings.Split(tb.Name(), "/") {
		pat = append(pat, "^"+regexp.QuoteMeta(p)+"$")
	}
	args := []string{"netns", "exec", ns, exe, "-test.v", "-test.count=1", "-test.timeout=5m"}
	_, isBench := tb.(*testing.B)
	if isBench {
		args = append(args, "-test.run=^$", "-test.bench="+strings.Join(pat, "/"), "-test.benchmem")
		if f := flagValue("test.benchtime"); f != "" {
			args = append(args, "-test.benchtime="+f)
		}
	} else {
		args = append(args, "-test.run="+strings.Join(pat, "/"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = append(os.Environ(), rigEnvVar+"="+string(enc))
	out, err := cmd.CombinedOutput()
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	b, isBench := tb.(*testing.B)
	var lines [][2]string // sub-benchmark, metrics
	for sc.Scan() {
		line := sc.Text()
		if !isBench {
			tb.Log("child: " + line)
			continue
		}
		// A benchmark's log is cut short by the testing package; its
		// report goes to stdout whole.
		fmt.Println("child: " + line)
		if m := benchLine.FindStringSubmatch(line); m != nil {
			lines = append(lines, [2]string{m[1], m[2]})
		}
	}
	if err != nil {
		tb.Fatalf("test in namespace %s: %v", ns, err)
	}
	if isBench {
		benchMu.Lock()
		benchMetrics[b.Name()] = lines
		benchMu.Unlock()
		for _, l := range lines {
			reportMetrics(b, l[0], l[1])
		}
	}
}

var (
	benchMu      sync.Mutex
	benchMetrics = map[string][][2]string{} // benchmark → its child's result lines
)

// reportMetrics reports the custom metrics of a child's benchmark line
// ("12.3 conc_p99_µs ...") as the parent's, prefixed with the child's
// sub-benchmark name, if any ("busy_conc_p99_µs").
func reportMetrics(b *testing.B, sub, metrics string) {
	prefix := ""
	if sub != "" {
		prefix = strings.TrimPrefix(sub, "/") + "_"
	}
	f := strings.Fields(metrics)
	for i := 0; i+1 < len(f); i += 2 {
		if v, err := strconv.ParseFloat(f[i], 64); err == nil && f[i+1] != "ns/op" && f[i+1] != "B/op" && f[i+1] != "allocs/op" {
			b.ReportMetric(v, prefix+f[i+1])
		}
	}
}

func flagValue(name string) string {
	for _, a := range os.Args[1:] {
		for _, p := range []string{"-" + name + "=", "--" + name + "="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				return v
			}
		}
	}
	return ""
}

// waitDiscover discovers until every serial of the rig is listed.
func waitDiscover(t testing.TB, r *testRig) []DeviceInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last []DeviceInfo
	for ctx.Err() == nil {
		devs, err := Discover(ctx, "")
		if err != nil {
			t.Fatalf("discover: %v", err)
		}
		last = devs
		have := map[string]bool{}
		for _, d := range devs {
			have[d.Serial] = true
		}
		all := true
		for _, s := range r.serials() {
			all = all && have[s]
		}
		if all {
			return devs
		}
	}
	t.Fatalf("discover: want serials %v, found %+v", r.serials(), last)
	return nil
}

// openAll opens every camera of the rig by address and closes them at the end.
func openAll(t testing.TB, r *testRig) []*Camera {
	t.Helper()
	var cams []*Camera
	for _, c := range r.Cameras {
		cam := openAddr(t, c.Address)
		cams = append(cams, cam)
	}
	return cams
}

func openAddr(t testing.TB, addr string) *Camera {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cam *Camera
	var err error
	// A camsim that just started may not answer yet.
	for i := 0; i < 20; i++ {
		if cam, err = openAddress(ctx, addr, openConfig{}); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = cam.Close() })
	return cam
}

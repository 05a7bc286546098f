package camsim_test

import (
	"context"
	"fmt"
	"github.com/ptpcam/ptpcam/rig"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// arvTestConfig is arv-test-0.8's configuration (the format of Aravis'
// src/arv-test.cfg), keyed "DeviceVendorName:DeviceModelName". Every key
// says what that device lacks, and whose gap it is: the real camera's (its
// XML declares no such feature) or camsim's (not simulated yet).
const arvTestConfig = `
[Allied_Vision_Technologies:MAKO_A_CCD]
# Camera: the XML declares no chunk features.
ChunksSupport=false
# camsim gap: TriggerSoftware's availability is a formula camsim does not drive.
SoftwareTrigger=false

[Allied_Vision_Technologies:MANTA_B_SONY_CMOS]
# Camera: the XML declares no chunk features.
ChunksSupport=false
# camsim gap: as the Mako.
SoftwareTrigger=false

[Basler:GigECamera]
# camsim gap: TriggerSoftware availability formula.
SoftwareTrigger=false

[Basler:vg4_gmax2505m_bas]
# camsim gap: its chunk registers are reached through formulas camsim does not
# lay out (and its ChunkSelector has no OffsetX/OffsetY entries).
Chunks=false
# camsim gap: TriggerMode entries' availability is indexed by selector formulas.
SoftwareTrigger=false

[Baumer:TXG08c]
# Camera: its only chunks are Image and FreeformatHeader2.
Chunks=false

[FLIR:BFS_PGE_50S4]
# camsim gap: TriggerSoftware availability formula.
SoftwareTrigger=false
# camsim gap: the frame rate is TIMEBASE/FrameTime over a timebase register the XML leaves 0.
MultipleAcquisitionB=false

[FLIR:ORX_10G_51S5]
# camsim gap: as the Blackfly S.
SoftwareTrigger=false
MultipleAcquisitionB=false

[HIKROBOT:HIKCamera]
# camsim gap: its chunk buffers do not transfer yet (Buffer transfer failure).
Chunks=false
# camsim gap: frame rate formula.
MultipleAcquisitionB=false

[Imaging_Source:IMX174_M]
# Camera: the XML declares no chunk features.
ChunksSupport=false
`

// TestArvTest runs Aravis' camera test suite, arv-test-0.8, on camsim in
// each own profile (Aravis' default expectations: no section for it) and on
// a camera impersonated from every vendor XML, with arvTestConfig: every
// test it runs must pass, and the own profiles must show Gain, ExposureTime
// and chunk data (Chunks:BufferCheck finds the OffsetX and OffsetY chunks).
// arv-test's own timeouts are fixed (500 ms a buffer), so a camera whose
// run fails is run again, up to three times, and every failed attempt is
// logged: a camera passes when one whole run of it passes.
func TestArvTest(t *testing.T) {
	testenv.RequireTool(t, "arv-test-0.8")
	ns := newNetns(t)
	type dev struct{ id, vm string }
	var devs []dev
	for i, p := range []string{"sfnc", "gev", "noptp"} {
		serial := fmt.Sprintf("0552013%d", i)
		startCamsim(t, ns, fmt.Sprintf("127.0.0.%d", 2+i), serial, "--profile", p)
		devs = append(devs, dev{"ptpcam-camsim-" + serial, "ptpcam:camsim"})
	}
	for i, f := range testenv.VendorXMLs(t) {
		serial := fmt.Sprintf("AT%02d", i)
		startCamsim(t, ns, fmt.Sprintf("127.0.0.%d", 10+i), serial, "--genicam", f)
		vc, ok := vendorCameraOf(f)
		if !ok {
			t.Errorf("%s: no expectations in vendorCameras", filepath.Base(f))
			continue
		}
		devs = append(devs, dev{vc.vendor + "-" + vc.model + "-" + serial, vc.vendor + ":" + vc.model})
	}
	cfg := filepath.Join(t.TempDir(), "arv-test.cfg")
	if err := os.WriteFile(cfg, []byte(arvTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		var fails []string
		var ok map[string]bool
		for attempt := 1; attempt <= 3; attempt++ {
			out := runArvTest(t, ns, cfg, d.id)
			ok, fails = parseArvTest(out, d.vm)
			if len(fails) == 0 && len(ok) >= 10 {
				break
			}
			t.Logf("%s attempt %d: %d passed, failed %v", d.id, attempt, len(ok), fails)
		}
		if len(fails) != 0 || len(ok) < 10 {
			t.Errorf("%s: arv-test %d checks passed, failed %v", d.id, len(ok), fails)
		}
		if d.vm != "ptpcam:camsim" {
			continue
		}
		for _, check := range []string{"Properties:GainAvailable", "Properties:ExposureTimeAvailable", "Chunks:BufferCheck", "SoftwareTrigger:BufferCheck"} {
			if !ok[check] {
				t.Errorf("%s: %s did not pass", d.id, check)
			}
		}
	}
}

func runArvTest(t *testing.T, ns *rig.Netns, cfg, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, err := ns.Command(ctx, "arv-test-0.8", "-c", cfg, "-n", id).CombinedOutput()
	if err != nil {
		t.Fatalf("arv-test-0.8 -n %s: %v\n%s", id, err, out)
	}
	return string(out)
}

// parseArvTest reads the checks of the camera vm from arv-test's output.
func parseArvTest(out, vm string) (ok map[string]bool, fails []string) {
	ok = map[string]bool{}
	cur := ""
	line := regexp.MustCompile(`^(\S+:\S+)\s+(SUCCESS|FAILURE|IGNORED)\b(.*)$`)
	for _, l := range strings.Split(out, "\n") {
		if name, found := strings.CutPrefix(l, "Testing '"); found {
			cur = strings.TrimSuffix(name, "'")
			continue
		}
		m := line.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil || cur != vm {
			continue
		}
		switch m[2] {
		case "SUCCESS":
			ok[m[1]] = true
		case "FAILURE":
			fails = append(fails, m[1]+strings.TrimRight(m[3], " "))
		}
	}
	return ok, fails
}

func vendorCameraOf(path string) (vendorCamera, bool) {
	for _, vc := range vendorCameras {
		if vc.file == filepath.Base(path) {
			return vc, true
		}
	}
	return vendorCamera{}, false
}

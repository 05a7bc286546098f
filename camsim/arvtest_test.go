package camsim_test

import (
	"context"
	"fmt"
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
# camsim gap: chunk data.
Chunks=false
# camsim gap: TriggerSoftware availability formula.
SoftwareTrigger=false

[Basler:vg4_gmax2505m_bas]
# camsim gap: chunk data.
Chunks=false
# camsim gap: TriggerMode entries' availability is indexed by selector formulas.
SoftwareTrigger=false

[Baumer:TXG08c]
# camsim gap: chunk data.
Chunks=false

[FLIR:BFS_PGE_50S4]
# camsim gap: chunk data.
Chunks=false
# camsim gap: TriggerSoftware availability formula.
SoftwareTrigger=false
# camsim gap: the frame rate is TIMEBASE/FrameTime over a timebase register the XML leaves 0.
MultipleAcquisitionB=false

[FLIR:ORX_10G_51S5]
# camsim gap: as the Blackfly S.
Chunks=false
SoftwareTrigger=false
MultipleAcquisitionB=false

[HIKROBOT:HIKCamera]
# camsim gap: chunk data.
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
func TestArvTest(t *testing.T) {
	testenv.RequireTool(t, "arv-test-0.8")
	ns := newNetns(t)
	want := map[string]bool{}
	for i, p := range []string{"sfnc", "gev", "noptp"} {
		startCamsim(t, ns, fmt.Sprintf("127.0.0.%d", 2+i), fmt.Sprintf("0552013%d", i), "--profile", p)
	}
	want["ptpcam:camsim"] = true
	for i, f := range testenv.VendorXMLs(t) {
		startCamsim(t, ns, fmt.Sprintf("127.0.0.%d", 10+i), fmt.Sprintf("AT%02d", i), "--genicam", f)
		vc, ok := vendorCameraOf(f)
		if !ok {
			t.Errorf("%s: no expectations in vendorCameras", filepath.Base(f))
			continue
		}
		want[vc.vendor+":"+vc.model] = true
	}
	cfg := filepath.Join(t.TempDir(), "arv-test.cfg")
	if err := os.WriteFile(cfg, []byte(arvTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	out, err := ns.Command(ctx, "arv-test-0.8", "-c", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("arv-test-0.8: %v\n%s", err, out)
	}
	cur := ""
	tested := map[string]int{}
	line := regexp.MustCompile(`^(\S+:\S+)\s+(SUCCESS|FAILURE|IGNORED)\b(.*)$`)
	for _, l := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(l, "Testing '"); ok {
			cur = strings.TrimSuffix(name, "'")
			continue
		}
		m := line.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		if m[2] == "SUCCESS" {
			tested[cur]++
			tested[cur+" "+m[1]]++
		}
		if m[2] == "FAILURE" {
			t.Errorf("%s: %s FAILURE%s", cur, m[1], m[3])
		}
	}
	for vm := range want {
		if tested[vm] < 10 {
			t.Errorf("%s: %d successful arv-test checks, want at least 10", vm, tested[vm])
		}
	}
	for _, check := range []string{"Properties:GainAvailable", "Properties:ExposureTimeAvailable", "Chunks:BufferCheck", "SoftwareTrigger:BufferCheck"} {
		if tested["ptpcam:camsim "+check] != 3 {
			t.Errorf("ptpcam:camsim %s: %d of 3 profiles succeeded", check, tested["ptpcam:camsim "+check])
		}
	}
	if t.Failed() {
		t.Logf("arv-test-0.8 output:\n%s", out)
	}
}

func vendorCameraOf(path string) (vendorCamera, bool) {
	for _, vc := range vendorCameras {
		if vc.file == filepath.Base(path) {
			return vc, true
		}
	}
	return vendorCamera{}, false
}

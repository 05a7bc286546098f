package camsim_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// vendorCamera is what a real camera's XML says, as read from the file by
// hand (shared/notes/vendor-cameras.md): the test's expectations, not
// camsim's input — camsim finds all of it from the XML alone.
type vendorCamera struct {
	file          string
	vendor, model string // RegisterDescription VendorName, ModelName
	enable        string // the control argument that enables PTP ("" no PTP)
	status        string // PTP status feature
	latchStatus   string // command to run before reading status ("" live)
	latch, value  string // timestamp latch command and value
	unitNS        bool   // value in ns (else ticks at GevTimestampTickFrequency)
	faulty        string // the status entry for IEEE 1588 Faulty
}

var vendorCameras = []vendorCamera{
	{"AlliedVision_Mako_G125C.xml", "Allied_Vision_Technologies", "MAKO_A_CCD", "PtpMode=Slave", "PtpStatus", "", "GevTimestampControlLatch", "GevTimestampValue", false, "Error"},
	{"AlliedVision_Manta_G235C.xml", "Allied_Vision_Technologies", "MANTA_B_SONY_CMOS", "PtpMode=Slave", "PtpStatus", "", "GevTimestampControlLatch", "GevTimestampValue", false, "Faulty"},
	{"Basler_a2A2600-20gmBAS.xml", "Basler", "vg4_gmax2505m_bas", "PtpEnable=true", "PtpStatus", "PtpDataSetLatch", "TimestampLatch", "TimestampLatchValue", true, "Faulty"},
	{"Basler_acA2040-35gm.xml", "Basler", "GigECamera", "GevIEEE1588=true", "GevIEEE1588Status", "", "GevTimestampControlLatch", "GevTimestampValue", false, "Faulty"},
	{"Baumer_TXG08c.xml", "Baumer", "TXG08c", "", "", "", "GevTimestampControlLatch", "GevTimestampValue", false, ""},
	{"FLIR_BFS-PGE-50S4C.xml", "FLIR", "BFS_PGE_50S4", "GevIEEE1588=true", "GevIEEE1588Status", "", "TimestampLatch", "TimestampLatchValue", false, "Faulty"},
	{"FLIR_ORX_10G_51S5M.xml", "FLIR", "ORX_10G_51S5", "GevIEEE1588=true", "GevIEEE1588Status", "", "TimestampLatch", "TimestampLatchValue", true, "Faulty"},
	{"Hikrobot_HIKCamera-GEV.xml", "HIKROBOT", "HIKCamera", "GevIEEE1588=true", "GevIEEE1588Status", "", "GevTimestampControlLatch", "GevTimestampValue", false, "Faulty"},
	{"TheImagingSource_DMK33GX174_aravisGigE.xml", "Imaging_Source", "IMX174_M", "", "", "", "", "", false, ""},
}

// TestGenICamRig: a rig of cameras impersonated from every vendor XML in
// ../shared/vendor-xml (two each: domain 0 under the rig's ptp4l, domain 5
// alone). Aravis lists each with the XML's vendor and model; where the
// camera has PTP, arv-tool-0.8 enables it in the camera's form and reads
// its status by the camera's own entry names (Slave, Master, and the
// Faulty a `rig ctl ptp-status=Faulty` forces); the timestamp latch reads
// the device clock (TAI) in the camera's unit.
func TestGenICamRig(t *testing.T) {
	testenv.RequireTool(t, "arv-tool-0.8")
	files := testenv.VendorXMLs(t)
	known := map[string]vendorCamera{}
	for _, vc := range vendorCameras {
		known[vc.file] = vc
	}
	var cams []rig.Camera
	for i, f := range files {
		if _, ok := known[filepath.Base(f)]; !ok {
			t.Errorf("%s: no expectations in vendorCameras; add them", filepath.Base(f))
			continue
		}
		for j, dom := range []int{0, 5} {
			cams = append(cams, rig.Camera{Serial: fmt.Sprintf("GC%02d%d", i, j), Profile: "sfnc", Domain: dom,
				GenICam: f, Args: []string{"--genicam=" + f, "--settle=1s", "--announce-timeout=3s"}})
		}
	}
	r := testenv.UpRig(t, rig.Config{Cameras: cams})
	host := r.Host()
	list := arv(t, host)
	for i := 0; i < len(cams); i += 2 {
		vc := known[filepath.Base(cams[i].GenICam)]
		a, b := cams[i], cams[i+1]
		t.Run(strings.TrimSuffix(vc.file, ".xml"), func(t *testing.T) {
			for _, c := range []rig.Camera{a, b} {
				rc, err := r.Camera(c.Serial)
				if err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("%s-%s-%s (%s)", vc.vendor, vc.model, c.Serial, rc.Address)
				if !strings.Contains(list, want) {
					t.Errorf("arv-tool-0.8 list lacks %q:\n%s", want, list)
				}
			}
			ra, _ := r.Camera(a.Serial)
			rb, _ := r.Camera(b.Serial)
			if vc.latch != "" {
				checkLatch(t, host, ra.Address, vc)
			}
			if vc.enable == "" {
				return
			}
			for _, addr := range []string{ra.Address, rb.Address} {
				features(t, host, addr, vc.enable)
			}
			waitStatus(t, host, ra.Address, vc, "Slave")
			waitStatus(t, host, rb.Address, vc, "Master")
			ctl := camsim.DialControl(ra.Control)
			if err := ctl.Set(t.Context(), "ptp-status", "Faulty"); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, host, ra.Address, vc, vc.faulty)
		})
	}
}

func waitStatus(t *testing.T, ns *rig.Netns, addr string, vc vendorCamera, want string) {
	t.Helper()
	args := []string{vc.status}
	if vc.latchStatus != "" {
		args = []string{vc.latchStatus, vc.status}
	}
	deadline := time.Now().Add(40 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = features(t, ns, addr, args...)[vc.status]; got == want {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s on %s: %q, want %q", vc.status, addr, got, want)
}

// checkLatch: the latched value is the device clock (TAI: host + 37 s) in
// the camera's unit.
func checkLatch(t *testing.T, ns *rig.Netns, addr string, vc vendorCamera) {
	t.Helper()
	tick := uint64(1_000_000_000)
	if !vc.unitNS {
		f := features(t, ns, addr, "GevTimestampTickFrequency")
		v, err := strconv.ParseUint(f["GevTimestampTickFrequency"], 10, 64)
		if err != nil || v == 0 {
			t.Fatalf("GevTimestampTickFrequency %q", f["GevTimestampTickFrequency"])
		}
		tick = v
	}
	before := time.Now()
	f := features(t, ns, addr, vc.latch, vc.value)
	after := time.Now()
	v, err := strconv.ParseUint(strings.Fields(f[vc.value] + " x")[0], 10, 64)
	unit := func(tm time.Time) uint64 {
		ns := uint64(tm.Add(37 * time.Second).UnixNano())
		return ns/1e9*tick + ns%1e9*tick/1e9
	}
	// One tick of slack below for the truncation to the camera's unit.
	if lo, hi := unit(before), unit(after); err != nil || v+1 < lo || v > hi {
		t.Errorf("%s = %q, want %d..%d (TAI at %d Hz)", vc.value, f[vc.value], lo, hi, tick)
	}
}

package camsim_test

// Impersonated vendor cameras (their GenICam XML) in a rig, driven by
// Aravis: features, arv-test-0.8, the device lock and action commands.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
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

// arvTestConfig is arv-test-0.8's configuration (the format of Aravis'
// src/arv-test.cfg), keyed "DeviceVendorName:DeviceModelName". Every key
// says what that device lacks, and whose gap it is: the real camera's (its
// XML declares no such feature) or camsim's (not simulated yet).
const arvTestConfig = `
[Allied_Vision_Technologies:MAKO_A_CCD]
# Camera: the XML declares no chunk features.
ChunksSupport=false

[Allied_Vision_Technologies:MANTA_B_SONY_CMOS]
# Camera: the XML declares no chunk features.
ChunksSupport=false

[Basler:vg4_gmax2505m_bas]
# camsim gap: its chunk registers are reached through formulas camsim does not
# lay out (and its ChunkSelector has no OffsetX/OffsetY entries, arv-test's
# default ChunkList: a real one would need ChunkList= set, too).
Chunks=false

[Baumer:TXG08c]
# Camera: its only chunks are Image and FreeformatHeader2.
Chunks=false

[FLIR:BFS_PGE_50S4]
# Camera: TriggerSource's pIsLocked is TriggerSource_Lck (bit 3 of its
# read-only inquiry register), which the firmware sets while TriggerMode is
# On (FLIR: the trigger must be off to change its source; camsim models it,
# gcam_lock.go), and Aravis 0.8.26's arv_camera_set_trigger writes
# TriggerMode On before TriggerSource: that write is refused
# (ACCESS_DENIED). TriggerSoftware itself is implemented (TriggerSoftware_Imp).
SoftwareTrigger=false

[FLIR:ORX_10G_51S5]
# Camera: as the Blackfly S.
SoftwareTrigger=false

[HIKROBOT:HIKCamera]
# camsim gap: with chunks enabled its buffers do not transfer
# (Chunks:BufferCheck "Buffer transfer failure"); not investigated yet.
Chunks=false

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

// TestGenICamLockAravis: arv-tool-0.8 on a camera impersonated from the
// FLIR BFS XML: with TriggerMode On, TriggerSource is locked and writing it
// is refused by the camera (Aravis 0.8 does not check pIsLocked itself and
// reports the camera's access-denied), leaving it unchanged; with
// TriggerMode Off it takes the new source.
func TestGenICamLockAravis(t *testing.T) {
	ns := newNetns(t)
	xml := filepath.Join(testenv.VendorXMLDir(t), "FLIR_BFS-PGE-50S4C.xml")
	startCamsim(t, ns, "127.0.0.2", "LK0001", "--genicam", xml)
	const addr = "127.0.0.2"
	features(t, ns, addr, "TriggerSelector=FrameStart", "TriggerMode=Off", "TriggerSource=Line0", "TriggerMode=On")
	if got := features(t, ns, addr, "TriggerSelector", "TriggerMode", "TriggerSource"); got["TriggerMode"] != "On" || got["TriggerSource"] != "Line0" {
		t.Fatalf("set-up: %v, want TriggerMode On, TriggerSource Line0", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := ns.Command(ctx, "arv-tool-0.8", "-a", addr, "control", "TriggerSelector=FrameStart", "TriggerSource=Software").CombinedOutput()
	t.Logf("TriggerSource=Software with TriggerMode On: %v: %s", err, strings.TrimSpace(string(out)))
	if !strings.Contains(string(out), "TriggerSource write error") || !strings.Contains(string(out), "access-denied") {
		t.Errorf("arv-tool-0.8 TriggerSource=Software with TriggerMode On: %s; want the camera's access-denied", out)
	}
	if got := features(t, ns, addr, "TriggerSelector", "TriggerSource")["TriggerSource"]; got != "Line0" {
		t.Errorf("TriggerSource %q after a write while TriggerMode is On; want Line0 (locked)", got)
	}
	features(t, ns, addr, "TriggerSelector=FrameStart", "TriggerMode=Off", "TriggerSource=Software")
	if got := features(t, ns, addr, "TriggerSelector", "TriggerMode", "TriggerSource"); got["TriggerMode"] != "Off" || got["TriggerSource"] != "Software" {
		t.Errorf("with TriggerMode Off: %v, want TriggerSource Software", got)
	}
}

// TestGenICamActionKeysByFeature: a client that writes the action keys by
// feature name with arv-tool-0.8 control gets its ACTION_CMD acknowledged;
// a wrong device key, group key or mask is met with silence, and the right
// keys are answered again after it. Basler ace 2 keeps ActionDeviceKey in
// a vendor register (not the bootstrap 0x090C) and its group through
// ActionSelector 1; The Imaging Source's ActionDeviceKey reaches 0x090C
// only through pValueCopy, which Aravis 0.8 ignores, so the client writes
// the copy's register, ActionDeviceKeyRegister, by name (as genicam does).
func TestGenICamActionKeysByFeature(t *testing.T) {
	ns := newNetns(t)
	for i, c := range []struct {
		file, key string
		sel       int
	}{{"Basler_a2A2600-20gmBAS.xml", "ActionDeviceKey", 1},
		{"TheImagingSource_DMK33GX174_aravisGigE.xml", "ActionDeviceKeyRegister", 0}} {
		t.Run(c.file, func(t *testing.T) {
			addr := "127.0.0." + strconv.Itoa(2+i)
			startCamsim(t, ns, addr, "AK000"+strconv.Itoa(i), "--genicam", filepath.Join(testenv.VendorXMLDir(t), c.file))
			checkActionKeys(t, ns, addr, c.key, c.sel)
		})
	}
}

func checkActionKeys(t *testing.T, ns *rig.Netns, addr, keyFeature string, sel int) {
	const dev, group, mask = 0x5a5a1234, 0x77, 0x3
	set := []string{"ActionSelector=" + strconv.Itoa(sel), keyFeature + "=" + strconv.Itoa(dev),
		"ActionGroupKey=" + strconv.Itoa(group), "ActionGroupMask=" + strconv.Itoa(mask)}
	features(t, ns, addr, set...)
	got := features(t, ns, addr, "ActionSelector", "ActionGroupKey", "ActionGroupMask")
	for k, want := range map[string]int{"ActionGroupKey": group, "ActionGroupMask": mask} {
		if got[k] != strconv.Itoa(want) {
			t.Errorf("%s read back %q, want %d", k, got[k], want)
		}
	}
	conn := dialNetnsUDP(t, ns, addr+":3956")
	cases := []struct {
		name             string
		dev, group, mask uint32
		ack              bool
	}{
		{"camera's keys", dev, group, mask, true},
		{"wrong device key", dev + 1, group, mask, false},
		{"wrong group key", dev, group + 1, mask, false},
		{"disjoint group mask", dev, group, 0x4, false},
		{"camera's keys, one mask bit", dev, group, 0x1, true},
	}
	for i, c := range cases {
		st, answered := sendAction(t, conn, uint16(0x100+i), c.dev, c.group, c.mask)
		if answered != c.ack || (answered && st != camsim.StatusSuccess) {
			t.Errorf("%s: answered %v status %v; want answered %v with success", c.name, answered, st, c.ack)
		}
	}
}

func dialNetnsUDP(t *testing.T, ns *rig.Netns, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := ns.DialContext(ctx, "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// sendAction sends an ACTION_CMD (acknowledge required, no action time)
// and returns its acknowledge's status, or false when none came with its
// request id within 2 s (the camera is silent for keys not its own).
func sendAction(t *testing.T, conn net.Conn, id uint16, dev, group, mask uint32) (camsim.Status, bool) {
	t.Helper()
	p := binary.BigEndian.AppendUint32(nil, dev)
	p = binary.BigEndian.AppendUint32(p, group)
	p = binary.BigEndian.AppendUint32(p, mask)
	if _, err := conn.Write(camsim.MarshalCommand(camsim.FlagAckRequired, camsim.CmdAction, id, p)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	buf := make([]byte, 1500)
	for {
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, false
		} else if err != nil {
			t.Fatal(err)
		}
		a, err := camsim.ParseAck(buf[:n])
		if err != nil {
			t.Fatalf("ACTION_CMD answer %x: %v", buf[:n], err)
		}
		if a.AckID == id {
			return a.Status, true
		}
	}
}

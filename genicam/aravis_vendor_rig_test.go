//go:build cgo && !noaravis

package genicam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/pmc"
	"github.com/ptpcam/ptpcam/rig"
)

// rigVendor is what a camera impersonated from a vendor XML (camsim
// --genicam FILE) must show through genicam: the capabilities read from its
// own XML, and that each one really works: PTP enabled in the camera's form
// reaches Slave under the rig's ptp4l (a latched status only through its
// latch), the latch reads the camera's clock in the node's unit (within its
// bracket + 100 µs of the host's), and the action keys really reach the
// camera (an ACTION_CMD is acknowledged; a wrong key is not).
type rigVendor struct {
	file    string
	form    string
	latched bool
	unit    LatchUnit
	action  ActionSupport
	sel     int64
	selW    bool
	trigger string
	// ackGap, when set, says why the simulator cannot acknowledge this
	// camera's ACTION_CMD yet; the keys are still written and read back.
	ackGap string
}

var rigVendors = []rigVendor{
	{"Basler_a2A2600-20gmBAS.xml", "PtpEnable:bool", true, LatchNs, ActionScheduled, 1, true, "Action1", ""},
	{"Basler_acA2040-35gm.xml", "GevIEEE1588:bool", false, LatchTicks, ActionUnscheduled, 1, true, "Action1", ""},
	{"FLIR_BFS-PGE-50S4C.xml", "GevIEEE1588:bool", false, LatchTicks, ActionScheduled, 0, false, "Action0", ""},
	{"FLIR_ORX_10G_51S5M.xml", "GevIEEE1588:bool", false, LatchNs, ActionNone, 0, false, "", ""},
	{"AlliedVision_Manta_G235C.xml", "PtpMode:enum", false, LatchTicks, ActionScheduled, 0, true, "Action0", ""},
	{"AlliedVision_Mako_G125C.xml", "PtpMode:enum", false, LatchTicks, ActionNone, 0, false, "", ""},
	{"Hikrobot_HIKCamera-GEV.xml", "GevIEEE1588:bool", false, LatchTicks, ActionScheduled, 0, true, "Action1", ""},
	{"Baumer_TXG08c.xml", "none", false, LatchTicks, ActionUnscheduled, 0, true, "Action1", ""},
	{"TheImagingSource_DMK33GX174_aravisGigE.xml", "none", false, LatchNone, ActionUnscheduled, 0, true, "Action0", ""},
}

func TestVendorRig(t *testing.T) {
	var cams []rig.Camera
	for i, v := range rigVendors {
		f := vendorXMLPath(t, v.file)
		cams = append(cams, rig.Camera{Serial: fmt.Sprintf("VR%02d", i), Profile: "sfnc",
			Args: []string{"--genicam=" + f, "--settle=1s", "--announce-timeout=3s"}})
	}
	r, ok := inRig(t, rigSpec{Cameras: cams})
	if !ok {
		return
	}
	corr := utcCorrection(t, r.PTPSocket)
	for i, v := range rigVendors {
		t.Run(strings.TrimSuffix(v.file, filepath.Ext(v.file)), func(t *testing.T) {
			t.Parallel()
			cam := openAddr(t, r.Cameras[i].Address)
			checkRigVendor(t, cam, v, corr, uint32(0x5a5a0000+i))
		})
	}
}

// utcCorrection is what a TAI camera's clock is ahead of CLOCK_REALTIME in
// the rig's domain.
func utcCorrection(t *testing.T, socket string) time.Duration {
	t.Helper()
	cl, err := pmc.Dial(pmc.Config{Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.TimeProperties.PTPTimescale {
		return 0
	}
	return time.Duration(s.TimeProperties.CurrentUTCOffset) * time.Second
}

func checkRigVendor(t *testing.T, cam *Camera, v rigVendor, corr time.Duration, key uint32) {
	cp := cam.Capabilities()
	t.Logf("%s: %s sources %v", v.file, cp, cp.TriggerSources)
	if cp.PTPForm != v.form || cp.StatusLatched != v.latched || cp.LatchUnit != v.unit || cp.Action != v.action ||
		cp.ActionTrigger != v.trigger {
		t.Errorf("capabilities %+v; want %+v", cp, v)
	}
	if v.action != ActionNone && (cp.ActionSelector != v.sel || cp.ActionSelectorWritable != v.selW) {
		t.Errorf("action selector %d writable %v; want %d %v", cp.ActionSelector, cp.ActionSelectorWritable, v.sel, v.selW)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if v.form != "none" {
		if err := cam.EnablePTP(ctx, true); err != nil {
			t.Fatal(err)
		}
		if en, err := cam.PTPEnabled(ctx); err != nil || !en {
			t.Errorf("after EnablePTP: enabled %v, %v", en, err)
		}
		waitCamStatus(t, ctx, cam, PTPSlave)
	}
	if v.unit != LatchNone {
		checkRigLatch(t, ctx, cam, v.form != "none", corr)
	}
	if v.action != ActionNone {
		checkActionAck(t, ctx, cam, key, v.ackGap)
	}
}

func waitCamStatus(t *testing.T, ctx context.Context, cam *Camera, want PTPStatus) {
	t.Helper()
	var got PTPStatus
	var err error
	for ctx.Err() == nil {
		if got, err = cam.PTPStatus(ctx); err == nil && got == want {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	t.Fatalf("PTP status %v (%v), want %v", got, err, want)
}

// checkActionAck: a camera acknowledges an ACTION_CMD only when its keys
// match (GigE Vision: others stay silent), so an ack proves the keys were
// received, through pValueCopy where the XML routes them so.
func checkActionAck(t *testing.T, ctx context.Context, cam *Camera, key uint32, gap string) {
	t.Helper()
	if err := cam.SetActionKeys(ctx, key, 0x7, 0x1); err != nil {
		t.Fatal(err)
	}
	var back []string
	for _, n := range []string{"ActionSelector", "ActionDeviceKey", "ActionGroupKey", "ActionGroupMask"} {
		v, err := cam.getInteger(ctx, n)
		if err != nil {
			s, serr := cam.getString(ctx, n)
			back = append(back, fmt.Sprintf("%s=%q (%v)", n, s, serr))
			continue
		}
		back = append(back, fmt.Sprintf("%s=%#x", n, v))
	}
	t.Logf("after SetActionKeys(%#x, 0x7, 0x1): %s", key, strings.Join(back, " "))
	if want := fmt.Sprintf("ActionDeviceKey=%#x ActionGroupKey=0x7 ActionGroupMask=0x1", key); !strings.Contains(strings.Join(back, " "), want) {
		t.Errorf("keys read back %v, want %s", back, want)
	}
	if gap != "" {
		t.Logf("ACTION_CMD acknowledge not checked: %s", gap)
		return
	}
	to := []netip.Addr{netip.MustParseAddr(cam.Info().Address)}
	acks, err := SendActionCommand(ctx, to, ActionCommand{DeviceKey: key, GroupKey: 0x7, GroupMask: 0x1, Ack: true})
	if err != nil || len(acks) != 1 || acks[0].Status != 0 {
		t.Errorf("ACTION_CMD with the camera's keys: acks %+v, %v; want one success", acks, err)
	}
	_, err = SendActionCommand(ctx, to, ActionCommand{DeviceKey: key + 1, GroupKey: 0x7, GroupMask: 0x1, Ack: true})
	if err == nil || !strings.Contains(err.Error(), "no acknowledge") {
		t.Errorf("ACTION_CMD with a wrong device key: %v; want no acknowledge", err)
	}
	if errors.Is(err, ErrActionLate) {
		t.Errorf("wrong key judged late: %v", err)
	}
}

// checkRigLatch: a PTP camera's latch, in its unit, is within its bracket
// + 100 µs of the host clock (after the timescale correction); a camera
// without PTP runs its own clock, which only has to read.
func checkRigLatch(t *testing.T, ctx context.Context, cam *Camera, ptp bool, corr time.Duration) {
	t.Helper()
	s, err := cam.Latch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ptp {
		t.Logf("latch (no PTP): device %d ns", s.Device)
		if s.Device <= 0 {
			t.Errorf("latch read %d", s.Device)
		}
		return
	}
	d := s.Offset() - corr
	t.Logf("latch: delta %v ± %v (tick %d Hz)", d, s.HalfBracket(), cam.tickFrequency())
	if d.Abs() > s.HalfBracket()+100*time.Microsecond {
		t.Errorf("latch delta %v, want within its bracket %v + 100µs", d, s.HalfBracket())
	}
}

//go:build cgo && !noaravis

package genicam

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/rig"
)

// vendorCase is what a family's real XML must resolve to, as Aravis itself
// parses it (served by arv-fake-gv-camera-0.8 -g FILE). The fake's register
// values are garbage, so only names, forms and declared ranges are checked;
// it crashes on Basler_a2A2600-20gmBAS, Baumer_TXG08c and
// TheImagingSource_DMK33GX174, which the camsim-impersonation tests cover.
type vendorCase struct {
	file    string
	feat    map[string]string // logical → expected spelling ("" = absent)
	form    string
	latched bool
	unit    LatchUnit
	action  ActionSupport
	sel     int64
	selW    bool
	trigger string
}

var vendorCases = []vendorCase{
	{file: "Basler_acA2040-35gm.xml", form: "GevIEEE1588:bool", unit: LatchTicks, action: ActionUnscheduled, sel: 1, selW: true, trigger: "Action1",
		feat: map[string]string{FeaturePTPStatus: "GevIEEE1588Status", FeaturePTPDataSetLatch: "GevIEEE1588DataSetLatch",
			FeaturePTPOffsetFromMaster: "GevIEEE1588OffsetFromMaster", FeaturePTPClockID: "GevIEEE1588ClockId",
			FeaturePTPGrandmasterID: "GevIEEE1588ParentClockId", FeatureTimestampLatchValue: "GevTimestampValue"}},
	{file: "FLIR_BFS-PGE-50S4C.xml", form: "GevIEEE1588:bool", unit: LatchTicks, action: ActionScheduled, sel: 0, selW: false, trigger: "Action0",
		feat: map[string]string{FeaturePTPStatus: "GevIEEE1588Status", FeaturePTPOffsetFromMaster: "GevIEEE1588OffsetFromMasterLatched",
			FeaturePTPGrandmasterID: "GevIEEE1588ParentClockIdLatched", FeaturePTPClockID: "GevIEEE1588ClockId",
			FeatureTimestampLatchValue: "TimestampLatchValue"}},
	{file: "FLIR_ORX_10G_51S5M.xml", form: "GevIEEE1588:bool", unit: LatchNs, action: ActionNone, trigger: "",
		feat: map[string]string{FeaturePTPDataSetLatch: "", FeaturePTPOffsetFromMaster: ""}},
	{file: "AlliedVision_Manta_G235C.xml", form: "PtpMode:enum", unit: LatchTicks, action: ActionScheduled, sel: 0, selW: true, trigger: "Action0",
		feat: map[string]string{FeaturePTPEnable: "PtpMode", FeaturePTPStatus: "PtpStatus", FeatureTimestampLatch: "GevTimestampControlLatch"}},
	{file: "AlliedVision_Mako_G125C.xml", form: "PtpMode:enum", unit: LatchTicks, action: ActionNone, trigger: "",
		feat: map[string]string{FeaturePTPEnable: "PtpMode", FeaturePTPStatus: "PtpStatus"}},
	{file: "Hikrobot_HIKCamera-GEV.xml", form: "GevIEEE1588:bool", unit: LatchTicks, action: ActionScheduled, sel: 0, selW: true, trigger: "Action1",
		feat: map[string]string{FeaturePTPStatus: "GevIEEE1588Status", FeaturePTPDataSetLatch: ""}},
}

func vendorXMLPath(t *testing.T, file string) string {
	t.Helper()
	p, _ := vendorXML(t, file)
	return p
}

// TestFakeVendorCapabilities: names, forms and capabilities are resolved
// from each family's own XML by Aravis.
func TestFakeVendorCapabilities(t *testing.T) {
	var cams []rig.Camera
	for i, c := range vendorCases {
		cams = append(cams, rig.Camera{Serial: "V" + string(rune('A'+i)), Args: []string{"-g", vendorXMLPath(t, c.file)}})
	}
	r, ok := inRig(t, rigSpec{Cameras: cams, Fake: true})
	if !ok {
		return
	}
	for i, vc := range vendorCases {
		t.Run(strings.TrimSuffix(vc.file, filepath.Ext(vc.file)), func(t *testing.T) {
			cam := openAddr(t, r.Cameras[i].Address)
			checkVendorCase(t, cam, vc)
		})
	}
}

func checkVendorCase(t *testing.T, cam *Camera, vc vendorCase) {
	t.Helper()
	for logical, want := range vc.feat {
		got, ok := cam.Feature(logical)
		if want == "" && ok || want != "" && got != want {
			t.Errorf("Feature(%s) = %q, %v; want %q", logical, got, ok, want)
		}
	}
	cp := cam.Capabilities()
	t.Logf("%s: %s sources %v", vc.file, cp, cp.TriggerSources)
	if cp.PTPForm != vc.form || cp.StatusLatched != vc.latched || cp.LatchUnit != vc.unit || cp.Action != vc.action {
		t.Errorf("capabilities %+v; want form %s latched %v unit %s action %s", cp, vc.form, vc.latched, vc.unit, vc.action)
	}
	// Which entries are implemented depends on registers (pIsImplemented),
	// garbage on the fake: the choice must follow what the camera reports,
	// and a camera whose XML has no Action entry gets none.
	_, doc := vendorXML(t, vc.file)
	declared, _ := xmlEnum(t, doc, "TriggerSource")
	for _, s := range cp.TriggerSources {
		if !slices.Contains(declared, s) {
			t.Errorf("trigger source %q not declared in %v", s, declared)
		}
	}
	if want := actionTriggerEntry(cp.TriggerSources, cp.ActionSelector); cp.ActionTrigger != want || vc.trigger == "" && want != "" {
		t.Errorf("action trigger %q, want %q (XML's: %q)", cp.ActionTrigger, want, vc.trigger)
	}
	if vc.action != ActionNone && (cp.ActionSelector != vc.sel || cp.ActionSelectorWritable != vc.selW) {
		t.Errorf("action selector %d writable %v; want %d %v", cp.ActionSelector, cp.ActionSelectorWritable, vc.sel, vc.selW)
	}
	if vc.form == "PtpMode:enum" && (cp.PTPEnableEntry != "Slave" || cp.PTPDisableEntry != "Off") {
		t.Errorf("PtpMode entries %q/%q, want Slave/Off", cp.PTPEnableEntry, cp.PTPDisableEntry)
	}
	if err := cam.capabilitiesError(); err != nil {
		t.Errorf("capabilities error: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if vc.form == "PtpMode:enum" {
		// "On" is no entry of PtpMode (Aravis rejects it); enable writes
		// Slave, disable Off. The fake does not keep the register, so only
		// the writes are checked here; the impersonation rig reads back.
		for _, on := range []bool{true, false} {
			if err := cam.EnablePTP(ctx, on); err != nil {
				t.Errorf("EnablePTP(%v): %v", on, err)
			}
		}
		if err := cam.setEnum(ctx, "PtpMode", "On"); err == nil {
			t.Errorf("PtpMode accepted On: the check above would prove nothing")
		}
	}
	// Status by entry name: whatever garbage the register holds, the read
	// gives a known state or unknown(N), never an error or "".
	if _, ok := cam.Feature(FeaturePTPStatus); ok {
		st, err := cam.PTPStatus(ctx)
		if err != nil || st.String() == "" {
			t.Errorf("PTPStatus = %v, %v; want a state or unknown(N) without error", st, err)
		}
		t.Logf("status %v", st)
	}
}

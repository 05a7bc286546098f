//go:build cgo && !noaravis

package genicam

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/rig"
)

// TestVendorTriggerLock: on a camera impersonated from the FLIR BFS XML,
// whose TriggerSource is locked while TriggerMode is On (camsim enforces
// the XML's pIsLocked and answers ACCESS_DENIED), SetTrigger re-arms from
// one source to another while triggering is on (it turns TriggerMode Off
// before it writes TriggerSource), and a plain TriggerSource write with
// TriggerMode On is refused and leaves the source as it was.
func TestVendorTriggerLock(t *testing.T) {
	f := vendorXMLPath(t, "FLIR_BFS-PGE-50S4C.xml")
	r, ok := inRig(t, rigSpec{Cameras: []rig.Camera{{Serial: "LK01", Profile: "sfnc",
		Args: []string{"--genicam=" + f, "--settle=1s", "--announce-timeout=3s"}}}})
	if !ok {
		return
	}
	cam := openAddr(t, r.Cameras[0].Address)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	trig := cam.Capabilities().ActionTrigger
	if trig != "Action0" {
		t.Fatalf("ActionTrigger %q, want Action0", trig)
	}
	want := func(mode, source string) {
		t.Helper()
		m, err1 := cam.getString(ctx, "TriggerMode")
		s, err2 := cam.getString(ctx, "TriggerSource")
		if err1 != nil || err2 != nil || m != mode || s != source {
			t.Errorf("TriggerMode %q (%v) TriggerSource %q (%v); want %s %s", m, err1, s, err2, mode, source)
		}
	}
	for _, src := range []string{"Line0", trig, "Software"} {
		if err := cam.setTrigger(ctx, src); err != nil {
			t.Fatalf("SetTrigger(%s) with triggering on: %v", src, err)
		}
		want("On", src)
	}
	err := cam.setString(ctx, "TriggerSource", "Line0")
	if err == nil || !strings.Contains(err.Error(), "access-denied") {
		t.Errorf("TriggerSource=Line0 with TriggerMode On: %v; want the camera's access-denied", err)
	}
	want("On", "Software")
	if err := cam.setTrigger(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := cam.setString(ctx, "TriggerSource", "Line0"); err != nil {
		t.Errorf("TriggerSource=Line0 with TriggerMode Off: %v", err)
	}
	want("Off", "Line0")
}

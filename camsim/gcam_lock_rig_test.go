package camsim_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

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

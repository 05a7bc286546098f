//go:build cgo && !noaravis

package genicam

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestFakeSettings: feature introspection and settings by name on Aravis'
// own fake camera: a pixel format it lacks (Mono12) is refused at once with
// the entries it offers; a missing and a read-only feature are refused;
// good values are written and read back in each type.
func TestFakeSettings(t *testing.T) {
	r, ok := inRig(t, fakeSpec("FAKE08"))
	if !ok {
		return
	}
	cam := openAddr(t, r.Cameras[0].Address)
	ctx := context.Background()
	pf, err := cam.FeatureInfo(ctx, "PixelFormat")
	if err != nil {
		t.Fatal(err)
	}
	if pf.Type != TypeEnumeration || !pf.Writable() || !slices.Contains(pf.Entries, "Mono8") || slices.Contains(pf.Entries, "Mono12") {
		t.Fatalf("PixelFormat: %+v; want a writable enumeration offering Mono8, not Mono12", pf)
	}
	t.Logf("PixelFormat entries offered: %v", pf.Entries)
	err = cam.SetFeature(ctx, "PixelFormat", "Mono12")
	var se *SettingError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `camera FAKE08: PixelFormat = "Mono12": the camera does not offer this entry (allowed: one of `) {
		t.Errorf("Mono12: %v; want refused with the entries offered", err)
	}
	if err := cam.CheckFeature(ctx, "NoSuchFeature", "1"); !errors.Is(err, ErrBadSetting) || !strings.Contains(err.Error(), "no such feature") {
		t.Errorf("NoSuchFeature: %v", err)
	}
	if err := cam.CheckFeature(ctx, "SensorWidth", "100"); !errors.Is(err, ErrBadSetting) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("SensorWidth: %v", err)
	}
	w, err := cam.FeatureInfo(ctx, "Width")
	if err != nil || w.Type != TypeInteger || w.IntMin < 1 || w.IntMax < 320 || w.IntInc < 1 {
		t.Fatalf("Width: %+v, %v", w, err)
	}
	if err := cam.CheckFeature(ctx, "Width", "100000000"); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("Width 100000000: %v", err)
	}
	for _, s := range []struct{ name, value, want string }{
		{"Width", "320", "320"}, {"PixelFormat", "Mono16", "Mono16"}, {"ExposureTimeAbs", "2000", "2000"},
		{"GainRaw", "3", "3"}, {"TestBoolean", "on", "true"},
	} {
		if err := cam.SetFeature(ctx, s.name, s.value); err != nil {
			t.Errorf("%s = %s: %v", s.name, s.value, err)
			continue
		}
		if got, err := cam.FeatureValue(ctx, s.name); err != nil || got != s.want {
			t.Errorf("%s read back %q, %v; want %q", s.name, got, err, s.want)
		}
	}
	if fw := cam.Firmware(ctx); fw == "" {
		t.Error("Firmware: empty, want the fake's DeviceVersion")
	}
}

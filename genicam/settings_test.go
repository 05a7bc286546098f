package genicam

import (
	"errors"
	"strings"
	"testing"
)

// TestFeatureInfoCheck: each kind of bad value is refused with the camera,
// the feature, the value and the allowed values; good ones pass.
func TestFeatureInfoCheck(t *testing.T) {
	width := FeatureInfo{Name: "Width", Type: TypeInteger, Access: AccessRW, IntMin: 16, IntMax: 1920, IntInc: 16}
	exp := FeatureInfo{Name: "ExposureTime", Type: TypeFloat, Access: AccessRW, FloatMin: 10, FloatMax: 1e6, Unit: "us"}
	gain := FeatureInfo{Name: "Gain", Type: TypeFloat, Access: AccessRW, FloatMin: 0, FloatMax: 24, FloatInc: 0.5}
	pf := FeatureInfo{Name: "PixelFormat", Type: TypeEnumeration, Access: AccessRW, Entries: []string{"Mono8", "Mono12"}}
	ro := FeatureInfo{Name: "SensorWidth", Type: TypeInteger, Access: AccessRO, IntMin: 1, IntMax: 4096, IntInc: 1}
	missing := FeatureInfo{Name: "Nope", Access: AccessNI}
	for _, tc := range []struct {
		fi    FeatureInfo
		value string
		want  []string // "" entries: must pass
	}{
		{width, "640", nil},
		{width, "0x280", nil},
		{width, "650", []string{`Width = "650"`, "off the increment", "16..1920 in steps of 16 from 16"}},
		{width, "4000", []string{"out of range", "16..1920"}},
		{width, "wide", []string{"not an integer"}},
		{exp, "8000", nil},
		{exp, "5", []string{`ExposureTime = "5"`, "out of range", "10..1e+06 us"}},
		{gain, "6.5", nil},
		{gain, "6.3", []string{"off the increment", "in steps of 0.5"}},
		{pf, "Mono8", nil},
		{pf, "BayerGR8", []string{`PixelFormat = "BayerGR8"`, "does not offer", "one of Mono8, Mono12"}},
		{ro, "100", []string{"read-only"}},
		{missing, "1", []string{`Nope = "1"`, "no such feature"}},
		{FeatureInfo{Name: "B", Type: TypeBoolean, Access: AccessRW}, "maybe", []string{"not a Boolean", "true or false"}},
		{FeatureInfo{Name: "B", Type: TypeBoolean, Access: AccessRW}, "on", nil},
		{FeatureInfo{Name: "X", Type: TypeInteger, Access: AccessNA}, "1", []string{"not available now"}},
	} {
		err := tc.fi.Check("CAM1", tc.value)
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s = %q: %v, want accepted", tc.fi.Name, tc.value, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s = %q accepted, want refused with %q", tc.fi.Name, tc.value, tc.want)
			continue
		}
		if !errors.Is(err, ErrBadSetting) {
			t.Errorf("%v: does not match ErrBadSetting", err)
		}
		for _, w := range append(tc.want, "camera CAM1") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s = %q: %q lacks %q", tc.fi.Name, tc.value, err, w)
			}
		}
	}
}

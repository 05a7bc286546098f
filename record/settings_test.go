package record

import (
	"context"
	"strings"
	"testing"

	"github.com/ptpcam/ptpcam/genicam"
)

// settingsCam is a camera of feature nodes: what it declares, what was
// written.
type settingsCam struct {
	serial     string
	nodes      map[string]genicam.FeatureInfo
	values     map[string]string
	writes     []string
	configured bool
}

func (c *settingsCam) Serial() string { return c.serial }
func (c *settingsCam) Info() genicam.DeviceInfo {
	return genicam.DeviceInfo{Serial: c.serial, Model: "M"}
}
func (c *settingsCam) Capabilities() genicam.Capabilities {
	return genicam.Capabilities{PTPForm: "PtpEnable:bool"}
}
func (c *settingsCam) Firmware(context.Context) string { return "1.2.3" }
func (c *settingsCam) Configure(_ context.Context, a genicam.Acquisition) error {
	c.configured = true
	c.values["PixelFormat"], c.values["Width"] = a.PixelFormat, "640"
	return nil
}
func (c *settingsCam) FeatureInfo(_ context.Context, n string) (genicam.FeatureInfo, error) {
	fi, ok := c.nodes[n]
	if !ok {
		return genicam.FeatureInfo{Name: n, Access: genicam.AccessNI}, nil
	}
	fi.Name = n
	return fi, nil
}
func (c *settingsCam) SetFeature(ctx context.Context, n, v string) error {
	fi, _ := c.FeatureInfo(ctx, n)
	if err := fi.Check(c.serial, v); err != nil {
		return err
	}
	c.writes = append(c.writes, n+"="+v)
	c.values[n] = v
	return nil
}
func (c *settingsCam) FeatureValue(_ context.Context, n string) (string, error) {
	return c.values[n], nil
}

func newSettingsCam(serial string, legacy bool) *settingsCam {
	exp, gain := "ExposureTime", "Gain"
	if legacy {
		exp, gain = "ExposureTimeAbs", "GainRaw"
	}
	return &settingsCam{serial: serial, values: map[string]string{}, nodes: map[string]genicam.FeatureInfo{
		"PixelFormat":       {Type: genicam.TypeEnumeration, Access: genicam.AccessRW, Entries: []string{"Mono8", "BayerRG8"}},
		"Width":             {Type: genicam.TypeInteger, Access: genicam.AccessRW, IntMin: 16, IntMax: 640, IntInc: 16},
		"OffsetX":           {Type: genicam.TypeInteger, Access: genicam.AccessRW, IntMin: 0, IntMax: 0, IntInc: 4},
		exp:                 {Type: genicam.TypeFloat, Access: genicam.AccessRW, FloatMin: 10, FloatMax: 1e6},
		gain:                {Type: genicam.TypeFloat, Access: genicam.AccessRW, FloatMin: 0, FloatMax: 24},
		"ExposureAuto":      {Type: genicam.TypeEnumeration, Access: genicam.AccessRW, Entries: []string{"Off", "Continuous"}},
		"DeviceTemperature": {Type: genicam.TypeFloat, Access: genicam.AccessRO, FloatMin: -50, FloatMax: 150},
	}}
}

func ptr[T any](v T) *T { return &v }

// TestApplySettings: settings go to each camera's own feature names
// (ExposureTime or ExposureTimeAbs) in order and are read back; a bad one
// on any camera fails naming it, with no camera configured or written.
func TestApplySettings(t *testing.T) {
	acq := genicam.Acquisition{Width: 640, PixelFormat: "Mono8", FrameRate: 50}
	a, b := newSettingsCam("A", false), newSettingsCam("B", true)
	devs, err := ApplySettings(t.Context(), []SettingsCamera{a, b}, acq, map[string]CameraSettings{
		"A": {Name: "left", Exposure: ptr(8000.0), Gain: ptr(6.0), Features: []Feature{{"ExposureAuto", "Off"}}},
		"B": {Name: "right", Exposure: ptr(4000.0), Gain: ptr(3.0), OffsetX: ptr(int64(0))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(a.writes, " "), "ExposureAuto=Off ExposureTime=8000 Gain=6"; got != want {
		t.Errorf("camera A writes %q, want %q", got, want)
	}
	if got, want := strings.Join(b.writes, " "), "OffsetX=0 ExposureTimeAbs=4000 GainRaw=3"; got != want {
		t.Errorf("camera B writes %q, want %q", got, want)
	}
	if len(devs) != 2 || devs[0].Name != "left" || devs[0].Firmware != "1.2.3" || devs[1].Model != "M" {
		t.Fatalf("devices %+v", devs)
	}
	var rb []string
	for _, f := range devs[1].Settings {
		rb = append(rb, f.Name+"="+f.Value)
	}
	if got, want := strings.Join(rb, " "), "PixelFormat=Mono8 Width=640 OffsetX=0 ExposureTimeAbs=4000 GainRaw=3"; got != want {
		t.Errorf("camera B read back %q, want %q", got, want)
	}

	for _, tc := range []struct {
		s    CameraSettings
		acq  genicam.Acquisition
		want string
	}{
		{CameraSettings{Features: []Feature{{"Nope", "1"}}}, acq, `camera B: Nope = "1": the camera has no such feature`},
		{CameraSettings{Exposure: ptr(5.0)}, acq, `camera B: ExposureTimeAbs = "5": out of range (allowed: 10..1e+06)`},
		{CameraSettings{OffsetX: ptr(int64(3))}, acq, `OffsetX = "3": off the increment`},
		{CameraSettings{Features: []Feature{{"ExposureAuto", "Once"}}}, acq, `ExposureAuto = "Once": the camera does not offer this entry (allowed: one of Off, Continuous)`},
		{CameraSettings{Features: []Feature{{"DeviceTemperature", "20"}}}, acq, `DeviceTemperature = "20": read-only`},
		{CameraSettings{}, genicam.Acquisition{Width: 640, PixelFormat: "BayerGR8"}, `PixelFormat = "BayerGR8": the camera does not offer this entry (allowed: one of Mono8, BayerRG8)`},
	} {
		a, b := newSettingsCam("A", false), newSettingsCam("B", true)
		_, err := ApplySettings(t.Context(), []SettingsCamera{a, b}, tc.acq, map[string]CameraSettings{"B": tc.s})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
		if a.configured || b.configured || len(a.writes)+len(b.writes) > 0 {
			t.Errorf("%+v: a camera was changed before the check failed (configured %v %v, writes %q %q)", tc.s, a.configured, b.configured, a.writes, b.writes)
		}
	}
}

func TestValidTakeID(t *testing.T) {
	for id, ok := range map[string]bool{"20261202T030405.678Z": true, "rig-a:take_7+b": true, "": false, "a b": false,
		"x/y": false, strings.Repeat("a", 65): false} {
		if ValidTakeID(id) != ok {
			t.Errorf("ValidTakeID(%q) = %v", id, !ok)
		}
	}
	if err := (&Config{Width: 1, Height: 1, PixelFormat: "Mono8", FPS: 1, LeadTime: 1, TakeID: "a b"}).Validate(); err == nil || !strings.Contains(err.Error(), `take id "a b"`) {
		t.Errorf("Validate with a bad take id: %v", err)
	}
}

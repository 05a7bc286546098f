// Per-camera settings: checked against every camera before anything is
// changed, applied in order, read back for the session file.

package record

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ptpcam/ptpcam/genicam"
)

// Feature is one setting: a GenICam feature and its value, as written or as
// read back.
type Feature struct {
	Name  string `json:"feature"`
	Value string `json:"value"`
}

// CameraSettings is one camera's settings beyond the take's size, format and
// rate: offsets, exposure, gain and any feature by name.
type CameraSettings struct {
	// Name is the camera's name in the session file ("" none).
	Name             string
	OffsetX, OffsetY *int64
	// Exposure (µs) and Gain are written to ExposureTime and Gain, or to
	// the older ExposureTimeAbs and GainRaw where the camera has those.
	Exposure, Gain *float64
	// Features are written in order, before the named settings above.
	Features []Feature
}

// SettingsCamera is what settings need of a camera (*genicam.Camera).
type SettingsCamera interface {
	Serial() string
	Info() genicam.DeviceInfo
	Capabilities() genicam.Capabilities
	Configure(ctx context.Context, a genicam.Acquisition) error
	FeatureInfo(ctx context.Context, name string) (genicam.FeatureInfo, error)
	SetFeature(ctx context.Context, name, value string) error
	FeatureValue(ctx context.Context, name string) (string, error)
	Firmware(ctx context.Context) string
}

// CameraDevice is a camera as the session file records it: what it is and
// every setting read back after the settings were applied.
type CameraDevice struct {
	Serial   string `json:"serial"`
	Name     string `json:"name,omitempty"`
	Vendor   string `json:"vendor"`
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	// Capabilities decide its start mode (the session's cameras[].start_mode).
	Capabilities genicam.Capabilities `json:"capabilities"`
	// Settings are the take's size, format and rate and every configured
	// feature, read back from the camera.
	Settings []Feature `json:"settings"`
}

// dependent are the features whose maximum depends on others (the width
// bounds the offset, the offset the width): their maximum is checked when
// they are written, after the size, not beforehand.
var dependent = map[string]bool{"Width": true, "Height": true, "OffsetX": true, "OffsetY": true}

// step is one feature to write and its check beforehand.
type step struct {
	Feature
	fi genicam.FeatureInfo
}

// plan resolves a camera's settings to its feature names and checks each
// against the camera as it is, without writing anything.
func plan(ctx context.Context, c SettingsCamera, acq genicam.Acquisition, s CameraSettings) ([]step, error) {
	var want []Feature
	if acq.PixelFormat != "" {
		want = append(want, Feature{"PixelFormat", acq.PixelFormat})
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Width", acq.Width}, {"Height", acq.Height}} {
		if f.v > 0 {
			want = append(want, Feature{f.name, strconv.Itoa(f.v)})
		}
	}
	want = append(want, s.Features...)
	for _, o := range []struct {
		name string
		v    *int64
	}{{"OffsetX", s.OffsetX}, {"OffsetY", s.OffsetY}} {
		if o.v != nil {
			want = append(want, Feature{o.name, strconv.FormatInt(*o.v, 10)})
		}
	}
	for _, n := range []struct {
		names []string
		v     *float64
	}{{[]string{"ExposureTime", "ExposureTimeAbs"}, s.Exposure}, {[]string{"Gain", "GainRaw"}, s.Gain}} {
		if n.v != nil {
			name, _ := resolve(ctx, c, n.names)
			want = append(want, Feature{name, strconv.FormatFloat(*n.v, 'g', -1, 64)})
		}
	}
	var steps []step
	var errs []error
	for _, f := range want {
		fi, err := c.FeatureInfo(ctx, f.Name)
		if err != nil {
			return nil, err
		}
		chk := fi
		if dependent[f.Name] && fi.Type == genicam.TypeInteger {
			chk.IntMax = math.MaxInt64 // the minimum and increment are fixed
		}
		if err := chk.Check(c.Serial(), f.Value); err != nil {
			errs = append(errs, err)
			continue
		}
		steps = append(steps, step{f, fi})
	}
	return steps, errors.Join(errs...)
}

// resolve is the first of names the camera has (false and the first when
// it has none, so that an error names the standard feature).
func resolve(ctx context.Context, c SettingsCamera, names []string) (string, bool) {
	for _, n := range names {
		if fi, err := c.FeatureInfo(ctx, n); err == nil && fi.Access != genicam.AccessNI {
			return n, true
		}
	}
	return names[0], false
}

// ApplySettings checks every camera's settings (settings by serial; a camera
// without an entry gets the zero CameraSettings) and the take's size and
// pixel format against the cameras before anything is written, so that a
// missing feature, a value out of range or off its increment, an entry the
// camera does not offer or a read-only feature fails (naming camera,
// feature, value and the allowed ones) with every camera untouched. Then it
// configures each camera, writes its settings in order (the width-dependent
// ranges checked again as each is written) and reads every one back.
func ApplySettings(ctx context.Context, cams []SettingsCamera, acq genicam.Acquisition, settings map[string]CameraSettings) ([]CameraDevice, error) {
	plans := make([][]step, len(cams))
	var errs []error
	for i, c := range cams {
		p, err := plan(ctx, c, acq, settings[c.Serial()])
		if err != nil {
			errs = append(errs, err)
		}
		plans[i] = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	devs := make([]CameraDevice, len(cams))
	for i, c := range cams {
		d, err := apply(ctx, c, acq, settings[c.Serial()], plans[i])
		if err != nil {
			return nil, err
		}
		devs[i] = d
	}
	return devs, nil
}

// apply configures one camera, writes its steps and reads them back.
func apply(ctx context.Context, c SettingsCamera, acq genicam.Acquisition, s CameraSettings, steps []step) (CameraDevice, error) {
	if err := c.Configure(ctx, acq); err != nil {
		return CameraDevice{}, fmt.Errorf("camera %s: configure: %w", c.Serial(), err)
	}
	info := c.Info()
	d := CameraDevice{Serial: c.Serial(), Name: s.Name, Vendor: info.Vendor, Model: info.Model,
		Firmware: c.Firmware(ctx), Capabilities: c.Capabilities()}
	names := []string{}
	seen := map[string]bool{}
	for _, st := range steps {
		// The size and format Configure wrote; the rest here.
		if st.Name != "PixelFormat" && st.Name != "Width" && st.Name != "Height" {
			if err := c.SetFeature(ctx, st.Name, st.Value); err != nil {
				return CameraDevice{}, err
			}
		}
		if !seen[st.Name] && st.fi.Type != genicam.TypeCommand {
			seen[st.Name] = true
			names = append(names, st.Name)
		}
	}
	if acq.FrameRate > 0 {
		if n, ok := resolve(ctx, c, []string{"AcquisitionFrameRate", "AcquisitionFrameRateAbs"}); ok && !seen[n] {
			names = append(names, n)
		}
	}
	for _, n := range names {
		v, err := c.FeatureValue(ctx, n)
		if err != nil {
			return CameraDevice{}, fmt.Errorf("camera %s: read back %s: %w", c.Serial(), n, err)
		}
		d.Settings = append(d.Settings, Feature{n, v})
	}
	return d, nil
}

// SetDevices gives the recorder the cameras' descriptions and settings
// (ApplySettings') for the session file; call it before Run.
func (r *Recorder) SetDevices(devs []CameraDevice) { r.cfg.Devices = devs }

// ValidTakeID reports whether id is a take id: 1 to 64 of A-Z a-z 0-9 . _ : + -
// (it goes into file names and JSON as it is).
func ValidTakeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:+-", r)
		if !ok {
			return false
		}
	}
	return true
}

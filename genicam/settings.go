// Feature introspection and generic settings by name: what a feature is
// (type, access, range, increment, enumeration entries) and whether a
// value fits it, for every build (the camera side is settings_aravis.go).

package genicam

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// FeatureType is a GenICam feature node's interface.
type FeatureType string

// Feature types.
const (
	TypeInteger     FeatureType = "Integer"
	TypeFloat       FeatureType = "Float"
	TypeBoolean     FeatureType = "Boolean"
	TypeEnumeration FeatureType = "Enumeration"
	TypeString      FeatureType = "String"
	TypeCommand     FeatureType = "Command"
	TypeOther       FeatureType = "Other"
)

// Access modes of a feature, as GenICam names them.
const (
	AccessRO = "RO"
	AccessWO = "WO"
	AccessRW = "RW"
	AccessNA = "NA" // not available now (pIsAvailable)
	AccessNI = "NI" // not implemented (pIsImplemented)
)

// FeatureInfo is what a camera's node tree says about one feature.
type FeatureInfo struct {
	Name   string      `json:"name"`
	Type   FeatureType `json:"type"`
	Access string      `json:"access"`
	Unit   string      `json:"unit,omitempty"`
	// IntMin, IntMax, IntInc bound an Integer (IntInc >= 1).
	IntMin int64 `json:"int_min,omitempty"`
	IntMax int64 `json:"int_max,omitempty"`
	IntInc int64 `json:"int_inc,omitempty"`
	// FloatMin, FloatMax, FloatInc bound a Float (FloatInc 0: none).
	FloatMin float64 `json:"float_min,omitempty"`
	FloatMax float64 `json:"float_max,omitempty"`
	FloatInc float64 `json:"float_inc,omitempty"`
	// Entries are an Enumeration's entries the camera offers (implemented
	// and available).
	Entries []string `json:"entries,omitempty"`
}

// Writable reports whether the feature can be written now.
func (f FeatureInfo) Writable() bool { return f.Access == AccessRW || f.Access == AccessWO }

// Allowed describes the values the feature takes, as error messages print
// them.
func (f FeatureInfo) Allowed() string {
	switch f.Type {
	case TypeInteger:
		s := fmt.Sprintf("%d..%d", f.IntMin, f.IntMax)
		if f.IntInc > 1 {
			s += fmt.Sprintf(" in steps of %d from %d", f.IntInc, f.IntMin)
		}
		return s + unitSuffix(f.Unit)
	case TypeFloat:
		s := fmt.Sprintf("%s..%s", fmtFloat(f.FloatMin), fmtFloat(f.FloatMax))
		if f.FloatInc > 0 {
			s += fmt.Sprintf(" in steps of %s from %s", fmtFloat(f.FloatInc), fmtFloat(f.FloatMin))
		}
		return s + unitSuffix(f.Unit)
	case TypeBoolean:
		return "true or false"
	case TypeEnumeration:
		return "one of " + strings.Join(f.Entries, ", ")
	case TypeCommand:
		return "execute (a command takes no value)"
	case TypeString:
		return "a string"
	}
	return "none: " + string(f.Type) + " nodes cannot be set by name"
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// ErrBadSetting is what every SettingError matches.
var ErrBadSetting = errors.New("bad camera setting")

// SettingError says why a value does not fit a camera's feature: the
// camera, the feature, the value and the values allowed.
type SettingError struct {
	Camera, Feature, Value string
	// Reason is what is wrong ("no such feature", "out of range", ...).
	Reason string
	// Allowed are the values the camera takes ("" when the feature is
	// missing).
	Allowed string
}

func (e *SettingError) Error() string {
	s := fmt.Sprintf("camera %s: %s = %q: %s", e.Camera, e.Feature, e.Value, e.Reason)
	if e.Allowed != "" {
		s += " (allowed: " + e.Allowed + ")"
	}
	return s
}

// Is makes a SettingError match ErrBadSetting.
func (e *SettingError) Is(target error) bool { return target == ErrBadSetting }

// Check reports whether value may be written to the feature; the error is a
// *SettingError naming camera, feature, value and the allowed values.
func (f FeatureInfo) Check(camera, value string) error {
	bad := func(reason string) error {
		return &SettingError{Camera: camera, Feature: f.Name, Value: value, Reason: reason, Allowed: f.Allowed()}
	}
	switch f.Access {
	case AccessNI, "":
		return &SettingError{Camera: camera, Feature: f.Name, Value: value, Reason: "the camera has no such feature"}
	case AccessNA:
		return bad("not available now (another setting disables it)")
	case AccessRO:
		return &SettingError{Camera: camera, Feature: f.Name, Value: value, Reason: "read-only: the camera does not let it be written"}
	}
	switch f.Type {
	case TypeInteger:
		return f.checkInt(value, bad)
	case TypeFloat:
		return f.checkFloat(value, bad)
	case TypeBoolean:
		if _, err := ParseBool(value); err != nil {
			return bad("not a Boolean")
		}
	case TypeEnumeration:
		if !slices.Contains(f.Entries, value) {
			return bad("the camera does not offer this entry")
		}
	case TypeCommand:
		if value != "" && value != "execute" {
			return bad("a command takes no value")
		}
	case TypeString:
	default:
		return bad("unsupported node type")
	}
	return nil
}

func (f FeatureInfo) checkInt(value string, bad func(string) error) error {
	v, err := strconv.ParseInt(value, 0, 64)
	if err != nil {
		fv, ferr := strconv.ParseFloat(value, 64)
		if ferr != nil || fv != math.Trunc(fv) || math.Abs(fv) > 1<<53 {
			return bad("not an integer")
		}
		v = int64(fv)
	}
	if v < f.IntMin || v > f.IntMax {
		return bad("out of range")
	}
	if f.IntInc > 1 && (v-f.IntMin)%f.IntInc != 0 {
		return bad("off the increment")
	}
	return nil
}

func (f FeatureInfo) checkFloat(value string, bad func(string) error) error {
	v, err := strconv.ParseFloat(value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return bad("not a number")
	}
	if v < f.FloatMin || v > f.FloatMax {
		return bad("out of range")
	}
	if f.FloatInc > 0 {
		steps := (v - f.FloatMin) / f.FloatInc
		if math.Abs(steps-math.Round(steps)) > 1e-6*max(1, math.Abs(steps)) {
			return bad("off the increment")
		}
	}
	return nil
}

// ParseBool reads a Boolean setting: true/false, 1/0, on/off, yes/no.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "on", "yes":
		return true, nil
	case "false", "0", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q: want true or false", s)
}

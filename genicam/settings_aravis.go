//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// FeatureInfo reads what the camera's node tree says about a feature: its
// type, access mode now, range and increment, the enumeration entries it
// offers. A feature the camera lacks gives Access NI and no error.
func (c *Camera) FeatureInfo(ctx context.Context, name string) (FeatureInfo, error) {
	if err := c.lock(ctx); err != nil {
		return FeatureInfo{}, err
	}
	defer c.mu.Unlock()
	fi, err := c.featureInfoLocked(name)
	if err != nil {
		return fi, c.wrap(name, err)
	}
	return fi, nil
}

func (c *Camera) featureInfoLocked(name string) (FeatureInfo, error) {
	fi := FeatureInfo{Name: name, Access: AccessNI}
	k := c.kind(name)
	if k == kindNone {
		return fi, nil
	}
	fi.Type = map[nodeKind]FeatureType{kindInteger: TypeInteger, kindFloat: TypeFloat, kindBoolean: TypeBoolean,
		kindEnum: TypeEnumeration, kindString: TypeString, kindCommand: TypeCommand}[k]
	if fi.Type == "" {
		fi.Type = TypeOther
	}
	var err error
	c.withName(name, func(cn *C.char) {
		var gerr *C.GError
		impl := C.arv_device_is_feature_implemented(c.dev, cn, &gerr)
		if err = takeError(&gerr); err != nil || impl == 0 {
			return
		}
		avail := C.arv_device_is_feature_available(c.dev, cn, &gerr)
		if err = takeError(&gerr); err != nil {
			return
		}
		fi.Access = AccessNA
		if avail != 0 {
			fi.Access = map[int]string{accessRO: AccessRO, accessWO: AccessWO, accessRW: AccessRW}[c.accessLocked(name)]
		}
		if fi.Access == "" {
			fi.Access = AccessRW // undefined in the XML: GenICam's default
		}
		if avail != 0 {
			err = c.boundsLocked(cn, &fi)
		}
	})
	return fi, err
}

// boundsLocked fills the range, increment and entries of an available node.
func (c *Camera) boundsLocked(cn *C.char, fi *FeatureInfo) error {
	var gerr *C.GError
	switch fi.Type {
	case TypeInteger:
		var lo, hi C.gint64
		C.arv_device_get_integer_feature_bounds(c.dev, cn, &lo, &hi, &gerr)
		if err := takeError(&gerr); err != nil {
			return err
		}
		inc := C.arv_device_get_integer_feature_increment(c.dev, cn, &gerr)
		if takeError(&gerr) != nil {
			inc = 1 // Aravis fails where the node declares no <Inc>
		}
		fi.IntMin, fi.IntMax, fi.IntInc = int64(lo), int64(hi), max(1, int64(inc))
		fi.Unit = C.GoString(C.gp_int_unit(c.dev, cn))
	case TypeFloat:
		var lo, hi C.double
		C.arv_device_get_float_feature_bounds(c.dev, cn, &lo, &hi, &gerr)
		if err := takeError(&gerr); err != nil {
			return err
		}
		inc := float64(C.arv_device_get_float_feature_increment(c.dev, cn, &gerr))
		if takeError(&gerr) != nil {
			inc = 0 // "<Inc> node not found": the node declares none
		}
		fi.FloatMin, fi.FloatMax = float64(lo), float64(hi)
		// Aravis may also give the smallest double, or a huge one, where
		// the node declares no increment.
		if inc > 1e-12 && !math.IsInf(inc, 0) && inc < math.MaxFloat64/2 {
			fi.FloatInc = inc
		}
		if n := C.arv_device_get_feature(c.dev, cn); n != nil {
			fi.Unit = C.GoString(C.arv_gc_float_get_unit((*C.ArvGcFloat)(unsafe.Pointer(n))))
		}
	case TypeEnumeration:
		var n C.guint
		vals := C.arv_device_dup_available_enumeration_feature_values_as_strings(c.dev, cn, &n, &gerr)
		if err := takeError(&gerr); err != nil {
			return err
		}
		if vals != nil {
			for _, s := range unsafe.Slice(vals, int(n)) {
				fi.Entries = append(fi.Entries, C.GoString(s))
			}
			C.g_free(C.gpointer(unsafe.Pointer(vals)))
		}
	}
	return nil
}

// CheckFeature reports whether value may be written to the feature now; the
// error is a *SettingError (matching ErrBadSetting) naming the camera, the
// feature, the value and the values allowed.
func (c *Camera) CheckFeature(ctx context.Context, name, value string) error {
	fi, err := c.FeatureInfo(ctx, name)
	if err != nil {
		return err
	}
	return fi.Check(c.info.Serial, value)
}

// SetFeature checks value against the feature (CheckFeature) and writes it
// in the feature's type: a number, a Boolean, an enumeration entry, a
// string; a command is executed.
func (c *Camera) SetFeature(ctx context.Context, name, value string) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	fi, err := c.featureInfoLocked(name)
	if err != nil {
		return c.wrap(name, err)
	}
	if err := fi.Check(c.info.Serial, value); err != nil {
		return err
	}
	switch fi.Type {
	case TypeInteger:
		v, perr := strconv.ParseInt(value, 0, 64)
		if perr != nil {
			f, _ := strconv.ParseFloat(value, 64) // Check accepted it as a whole number
			v = int64(f)
		}
		err = c.setIntegerLocked(name, v)
	case TypeFloat:
		v, _ := strconv.ParseFloat(value, 64)
		err = c.setFloatLocked(name, v)
	case TypeBoolean:
		v, _ := ParseBool(value)
		err = c.setBoolLocked(name, v)
	case TypeCommand:
		err = c.executeLocked(name)
	default:
		err = c.setStringLocked(name, value)
	}
	if err != nil {
		return c.wrap(name, err)
	}
	return nil
}

// FeatureValue reads a feature as a string: numbers in Go's shortest form,
// an enumeration as its entry name.
func (c *Camera) FeatureValue(ctx context.Context, name string) (string, error) {
	if err := c.lock(ctx); err != nil {
		return "", err
	}
	defer c.mu.Unlock()
	var s string
	var err error
	switch c.kind(name) {
	case kindNone:
		err = c.missing(name)
	case kindInteger:
		var v int64
		v, err = c.integerLocked(name)
		s = strconv.FormatInt(v, 10)
	case kindFloat:
		var v float64
		v, err = c.floatLocked(name)
		s = fmtFloat(v)
	case kindBoolean:
		var v bool
		v, err = c.boolLocked(name)
		s = strconv.FormatBool(v)
	case kindCommand:
		err = fmt.Errorf("a command has no value")
	default:
		s, err = c.stringLocked(name)
	}
	if err != nil {
		return "", c.wrap(name, err)
	}
	return s, nil
}

// Firmware is the camera's firmware version: DeviceFirmwareVersion, or the
// older DeviceVersion where the camera lacks it ("" when it has neither).
func (c *Camera) Firmware(ctx context.Context) string {
	for _, n := range []string{"DeviceFirmwareVersion", "DeviceVersion"} {
		if c.kind(n) == kindNone {
			continue
		}
		if s, err := c.getString(ctx, n); err == nil {
			return s
		}
	}
	return ""
}

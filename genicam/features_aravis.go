//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"unsafe"
)

// get runs read, one of the *Locked readers, under the camera lock; its
// error names the camera and the feature.
func get[T any](ctx context.Context, c *Camera, name string, read func(string) (T, error)) (T, error) {
	var zero T
	if err := c.lock(ctx); err != nil {
		return zero, err
	}
	defer c.mu.Unlock()
	v, err := read(name)
	if err != nil {
		return zero, c.wrap(name, err)
	}
	return v, nil
}

// set runs write, one of the *Locked writers, under the camera lock; its
// error names the camera and the feature.
func set[T any](ctx context.Context, c *Camera, name string, v T, write func(string, T) error) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if err := write(name, v); err != nil {
		return c.wrap(name, err)
	}
	return nil
}

// callNamed calls f, an Aravis feature call, with the C copy of name and
// returns the GError it leaves as an error.
func (c *Camera) callNamed(name string, f func(cn *C.char, gerr **C.GError)) error {
	var gerr *C.GError
	c.withName(name, func(cn *C.char) { f(cn, &gerr) })
	return takeError(&gerr)
}

// getString reads a string (or enumeration, as its entry name) feature.
func (c *Camera) getString(ctx context.Context, name string) (string, error) {
	return get(ctx, c, name, c.stringLocked)
}

func (c *Camera) stringLocked(name string) (v string, err error) {
	err = c.callNamed(name, func(cn *C.char, gerr **C.GError) {
		if s := C.arv_device_get_string_feature_value(c.dev, cn, gerr); s != nil {
			v = C.GoString(s)
		}
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

// setString writes a string (or enumeration) feature.
func (c *Camera) setString(ctx context.Context, name, value string) error {
	return set(ctx, c, name, value, c.setStringLocked)
}

func (c *Camera) setStringLocked(name, value string) error {
	cv := C.CString(value)
	defer C.free(unsafe.Pointer(cv))
	return c.callNamed(name, func(cn *C.char, gerr **C.GError) { C.arv_device_set_string_feature_value(c.dev, cn, cv, gerr) })
}

// getEnum reads an enumeration feature as its entry name.
func (c *Camera) getEnum(ctx context.Context, name string) (string, error) {
	return c.getString(ctx, name)
}

// setEnum selects an enumeration entry by name.
func (c *Camera) setEnum(ctx context.Context, name, value string) error {
	return c.setString(ctx, name, value)
}

// getInteger reads an integer feature.
func (c *Camera) getInteger(ctx context.Context, name string) (int64, error) {
	return get(ctx, c, name, c.integerLocked)
}

func (c *Camera) integerLocked(name string) (v int64, err error) {
	err = c.callNamed(name, func(cn *C.char, gerr **C.GError) { v = int64(C.arv_device_get_integer_feature_value(c.dev, cn, gerr)) })
	return v, err
}

// setInteger writes an integer feature.
func (c *Camera) setInteger(ctx context.Context, name string, value int64) error {
	return set(ctx, c, name, value, c.setIntegerLocked)
}

func (c *Camera) setIntegerLocked(name string, value int64) error {
	return c.callNamed(name, func(cn *C.char, gerr **C.GError) {
		C.arv_device_set_integer_feature_value(c.dev, cn, C.gint64(value), gerr)
	})
}

// getFloat reads a float feature.
func (c *Camera) getFloat(ctx context.Context, name string) (float64, error) {
	return get(ctx, c, name, c.floatLocked)
}

func (c *Camera) floatLocked(name string) (v float64, err error) {
	err = c.callNamed(name, func(cn *C.char, gerr **C.GError) { v = float64(C.arv_device_get_float_feature_value(c.dev, cn, gerr)) })
	return v, err
}

// setFloat writes a float feature.
func (c *Camera) setFloat(ctx context.Context, name string, value float64) error {
	return set(ctx, c, name, value, c.setFloatLocked)
}

func (c *Camera) setFloatLocked(name string, value float64) error {
	return c.callNamed(name, func(cn *C.char, gerr **C.GError) {
		C.arv_device_set_float_feature_value(c.dev, cn, C.double(value), gerr)
	})
}

// getBool reads a boolean feature.
func (c *Camera) getBool(ctx context.Context, name string) (bool, error) {
	return get(ctx, c, name, c.boolLocked)
}

func (c *Camera) boolLocked(name string) (v bool, err error) {
	err = c.callNamed(name, func(cn *C.char, gerr **C.GError) { v = C.arv_device_get_boolean_feature_value(c.dev, cn, gerr) != 0 })
	return v, err
}

// setBool writes a boolean feature.
func (c *Camera) setBool(ctx context.Context, name string, value bool) error {
	return set(ctx, c, name, value, c.setBoolLocked)
}

func (c *Camera) setBoolLocked(name string, value bool) error {
	return c.callNamed(name, func(cn *C.char, gerr **C.GError) {
		C.arv_device_set_boolean_feature_value(c.dev, cn, cbool(value), gerr)
	})
}

func cbool(b bool) C.gboolean {
	if b {
		return 1
	}
	return 0
}

// execute runs a command feature.
func (c *Camera) execute(ctx context.Context, name string) error {
	_, err := get(ctx, c, name, func(n string) (struct{}, error) { return struct{}{}, c.executeLocked(n) })
	return err
}

func (c *Camera) executeLocked(name string) error {
	return c.callNamed(name, func(cn *C.char, gerr **C.GError) { C.arv_device_execute_command(c.dev, cn, gerr) })
}

// setNumberLocked writes an integer or float feature, whichever the camera
// declares (ActionSchedulerInterval is either, by vendor).
func (c *Camera) setNumberLocked(name string, v float64) error {
	switch c.kind(name) {
	case kindFloat:
		return c.setFloatLocked(name, v)
	case kindNone:
		return c.missing(name)
	default:
		return c.setIntegerLocked(name, int64(v))
	}
}

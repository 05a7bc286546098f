//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// EnablePTP turns the camera's PTP on or off.
func (c *Camera) EnablePTP(ctx context.Context, on bool) error {
	name, err := c.logical("PTP", FeaturePTPEnable)
	if err != nil {
		return err
	}
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if c.kind(name) == kindEnum {
		// PtpMode (Allied Vision): Slave (or Auto) enables, Off disables;
		// the entries were chosen at open (caps.go: ptpEnableEntries).
		if c.capsErr != nil {
			return c.capsErr
		}
		v := c.caps.PTPDisableEntry
		if on {
			v = c.caps.PTPEnableEntry
		}
		err = c.setStringLocked(name, v)
	} else {
		err = c.setBoolLocked(name, on)
	}
	if err != nil {
		return c.wrap(name, err)
	}
	// The tick frequency may change with PTP (GEV cameras switch to 1 GHz).
	c.refreshTickLocked()
	return nil
}

// PTPEnabled reads whether the camera's PTP is on.
func (c *Camera) PTPEnabled(ctx context.Context) (bool, error) {
	name, err := c.logical("PTP", FeaturePTPEnable)
	if err != nil {
		return false, err
	}
	if err := c.lock(ctx); err != nil {
		return false, err
	}
	defer c.mu.Unlock()
	if c.kind(name) == kindEnum {
		s, err := c.stringLocked(name)
		if err != nil {
			return false, c.wrap(name, err)
		}
		off := c.caps.PTPDisableEntry
		if off == "" {
			off = "Off"
		}
		return s != "" && !strings.EqualFold(s, off), nil
	}
	v, err := c.boolLocked(name)
	if err != nil {
		return false, c.wrap(name, err)
	}
	return v, nil
}

// PTPStatus reads the camera's PTP port state by entry name. Where the
// status is latched (Capabilities.StatusLatched) the data set is latched
// first, so the state is the current one. A register value with no entry
// gives PTPStatusValue(n) without error; an entry name the package does not
// know gives PTPUnknown and an error naming it.
func (c *Camera) PTPStatus(ctx context.Context) (PTPStatus, error) {
	name, err := c.logical("PTP status", FeaturePTPStatus)
	if err != nil {
		return PTPUnknown, err
	}
	if err := c.lock(ctx); err != nil {
		return PTPUnknown, err
	}
	defer c.mu.Unlock()
	if c.caps.StatusLatched {
		l := c.feat[FeaturePTPDataSetLatch]
		if err := c.executeLocked(l); err != nil {
			return PTPUnknown, c.wrap(l, err)
		}
	}
	st, err := c.statusLocked(name)
	if err != nil {
		return PTPUnknown, c.wrap(name, err)
	}
	return st, nil
}

// PTPDataSet latches the camera's PTP data set (where it has a latch) and
// reads offset from master, clock id and grandmaster id where exposed.
func (c *Camera) PTPDataSet(ctx context.Context) (PTPDataSet, error) {
	var ds PTPDataSet
	if err := c.lock(ctx); err != nil {
		return ds, err
	}
	defer c.mu.Unlock()
	if n, ok := c.feat[FeaturePTPDataSetLatch]; ok {
		if err := c.executeLocked(n); err != nil {
			return ds, c.wrap(n, err)
		}
	}
	found := false
	if n, ok := c.feat[FeaturePTPOffsetFromMaster]; ok {
		var v int64
		var err error
		if c.kind(n) == kindFloat {
			var f float64
			f, err = c.floatLocked(n)
			v = int64(f)
		} else {
			v, err = c.integerLocked(n)
		}
		if err != nil {
			return ds, c.wrap(n, err)
		}
		ds.OffsetFromMaster, ds.HasOffsetFromMaster, found = time.Duration(v), true, true
	}
	if n, ok := c.feat[FeaturePTPClockID]; ok {
		v, err := c.integerLocked(n)
		if err != nil {
			return ds, c.wrap(n, err)
		}
		ds.ClockID, ds.HasClockID, found = uint64(v), true, true
	}
	if n, ok := c.feat[FeaturePTPGrandmasterID]; ok {
		v, err := c.integerLocked(n)
		if err != nil {
			return ds, c.wrap(n, err)
		}
		ds.GrandmasterID, ds.HasGrandmasterID, found = uint64(v), true, true
	}
	if !found {
		return ds, fmt.Errorf("camera %s: PTP data set: %w", c.info.Serial, ErrNotAvailable)
	}
	return ds, nil
}

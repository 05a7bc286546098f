//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"fmt"
	"time"
)

// SetActionKeys sets the keys an ACTION_CMD must carry to reach this camera:
// ActionDeviceKey, and ActionGroupKey/ActionGroupMask of the camera's first
// action (Capabilities.ActionSelector: 1 on Basler's 1-based selectors). A
// read-only selector (FLIR's {Action0}) is not written; keys written through
// pValueCopy (The Imaging Source) are written to every copy too.
func (c *Camera) SetActionKeys(ctx context.Context, deviceKey, groupKey, groupMask uint32) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if c.caps.Action == ActionNone {
		return fmt.Errorf("camera %s: action keys (ActionDeviceKey): %w", c.info.Serial, ErrNotAvailable)
	}
	if c.caps.ActionSelectorWritable {
		var err error
		if c.kind("ActionSelector") == kindEnum {
			err = c.setStringLocked("ActionSelector", c.selectorEntry)
		} else {
			err = c.setIntegerLocked("ActionSelector", c.caps.ActionSelector)
		}
		if err != nil {
			return c.wrap("ActionSelector", err)
		}
	}
	for _, f := range []struct {
		name string
		v    uint32
	}{{"ActionDeviceKey", deviceKey}, {"ActionGroupKey", groupKey}, {"ActionGroupMask", groupMask}} {
		if err := c.setIntegerCopiesLocked(f.name, int64(f.v)); err != nil {
			return err
		}
	}
	return nil
}

// ProgramScheduler makes the camera take a frame at start (camera time, ns)
// and every interval after it, with its internal action scheduler
// (ActionSchedulerTime/Interval/Commit) firing the camera's own action entry
// (Capabilities.ActionTrigger) as FrameStart trigger. A schedule left by an
// earlier run is cancelled first.
func (c *Camera) ProgramScheduler(ctx context.Context, start int64, interval time.Duration) error {
	if start < 0 || interval <= 0 {
		return fmt.Errorf("camera %s: action scheduler: bad start %d or interval %v", c.info.Serial, start, interval)
	}
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	for _, n := range []string{"ActionSchedulerTime", "ActionSchedulerInterval", "ActionSchedulerCommit"} {
		if c.kind(n) == kindNone {
			return fmt.Errorf("camera %s: action scheduler: feature %s: %w", c.info.Serial, n, ErrNotAvailable)
		}
	}
	if c.caps.ActionTrigger == "" {
		return fmt.Errorf("camera %s: action scheduler: TriggerSource has no Action entry: %w", c.info.Serial, ErrNotAvailable)
	}
	if c.kind("ActionSchedulerCancel") == kindCommand {
		if err := c.executeLocked("ActionSchedulerCancel"); err != nil {
			return c.wrap("ActionSchedulerCancel", err)
		}
	}
	if err := c.triggerLocked(c.caps.ActionTrigger, "On"); err != nil {
		return err
	}
	if err := c.setIntegerLocked("ActionSchedulerTime", start); err != nil {
		return c.wrap("ActionSchedulerTime", err)
	}
	if err := c.setNumberLocked("ActionSchedulerInterval", float64(interval)/float64(time.Microsecond)); err != nil {
		return c.wrap("ActionSchedulerInterval", err)
	}
	if err := c.executeLocked("ActionSchedulerCommit"); err != nil {
		return c.wrap("ActionSchedulerCommit", err)
	}
	return nil
}

// triggerLocked sets the FrameStart trigger's source and mode. TriggerMode
// goes Off before the source changes: cameras lock TriggerSource while
// triggering is on (FLIR declares pIsLocked on it).
func (c *Camera) triggerLocked(source, mode string) error {
	if err := c.setStringLocked("TriggerSelector", "FrameStart"); err != nil {
		return c.wrap("TriggerSelector", err)
	}
	if source != "" {
		if err := c.setStringLocked("TriggerMode", "Off"); err != nil {
			return c.wrap("TriggerMode", err)
		}
		if err := c.setStringLocked("TriggerSource", source); err != nil {
			return c.wrap("TriggerSource", err)
		}
	}
	if err := c.setStringLocked("TriggerMode", mode); err != nil {
		return c.wrap("TriggerMode", err)
	}
	return nil
}

// setTrigger sets the FrameStart trigger source ("Action0", "Software",
// "Line0", ...) and turns triggering on; an empty source turns it off. The
// source for action commands is Capabilities().ActionTrigger.
func (c *Camera) setTrigger(ctx context.Context, source string) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if source == "" {
		return c.triggerLocked("", "Off")
	}
	return c.triggerLocked(source, "On")
}

// CancelScheduler stops the action scheduler (ActionSchedulerCancel where the
// camera has it) and turns the FrameStart trigger off.
func (c *Camera) CancelScheduler(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if c.kind("ActionSchedulerCancel") == kindCommand {
		if err := c.executeLocked("ActionSchedulerCancel"); err != nil {
			return c.wrap("ActionSchedulerCancel", err)
		}
	}
	return c.triggerLocked("", "Off")
}

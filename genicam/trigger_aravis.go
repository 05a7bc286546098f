//go:build cgo && !noaravis

package genicam

import "context"

// SetFrameTrigger sets the FrameStart trigger source (an entry of the
// camera's TriggerSource enumeration: Capabilities().ActionTrigger for
// action commands, a Line entry for an external trigger) and turns
// triggering on; an empty source turns triggering off, so that the camera
// runs free at its frame rate.
func (c *Camera) SetFrameTrigger(ctx context.Context, source string) error {
	return c.setTrigger(ctx, source)
}

// TickFrequency is the camera's timestamp tick frequency in Hz (1e9 on a
// camera counting ns): the unit of a scheduled ACTION_CMD's action_time.
func (c *Camera) TickFrequency() uint64 { return c.tickFrequency() }

//go:build !cgo || noaravis

package genicam

import "context"

// SetFrameTrigger sets the FrameStart trigger source; without Aravis it fails.
func (c *Camera) SetFrameTrigger(ctx context.Context, source string) error { return ErrNoAravis }

// TickFrequency is the camera's timestamp tick frequency; 0 without Aravis.
func (c *Camera) TickFrequency() uint64 { return 0 }

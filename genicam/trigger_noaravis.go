//go:build !cgo || noaravis

package genicam

import "context"

// SetFrameTrigger sets the FrameStart trigger source; without Aravis it fails.
func (c *Camera) SetFrameTrigger(ctx context.Context, source string) error { return ErrNoAravis }

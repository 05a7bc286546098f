//go:build !cgo || noaravis

package genicam

import (
	"context"
	"time"
)

// This file gives builds without Aravis (CGO_ENABLED=0 or -tags noaravis) the
// same API as the *_aravis.go files; every camera function fails with ErrNoAravis.

// Discover fails with ErrNoAravis.
func Discover(ctx context.Context, iface string) ([]DeviceInfo, error) { return nil, ErrNoAravis }

func openAddress(ctx context.Context, addr string, cfg openConfig) (*Camera, error) {
	return nil, ErrNoAravis
}

// Camera is a camera; without Aravis none can be opened.
type Camera struct{}

// Close does nothing.
func (c *Camera) Close() error { return nil }

// Serial returns "".
func (c *Camera) Serial() string { return "" }

// Info returns a zero DeviceInfo.
func (c *Camera) Info() DeviceInfo { return DeviceInfo{} }

// Feature reports no feature.
func (c *Camera) Feature(logical string) (string, bool) { return "", false }

// PTPAvailable returns false.
func (c *Camera) PTPAvailable() bool { return false }

// EnablePTP fails with ErrNoAravis.
func (c *Camera) EnablePTP(ctx context.Context, on bool) error { return ErrNoAravis }

// PTPEnabled fails with ErrNoAravis.
func (c *Camera) PTPEnabled(ctx context.Context) (bool, error) { return false, ErrNoAravis }

// PTPStatus fails with ErrNoAravis.
func (c *Camera) PTPStatus(ctx context.Context) (PTPStatus, error) { return PTPUnknown, ErrNoAravis }

// PTPDataSet fails with ErrNoAravis.
func (c *Camera) PTPDataSet(ctx context.Context) (PTPDataSet, error) {
	return PTPDataSet{}, ErrNoAravis
}

// Latch fails with ErrNoAravis.
func (c *Camera) Latch(ctx context.Context) (LatchSample, error) { return LatchSample{}, ErrNoAravis }

// LatchAll fails with ErrNoAravis for every camera.
func LatchAll(ctx context.Context, cams []*Camera) ([]LatchSample, []error) { return noAravisAll(cams) }

func noAravisAll(cams []*Camera) ([]LatchSample, []error) {
	errs := make([]error, len(cams))
	for i := range errs {
		errs[i] = ErrNoAravis
	}
	return make([]LatchSample, len(cams)), errs
}

// Configure fails with ErrNoAravis.
func (c *Camera) Configure(ctx context.Context, a Acquisition) error { return ErrNoAravis }

// SetActionKeys fails with ErrNoAravis.
func (c *Camera) SetActionKeys(ctx context.Context, deviceKey, groupKey, groupMask uint32) error {
	return ErrNoAravis
}

// ProgramScheduler fails with ErrNoAravis.
func (c *Camera) ProgramScheduler(ctx context.Context, start int64, interval time.Duration) error {
	return ErrNoAravis
}

// CancelScheduler fails with ErrNoAravis.
func (c *Camera) CancelScheduler(ctx context.Context) error { return ErrNoAravis }

// StartStream fails with ErrNoAravis.
func (c *Camera) StartStream(ctx context.Context, cfg StreamConfig) (*Stream, error) {
	return nil, ErrNoAravis
}

// Stream is a running acquisition; without Aravis none can be started.
type Stream struct{}

// Next fails with ErrNoAravis.
func (s *Stream) Next(ctx context.Context) (Frame, error) { return Frame{}, ErrNoAravis }

// Release fails with ErrNoAravis.
func (s *Stream) Release(f Frame) error { return ErrNoAravis }

// Stats returns zero counters.
func (s *Stream) Stats() StreamStats { return StreamStats{} }

// Close does nothing.
func (s *Stream) Close() error { return nil }

// Capabilities returns none.
func (c *Camera) Capabilities() Capabilities { return Capabilities{} }

// TakeControl fails with ErrNoAravis.
func (c *Camera) TakeControl(ctx context.Context) error { return ErrNoAravis }

// LeaveControl fails with ErrNoAravis.
func (c *Camera) LeaveControl(ctx context.Context) error { return ErrNoAravis }

// IsController returns false.
func (c *Camera) IsController() bool { return false }

// Controller fails with ErrNoAravis.
func (c *Camera) Controller(ctx context.Context) (Controller, bool, error) {
	return Controller{}, false, ErrNoAravis
}

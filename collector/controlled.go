package collector

import (
	"context"
	"fmt"

	"github.com/ptpcam/ptpcam/genicam"
)

// ControlledSource is the CameraSource of cameras this process already has
// open with control (camrecord's during a take): the collector samples them
// as the exporter does, with the same bracketed latch, but neither takes nor
// leaves their control and never closes them; their owner does.
//
// The cameras' Aravis calls are serialised per camera (genicam's threading
// model) and streams do not take that lock, so sampling never holds up
// acquisition.
type ControlledSource struct {
	Cameras []*genicam.Camera
}

// Discover implements CameraSource: the cameras, no broadcast.
func (s ControlledSource) Discover(ctx context.Context) ([]genicam.DeviceInfo, error) {
	out := make([]genicam.DeviceInfo, len(s.Cameras))
	for i, c := range s.Cameras {
		out[i] = c.Info()
	}
	return out, nil
}

// Open implements CameraSource.
func (s ControlledSource) Open(ctx context.Context, info genicam.DeviceInfo) (Camera, error) {
	for _, c := range s.Cameras {
		if c.Info().Serial == info.Serial {
			return controlledCamera{Camera: c, caps: c.Capabilities()}, nil
		}
	}
	return nil, fmt.Errorf("camera %s: not among this process' open cameras", info.Serial)
}

// controlledCamera hides a controlled camera's control methods (the
// collector would leave control after a sample) and its Close.
type controlledCamera struct {
	Camera
	caps genicam.Capabilities
}

func (c controlledCamera) Capabilities() genicam.Capabilities { return c.caps }

// Close implements Camera: the camera stays open; its owner closes it.
func (controlledCamera) Close() error { return nil }

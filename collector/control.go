package collector

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

// GigE Vision gives one application control of a camera (its CCP register,
// kept by heartbeat); others may read it. A timestamp latch, a latched PTP
// status and enabling PTP are writes, so they need control.
//
// A camera opened for monitoring (controlCamera) is sampled with control
// taken for the sample and left right after, so the camera is free between
// samples and camrecord (or another application) can take it. While another
// application holds it, the collector does not fight for it: it reads what
// monitor access allows (PTP enable, a live PTP status), reports the camera
// up with ptpcam_camera_controller_info naming the holder, and exports no
// clock delta: the holder measures it (camrecord serves the same camera
// series on its own endpoint), so nothing is stale or counted twice.
//
// A camera without control methods (ControlledSource: cameras this process
// already controls) is sampled as it is.

// controlCamera is what a camera opened for monitoring adds; *genicam.Camera
// has it.
type controlCamera interface {
	TakeControl(ctx context.Context) error
	LeaveControl(ctx context.Context) error
}

var camControllerDesc = camDesc("controller_info",
	"Another application controls the camera (GigE Vision CCP), value 1: its address from the camera's primary application registers, this_host when it runs on this host (camrecord, for one). Meanwhile the collector reads only what monitor access allows and sends no latch.",
	"address", "this_host")

// takeControl takes control of a camera for one sample and returns what
// leaves it. When it cannot, the sample is over: the camera is held by
// another application (sampleHeld) or failed, and err is not nil.
func (c *CameraCollector) takeControl(ctx context.Context, s *camState, cc controlCamera) (leave func(), err error) {
	if err := cc.TakeControl(ctx); err != nil {
		if h, ok := heldBy(err); ok {
			c.sampleHeld(ctx, s, h)
		} else {
			c.sampleFailed(s, err)
		}
		return nil, err
	}
	leave = func() {
		// Left even when the sample's context has run out: holding a
		// camera past the sample would block a take until the heartbeat
		// times out.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
		defer cancel()
		if err := cc.LeaveControl(lctx); err != nil {
			c.logger.Warn("camera: leaving control failed; the camera frees it when the heartbeat times out", "serial", s.info.Serial, "err", err)
		}
	}
	if s.pendingEnable {
		if err := s.cam.EnablePTP(ctx, true); err != nil {
			leave()
			c.sampleFailed(s, err)
			return nil, err
		}
		s.pendingEnable = false
	}
	return leave, nil
}

// sampleHeld records a sample of a camera another application controls:
// the reads monitor access allows, no latch.
func (c *CameraCollector) sampleHeld(ctx context.Context, s *camState, h holder) {
	var (
		enabled   *bool
		status    genicam.PTPStatus
		hasStatus bool
	)
	if s.ptpAvail {
		enabled = c.readEnabled(ctx, s, s.cam)
		// A live status reads with monitor access; a latched one needs
		// the latch write, which only the controller may send: not tried.
		if s.caps == nil || !s.caps.StatusLatched {
			st, err := s.cam.PTPStatus(ctx)
			switch {
			case err == nil:
				status, hasStatus = st, true
			case !errors.Is(err, genicam.ErrNotAvailable):
				c.logger.Debug("camera PTP status unreadable while held", "serial", s.info.Serial, "err", err)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.held == nil || *s.held != h || !s.up {
		c.logger.Info("camera controlled by another application: monitoring reads only, no latch",
			"serial", s.info.Serial, "controller", h.address, "this_host", h.thisHost, "process", h.process)
	}
	s.up, s.failures, s.lastErr, s.held = true, 0, nil, &h
	s.enabled, s.status, s.hasStatus, s.dataset = enabled, status, hasStatus, genicam.PTPDataSet{}
	s.sampledAt = time.Time{} // the holder measures the delta
}

// holder is the application that controls a camera.
type holder struct {
	address  string // primary application IP:port
	thisHost bool
	process  string // best effort, for the log
}

// heldBy tells whether err says another application controls the camera,
// and which.
func heldBy(err error) (holder, bool) {
	var he *genicam.HeldError
	if !errors.As(err, &he) {
		return holder{}, false
	}
	h := holder{address: "unknown", thisHost: he.Holder.ThisHost, process: he.Holder.Process}
	if he.Holder.Addr.IsValid() {
		h.address = he.Holder.Addr.String()
	}
	return h, true
}

func (h holder) labels() []string { return []string{h.address, strconv.FormatBool(h.thisHost)} }

//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include "arvglue.h"
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Aravis' error codes (ArvDeviceError in arvdevice.h) for a command the
// camera refused for lack of privilege, and for a stream of a non-controller.
const (
	arvDeviceErrorNotController = 10
	arvDeviceErrorAccessDenied  = 17
)

// isAccessDenied reports whether err is a GigE Vision ACCESS_DENIED or
// Aravis' "not controller".
func isAccessDenied(err error) bool {
	var ae *AravisError
	return errors.As(err, &ae) && ae.Domain == "arv-device-error-quark" &&
		(ae.Code == arvDeviceErrorAccessDenied || ae.Code == arvDeviceErrorNotController)
}

// TakeControl takes the camera's control privilege (a write of CCP), which
// writes (features, latches, streams) need. Taking it again while holding it
// is harmless. While another application holds the camera it fails with a
// *HeldError naming that application. Aravis' heartbeat keeps control until
// LeaveControl or Close.
func (c *Camera) TakeControl(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	return c.takeControlLocked()
}

func (c *Camera) takeControlLocked() error {
	gv := C.gp_gv_device(c.dev)
	if gv == nil {
		c.control = true // no control channel: nothing to take
		return nil
	}
	var gerr *C.GError
	ok := C.arv_gv_device_take_control(gv, &gerr) != 0
	err := takeError(&gerr)
	if ok && err == nil {
		c.control = true
		c.learnOwnAddrLocked()
		return nil
	}
	// A refused take leaves Aravis' own flag as it was: ours says the truth.
	c.control = false
	if err == nil {
		err = errors.New("Aravis refused taking control")
	}
	if he := c.heldLocked("take control", err); he != nil {
		return he
	}
	return fmt.Errorf("camera %s: take control: %w", c.info.Serial, err)
}

// learnOwnAddrLocked reads the primary application address right after a
// take: it is this Camera's GVCP socket as the camera sees it, so that a
// later read can tell this Camera from another controller.
func (c *Camera) learnOwnAddrLocked() {
	if a, err := c.primaryAddrLocked(); err == nil && a.IsValid() {
		c.ownAddr = a
	}
}

// LeaveControl gives the control privilege back (CCP written 0), so that
// another application can take the camera; reads go on working. Leaving
// when not holding control does nothing. If the write fails the camera may
// still count this Camera as its controller: Close it then.
func (c *Camera) LeaveControl(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	return c.leaveControlLocked()
}

func (c *Camera) leaveControlLocked() error {
	gv := C.gp_gv_device(c.dev)
	if gv == nil {
		c.control = false
		return nil
	}
	if !c.control && C.arv_gv_device_is_controller(gv) == 0 {
		return nil
	}
	var gerr *C.GError
	ok := C.arv_gv_device_leave_control(gv, &gerr) != 0
	err := takeError(&gerr)
	if ok && err == nil {
		c.control = false
		return nil
	}
	if err == nil {
		err = errors.New("Aravis refused leaving control")
	}
	if c.heldLocked("leave control", err) != nil {
		return nil // another application holds it: this Camera has nothing to leave
	}
	return fmt.Errorf("camera %s: leave control: %w", c.info.Serial, err)
}

// IsController reports whether this Camera holds control, as far as it
// knows without asking the camera (Controller asks).
func (c *Camera) IsController() bool {
	if c.lock(context.Background()) != nil {
		return false
	}
	defer c.mu.Unlock()
	gv := C.gp_gv_device(c.dev)
	if gv == nil {
		return c.control
	}
	return c.control && C.arv_gv_device_is_controller(gv) != 0
}

// Controller reads who controls the camera from its CCP and primary
// application registers (reads, allowed without control). held is false
// while nobody controls the camera. A camera without a GigE Vision control
// channel gives ErrNotAvailable.
func (c *Camera) Controller(ctx context.Context) (Controller, bool, error) {
	if err := c.lock(ctx); err != nil {
		return Controller{}, false, err
	}
	ctl, held, err := c.controllerLocked()
	c.mu.Unlock()
	if err != nil {
		return Controller{}, false, err
	}
	return describeHolder(ctl, &c.owners), held, nil
}

// controllerLocked reads the registers; the caller fills in the host part
// (describeHolder) outside the lock, since it scans /proc.
func (c *Camera) controllerLocked() (Controller, bool, error) {
	if C.gp_gv_device(c.dev) == nil {
		return Controller{}, false, fmt.Errorf("camera %s: controller: not a GigE Vision camera: %w", c.info.Serial, ErrNotAvailable)
	}
	ccp, err := c.readRegisterLocked(regCCP)
	if err != nil {
		return Controller{}, false, fmt.Errorf("camera %s: controller: read CCP: %w", c.info.Serial, err)
	}
	addr, addrErr := c.primaryAddrLocked()
	held := ccp&ccpPrivilegeBits != 0 || (addrErr == nil && addr.IsValid())
	if !held {
		return Controller{}, false, nil
	}
	ctl := Controller{Addr: addr}
	mine := c.control && C.arv_gv_device_is_controller(C.gp_gv_device(c.dev)) != 0
	ctl.Self = mine && (!addr.IsValid() || !c.ownAddr.IsValid() || addr == c.ownAddr)
	if ctl.Self {
		ctl.ThisHost = true
		ctl.Process, ctl.PID = selfProcess()
	}
	return ctl, true, nil
}

// primaryAddrLocked reads the primary application IP and port; the zero
// AddrPort while nobody controls the camera.
func (c *Camera) primaryAddrLocked() (netip.AddrPort, error) {
	ip, err := c.readRegisterLocked(regPrimaryIP)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := c.readRegisterLocked(regPrimaryPort)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if ip == 0 {
		return netip.AddrPort{}, nil
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], ip)
	return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(port&0xffff)), nil
}

func (c *Camera) readRegisterLocked(addr uint64) (uint32, error) {
	var v C.guint32
	var gerr *C.GError
	C.arv_device_read_register(c.dev, C.guint64(addr), &v, &gerr)
	if err := takeError(&gerr); err != nil {
		return 0, err
	}
	return uint32(v), nil
}

// heldLocked turns an access-denied error of op into a *HeldError when
// another application holds the camera; nil otherwise (a write refused for
// another reason, e.g. a locked feature, stays Aravis' error).
func (c *Camera) heldLocked(op string, err error) *HeldError {
	if !isAccessDenied(err) {
		return nil
	}
	ctl, held, cerr := c.controllerLocked()
	if cerr != nil || !held || ctl.Self {
		return nil
	}
	// The camera dropped this Camera (its heartbeat went unanswered) and
	// another application took it; Aravis may not have noticed.
	c.control = false
	return &HeldError{Serial: c.info.Serial, Holder: describeHolder(ctl, &c.owners), Op: op, Err: err}
}

// openForControl makes a just opened camera the controller (Aravis tried
// once while opening), retrying for cfg.controlWait while another
// application holds it, or, for monitoring, leaves control at once.
func (c *Camera) openForControl(ctx context.Context, cfg openConfig) error {
	if cfg.monitor {
		return c.LeaveControl(ctx)
	}
	deadline := time.Now().Add(cfg.controlWait)
	for {
		err := c.TakeControl(ctx)
		if err == nil || !errors.Is(err, ErrHeld) {
			return err
		}
		wait := min(controlRetry, time.Until(deadline))
		if wait <= 0 {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

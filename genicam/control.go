package genicam

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// GigE Vision lets one application control a camera at a time: the one that
// holds the control channel privilege (CCP, bootstrap register 0x0A00) and
// keeps it with its heartbeat. Every other application has monitor access:
// it may read registers, and its writes are answered ACCESS_DENIED. The
// camera shows its controller in the primary application registers
// (0x0A04 port, 0x0A14 IPv4 address; 0 while nobody controls it).
//
// Aravis takes control when it opens a camera and keeps it with a heartbeat
// thread that, while it believes it controls the camera, reads CCP about
// once a second (any command of the controller counts as a heartbeat); once
// it has left control that thread sends nothing. So a Camera that has left
// control stays usable for reads, and nothing in Aravis closes it when
// another application takes the camera.

// Bootstrap registers of the control channel (GigE Vision 2.x, table 28).
const (
	regCCP           = 0x0A00
	regPrimaryPort   = 0x0A04
	regPrimaryIP     = 0x0A14
	ccpExclusive     = 1 << 0
	ccpControl       = 1 << 1
	ccpPrivilegeBits = ccpExclusive | ccpControl
)

// DefaultControlWait is how long opening a camera for control keeps trying
// to take it while another application holds it (ControlWait): long enough
// that a monitor holding it only for a sample (a few round trips) never makes
// the open fail, short enough that a camera held by a recording fails fast.
const DefaultControlWait = 3 * time.Second

// controlRetry is the pause between two attempts to take control.
const controlRetry = 100 * time.Millisecond

// Controller is the application that holds a camera's control privilege, as
// the camera's bootstrap registers show it.
type Controller struct {
	// Addr is the controller's GVCP address and port (primary application
	// IP and port); invalid when the camera does not show it.
	Addr netip.AddrPort
	// Self: this Camera holds control.
	Self bool
	// ThisHost: Addr is one of this host's (network namespace's) addresses.
	ThisHost bool
	// Process is, best effort, the local process owning Addr's UDP socket,
	// as "ptpcam_exporter (pid 1234)"; "" when unknown (another host, or
	// /proc not readable). PID is its pid (0 when unknown).
	Process string
	PID     int
}

// String describes the controller: "10.0.0.1:51234 (this host:
// ptpcam_exporter pid 1234)".
func (c Controller) String() string {
	s := "unknown address"
	if c.Addr.IsValid() {
		s = c.Addr.String()
	}
	switch {
	case c.Self:
		s += " (this camera object)"
	case c.ThisHost && c.Process != "":
		s += fmt.Sprintf(" (this host: %s pid %d)", c.processName(), c.PID)
	case c.ThisHost:
		s += " (this host)"
	}
	return s
}

func (c Controller) processName() string {
	if c.PID == 0 {
		return c.Process
	}
	suffix := fmt.Sprintf(" (pid %d)", c.PID)
	if len(c.Process) > len(suffix) && c.Process[len(c.Process)-len(suffix):] == suffix {
		return c.Process[:len(c.Process)-len(suffix)]
	}
	return c.Process
}

// ErrHeld matches every *HeldError (errors.Is).
var ErrHeld = errors.New("camera controlled by another application")

// HeldError reports that a camera is controlled by another application, so
// that this one could not take control or was refused a write.
type HeldError struct {
	Serial string
	Holder Controller
	// Op is what was refused ("take control", "feature PtpEnable"); "" for
	// none in particular.
	Op string
	// Err is Aravis' own error (access-denied), if any.
	Err error
}

func (e *HeldError) Error() string {
	s := fmt.Sprintf("camera %s is controlled by another application at %s", e.Serial, e.Holder)
	if e.Op != "" {
		s += ": " + e.Op + " refused"
	}
	return s
}

// Unwrap returns Aravis' error.
func (e *HeldError) Unwrap() error { return e.Err }

// Is makes a HeldError match ErrHeld.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// OpenOption changes how OpenDevice and OpenSelection open a camera.
type OpenOption func(*openConfig)

type openConfig struct {
	monitor     bool
	controlWait time.Duration
}

func newOpenConfig(opts []OpenOption) openConfig {
	cfg := openConfig{controlWait: DefaultControlWait}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Monitor opens the camera for monitoring: Aravis' control is left at once,
// so the camera is free between samples (take it for a write with
// TakeControl, give it back with LeaveControl). Reads work without control.
func Monitor() OpenOption { return func(c *openConfig) { c.monitor = true } }

// ControlWait bounds how long opening for control keeps trying to take a
// camera another application holds (default DefaultControlWait; 0 tries
// once). After it the open fails with a *HeldError.
func ControlWait(d time.Duration) OpenOption {
	return func(c *openConfig) { c.controlWait = max(d, 0) }
}

// describeHolder fills in ThisHost and Process of a controller that is not
// this Camera; oc remembers the owner between calls.
func describeHolder(c Controller, oc *ownerCache) Controller {
	if !c.Addr.IsValid() || c.Self {
		return c
	}
	c.ThisHost = isLocalAddr(c.Addr.Addr())
	if pid, name, ok := oc.lookup(c.Addr); ok {
		c.ThisHost = true
		c.PID = pid
		c.Process = fmt.Sprintf("%s (pid %d)", name, pid)
	}
	return c
}

// isLocalAddr reports whether ip is assigned to an interface of this network
// namespace.
func isLocalAddr(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if p, ok := netip.AddrFromSlice(n.IP); ok && p.Unmap() == ip.Unmap() {
			return true
		}
	}
	return false
}

// selfProcess is this process as Controller.Process names it.
func selfProcess() (string, int) {
	return fmt.Sprintf("%s (pid %d)", processName(os.Getpid()), os.Getpid()), os.Getpid()
}

//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <malloc.h>
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// mallocInUse is the number of bytes malloc has handed out and not got back,
// over all arenas: what the leak test watches. RSS also moves with arenas
// and fragmentation, and chunks parked in per-thread caches (glibc's tcache,
// GLib's GSlice magazines) count as in use, so the test calls from one
// thread.
func mallocInUse() int64 { return int64(C.mallinfo2().uordblks) }

type nodeKind int

const (
	kindNone    nodeKind = C.GP_NONE
	kindInteger nodeKind = C.GP_INTEGER
	kindFloat   nodeKind = C.GP_FLOAT
	kindBoolean nodeKind = C.GP_BOOLEAN
	kindEnum    nodeKind = C.GP_ENUM
	kindString  nodeKind = C.GP_STRING
	kindCommand nodeKind = C.GP_COMMAND
)

// takeError converts *gerr into a Go error, frees it and sets *gerr back to
// NULL so the next call can reuse the variable (GLib warns about a GError set
// over a previous one otherwise).
func takeError(gerr **C.GError) error {
	if *gerr == nil {
		return nil
	}
	e := &AravisError{
		Domain:  C.GoString(C.g_quark_to_string((*gerr).domain)),
		Code:    int((*gerr).code),
		Message: C.GoString((*gerr).message),
	}
	C.g_error_free(*gerr)
	*gerr = nil
	return e
}

// Camera is one open camera.
//
// Threading: all methods may be called from any goroutine. Every call that
// touches the ArvCamera takes mu, so calls on one camera are serialised while
// different cameras run in parallel. The C objects are owned by the Camera
// and released by Close (a finalizer is only a safety net). Aravis calls
// cannot be interrupted: ctx is checked before each call and Aravis' own GVCP
// timeouts (about 0.5 s × retries) bound it.
type Camera struct {
	mu      sync.Mutex
	cam     *C.ArvCamera
	dev     *C.ArvDevice // owned by cam
	info    DeviceInfo
	feat    map[string]string // logical → camera spelling; read-only after open
	cnames  map[string]*C.char
	tick    uint64
	caps    Capabilities
	capsErr error
	// valueCopies: node → the nodes its pValueCopy names (see caps.go).
	valueCopies map[string][]string
	// selectorEntry: an enumeration ActionSelector's entry for the action.
	selectorEntry string
	streams       map[*Stream]struct{}
	// closing is set by the first Close before it closes the streams
	// outside mu: from then on no call starts (lock fails); closed is set
	// once the Aravis objects are gone. closeOnce makes every later or
	// concurrent Close wait for the first and release nothing again;
	// releases counts the releases (at most 1; a test checks it).
	closing, closed bool
	closeOnce       sync.Once
	releases        int
	// control: this Camera holds the control privilege, as far as its own
	// takes and leaves tell (Aravis keeps its flag set after a refused
	// take); ownAddr is its GVCP address as the camera showed it after the
	// last take (see control_aravis.go).
	control bool
	ownAddr netip.AddrPort
	// owners remembers the process found holding the camera (control.go).
	owners ownerCache
}

func openName(ctx context.Context, name string) (*Camera, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var cname *C.char
	if name != "" {
		cname = C.CString(name)
		defer C.free(unsafe.Pointer(cname))
	}
	var gerr *C.GError
	discoveryMu.Lock()
	cam := C.arv_camera_new(cname, &gerr)
	discoveryMu.Unlock()
	if err := takeError(&gerr); err != nil {
		if cam != nil {
			C.g_object_unref(C.gpointer(cam))
		}
		return nil, err
	}
	if cam == nil {
		return nil, errors.New("Aravis returned no camera")
	}
	c := &Camera{cam: cam, dev: C.arv_camera_get_device(cam), cnames: map[string]*C.char{},
		streams: map[*Stream]struct{}{}}
	runtime.SetFinalizer(c, func(c *Camera) { _ = c.Close() })

	str := func(f func(*C.ArvCamera, **C.GError) *C.char) string {
		s := f(cam, &gerr)
		_ = takeError(&gerr)
		return C.GoString(s)
	}
	c.info.Serial = str(func(a *C.ArvCamera, e **C.GError) *C.char { return C.arv_camera_get_device_serial_number(a, e) })
	c.info.Vendor = str(func(a *C.ArvCamera, e **C.GError) *C.char { return C.arv_camera_get_vendor_name(a, e) })
	c.info.Model = str(func(a *C.ArvCamera, e **C.GError) *C.char { return C.arv_camera_get_model_name(a, e) })
	c.info.ID = str(func(a *C.ArvCamera, e **C.GError) *C.char { return C.arv_camera_get_device_id(a, e) })
	if gv := C.gp_gv_device(c.dev); gv != nil {
		if s := C.gp_sockaddr_ip(C.arv_gv_device_get_device_address(gv)); s != nil {
			c.info.Address = C.GoString(s)
			C.g_free(C.gpointer(s))
		}
		if s := C.gp_sockaddr_ip(C.arv_gv_device_get_interface_address(gv)); s != nil {
			c.info.Interface = interfaceWithIP(C.GoString(s))
			C.g_free(C.gpointer(s))
		}
	}
	if c.info.Interface == "" {
		c.info.Interface = interfaceForAddress(c.info.Address)
	}
	if c.info.Serial == "" {
		c.info.Serial = name
	}

	c.feat = resolveFamilies(func(n string) bool { return c.kind(n) != kindNone })
	for _, logical := range []string{FeatureTimestampLatch, FeatureTimestampLatchValue} {
		if n, ok := c.feat[logical]; ok {
			c.cnames[logical] = C.CString(n)
		}
	}
	if gv := C.gp_gv_device(c.dev); gv != nil {
		c.control = C.arv_gv_device_is_controller(gv) != 0
	}
	c.findCapsLocked()
	c.tick = 1_000_000_000
	c.refreshTickLocked()
	return c, nil
}

// Close stops the camera's streams and releases the Aravis objects. Calling
// it again is harmless.
func (c *Camera) Close() error {
	c.closeOnce.Do(c.release)
	return nil
}

// release is Close's one run: streams first (outside mu, since Stream.Close
// takes it), then the camera's Aravis objects.
func (c *Camera) release() {
	c.mu.Lock()
	c.closing = true
	streams := make([]*Stream, 0, len(c.streams))
	for s := range c.streams {
		streams = append(streams, s)
	}
	c.mu.Unlock()
	for _, s := range streams {
		_ = s.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	runtime.SetFinalizer(c, nil)
	for k, p := range c.cnames {
		C.free(unsafe.Pointer(p))
		delete(c.cnames, k)
	}
	C.g_object_unref(C.gpointer(c.cam))
	c.cam, c.dev = nil, nil
	c.releases++
}

// Serial returns the camera's serial number.
func (c *Camera) Serial() string { return c.info.Serial }

// Info returns what is known of the camera; Interface is the host interface
// Aravis talks to it through.
func (c *Camera) Info() DeviceInfo { return c.info }

// tickFrequency is the camera's timestamp tick frequency in Hz.
func (c *Camera) tickFrequency() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tick
}

// Feature returns the camera's spelling of a logical feature name (one of the
// Feature* constants) and whether the camera has one.
func (c *Camera) Feature(logical string) (string, bool) {
	n, ok := c.feat[logical]
	return n, ok
}

// PTPAvailable reports whether the camera has a PTP enable or status feature.
func (c *Camera) PTPAvailable() bool {
	_, e := c.feat[FeaturePTPEnable]
	_, s := c.feat[FeaturePTPStatus]
	return e || s
}

// wrap names the camera and the feature in err; a write refused because
// another application controls the camera becomes a *HeldError naming it.
// The caller holds mu.
func (c *Camera) wrap(name string, err error) error {
	if he := c.heldLocked("feature "+name, err); he != nil {
		return he
	}
	return fmt.Errorf("camera %s: feature %s: %w", c.info.Serial, name, err)
}

// lock takes the camera lock after checking ctx and that the camera is open.
func (c *Camera) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("camera %s: %w", c.info.Serial, err)
	}
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return fmt.Errorf("camera %s: %w", c.info.Serial, ErrClosed)
	}
	return nil
}

func (c *Camera) kind(name string) nodeKind {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return nodeKind(C.gp_node_kind(c.dev, cn))
}

// isAvailable reports whether the camera declares the feature and it is
// currently available (GenICam pIsAvailable).
func (c *Camera) isAvailable(name string) bool {
	if c.lock(context.Background()) != nil {
		return false
	}
	defer c.mu.Unlock()
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.gp_node_kind(c.dev, cn) == C.GP_NONE {
		return false
	}
	var gerr *C.GError
	ok := C.arv_camera_is_feature_available(c.cam, cn, &gerr)
	return takeError(&gerr) == nil && ok != 0
}

// missing is the error for a feature the camera does not declare, in the
// same form Aravis gives.
func (c *Camera) missing(name string) error {
	return &AravisError{Domain: "arv-device-error-quark", Code: arvDeviceErrorFeatureNotFound,
		Message: "[" + name + "] Not found"}
}

// logical returns the camera's spelling of a logical feature, or an error
// matching ErrNotAvailable.
func (c *Camera) logical(what, logical string) (string, error) {
	n, ok := c.feat[logical]
	if !ok {
		return "", fmt.Errorf("camera %s: %s (%s): %w", c.info.Serial, what, strings.Join(featureFamilies[logical], "/"), ErrNotAvailable)
	}
	return n, nil
}

// interfaceWithIP names the local interface that has ip assigned.
func interfaceWithIP(ip string) string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		if slices.ContainsFunc(addrs, func(a net.Addr) bool {
			n, ok := a.(*net.IPNet)
			return ok && n.IP.String() == ip
		}) {
			return ifc.Name
		}
	}
	return ""
}

//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <arv.h>
// #include <malloc.h>
// #include <stdlib.h>
// #include <time.h>
//
// // gp_execute_timed executes a command feature between two reads of
// // CLOCK_REALTIME (the clock time.Now reads), all in one C call: the bracket
// // then holds only the command's round trip, never the Go scheduler's delay
// // in handing the thread a P again after the cgo call.
// static void gp_execute_timed(ArvDevice *dev, const char *name, struct timespec *before,
// 		struct timespec *after, GError **err) {
// 	clock_gettime(CLOCK_REALTIME, before);
// 	arv_device_execute_command(dev, name, err);
// 	clock_gettime(CLOCK_REALTIME, after);
// }
//
// // Node kinds for gp_node_kind; Go mirrors them as nodeKind.
// enum { GP_NONE, GP_INTEGER, GP_FLOAT, GP_BOOLEAN, GP_ENUM, GP_STRING, GP_COMMAND, GP_OTHER };
//
// // gp_node_kind tells which typed interface a feature node implements; the
// // GObject type macros are not callable from Go.
// static int gp_node_kind(ArvDevice *dev, const char *name) {
// 	ArvGcNode *n = arv_device_get_feature(dev, name);
// 	if (n == NULL) return GP_NONE;
// 	if (ARV_IS_GC_ENUMERATION(n)) return GP_ENUM;
// 	if (ARV_IS_GC_COMMAND(n)) return GP_COMMAND;
// 	if (ARV_IS_GC_BOOLEAN(n)) return GP_BOOLEAN;
// 	if (ARV_IS_GC_FLOAT(n)) return GP_FLOAT;
// 	if (ARV_IS_GC_INTEGER(n)) return GP_INTEGER;
// 	if (ARV_IS_GC_STRING(n)) return GP_STRING;
// 	return GP_OTHER;
// }
//
// // gp_sockaddr_ip returns the IP of an inet socket address as a string the
// // caller frees with g_free, or NULL.
// static char *gp_sockaddr_ip(GSocketAddress *a) {
// 	if (a == NULL || !G_IS_INET_SOCKET_ADDRESS(a)) return NULL;
// 	return g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(a)));
// }
//
// static ArvGvDevice *gp_gv_device(ArvDevice *dev) {
// 	return ARV_IS_GV_DEVICE(dev) ? ARV_GV_DEVICE(dev) : NULL;
// }
//
// static void gp_unref(gpointer p) { if (p != NULL) g_object_unref(p); }
//
// // gp_gv_stream_tune sets the GigE Vision stream's timing properties (µs; 0
// // leaves one as it is); g_object_set is variadic, which cgo cannot call.
// static void gp_gv_stream_tune(ArvStream *s, guint frame_retention_us, guint packet_timeout_us) {
// 	if (s == NULL || !ARV_IS_GV_STREAM(s)) return;
// 	if (frame_retention_us > 0) g_object_set(s, "frame-retention", frame_retention_us, NULL);
// 	if (packet_timeout_us > 0) g_object_set(s, "packet-timeout", packet_timeout_us, NULL);
// }
//
// static guint gp_gv_stream_uint(ArvStream *s, const char *prop) {
// 	guint v = 0;
// 	if (s != NULL && ARV_IS_GV_STREAM(s)) g_object_get(s, prop, &v, NULL);
// 	return v;
// }
import "C"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
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

// discoveryMu serialises Aravis' process-global device list: discovery fills
// it and opening a camera reads it.
var discoveryMu sync.Mutex

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

// Discover lists the cameras Aravis finds (arv_update_device_list, about one
// second: Aravis waits for late answers). With iface non-empty only cameras
// reached through that host interface are returned; Aravis 0.8 itself
// broadcasts on every interface of the namespace, so the restriction is a
// filter on the answers.
func Discover(ctx context.Context, iface string) ([]DeviceInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	if iface != "" {
		if _, err := net.InterfaceByName(iface); err != nil {
			return nil, fmt.Errorf("discover on %q: %w", iface, err)
		}
	}
	discoveryMu.Lock()
	defer discoveryMu.Unlock()
	C.arv_update_device_list()
	n := int(C.arv_get_n_devices())
	var out []DeviceInfo
	for i := 0; i < n; i++ {
		idx := C.uint(i)
		d := DeviceInfo{
			ID:      C.GoString(C.arv_get_device_id(idx)),
			Serial:  C.GoString(C.arv_get_device_serial_nbr(idx)),
			Vendor:  C.GoString(C.arv_get_device_vendor(idx)),
			Model:   C.GoString(C.arv_get_device_model(idx)),
			Address: C.GoString(C.arv_get_device_address(idx)),
		}
		d.Interface = interfaceForAddress(d.Address)
		if iface != "" && d.Interface != iface {
			continue
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Serial < out[j].Serial })
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	return out, nil
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
}

// openAddress opens the camera at a host name or IP address without a
// discovery broadcast (Aravis unicasts to the address), for control or for
// monitoring as cfg says.
func openAddress(ctx context.Context, addr string, cfg openConfig) (*Camera, error) {
	c, err := openName(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("open camera at %s: %w", addr, err)
	}
	if err := c.openForControl(ctx, cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
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

// TickFrequency is the camera's timestamp tick frequency in Hz.
func (c *Camera) TickFrequency() uint64 {
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

// IsAvailable reports whether the camera declares the feature and it is
// currently available (GenICam pIsAvailable).
func (c *Camera) IsAvailable(name string) bool {
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

// get runs read, one of the *Locked readers, under the camera lock; its
// error names the camera and the feature.
func get[T any](ctx context.Context, c *Camera, name string, read func(string) (T, error)) (T, error) {
	var zero T
	if err := c.lock(ctx); err != nil {
		return zero, err
	}
	defer c.mu.Unlock()
	v, err := read(name)
	if err != nil {
		return zero, c.wrap(name, err)
	}
	return v, nil
}

// set runs write, one of the *Locked writers, under the camera lock; its
// error names the camera and the feature.
func set[T any](ctx context.Context, c *Camera, name string, v T, write func(string, T) error) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if err := write(name, v); err != nil {
		return c.wrap(name, err)
	}
	return nil
}

// String reads a string (or enumeration, as its entry name) feature.
func (c *Camera) String(ctx context.Context, name string) (string, error) {
	return get(ctx, c, name, c.stringLocked)
}

func (c *Camera) stringLocked(name string) (string, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	s := C.arv_device_get_string_feature_value(c.dev, cn, &gerr)
	if err := takeError(&gerr); err != nil {
		return "", err
	}
	return C.GoString(s), nil
}

// SetString writes a string (or enumeration) feature.
func (c *Camera) SetString(ctx context.Context, name, value string) error {
	return set(ctx, c, name, value, c.setStringLocked)
}

func (c *Camera) setStringLocked(name, value string) error {
	cn, cv := C.CString(name), C.CString(value)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cv))
	var gerr *C.GError
	C.arv_device_set_string_feature_value(c.dev, cn, cv, &gerr)
	return takeError(&gerr)
}

// Enum reads an enumeration feature as its entry name.
func (c *Camera) Enum(ctx context.Context, name string) (string, error) {
	return c.String(ctx, name)
}

// setEnum selects an enumeration entry by name.
func (c *Camera) setEnum(ctx context.Context, name, value string) error {
	return c.SetString(ctx, name, value)
}

// Integer reads an integer feature.
func (c *Camera) Integer(ctx context.Context, name string) (int64, error) {
	return get(ctx, c, name, c.integerLocked)
}

func (c *Camera) integerLocked(name string) (int64, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	v := C.arv_device_get_integer_feature_value(c.dev, cn, &gerr)
	return int64(v), takeError(&gerr)
}

// setInteger writes an integer feature.
func (c *Camera) setInteger(ctx context.Context, name string, value int64) error {
	return set(ctx, c, name, value, c.setIntegerLocked)
}

func (c *Camera) setIntegerLocked(name string, value int64) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	C.arv_device_set_integer_feature_value(c.dev, cn, C.gint64(value), &gerr)
	return takeError(&gerr)
}

// Float reads a float feature.
func (c *Camera) Float(ctx context.Context, name string) (float64, error) {
	return get(ctx, c, name, c.floatLocked)
}

func (c *Camera) floatLocked(name string) (float64, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	v := C.arv_device_get_float_feature_value(c.dev, cn, &gerr)
	return float64(v), takeError(&gerr)
}

// setFloat writes a float feature.
func (c *Camera) setFloat(ctx context.Context, name string, value float64) error {
	return set(ctx, c, name, value, c.setFloatLocked)
}

func (c *Camera) setFloatLocked(name string, value float64) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	C.arv_device_set_float_feature_value(c.dev, cn, C.double(value), &gerr)
	return takeError(&gerr)
}

// Bool reads a boolean feature.
func (c *Camera) Bool(ctx context.Context, name string) (bool, error) {
	return get(ctx, c, name, c.boolLocked)
}

func (c *Camera) boolLocked(name string) (bool, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	v := C.arv_device_get_boolean_feature_value(c.dev, cn, &gerr)
	return v != 0, takeError(&gerr)
}

// setBool writes a boolean feature.
func (c *Camera) setBool(ctx context.Context, name string, value bool) error {
	return set(ctx, c, name, value, c.setBoolLocked)
}

func (c *Camera) setBoolLocked(name string, value bool) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	C.arv_device_set_boolean_feature_value(c.dev, cn, cbool(value), &gerr)
	return takeError(&gerr)
}

func cbool(b bool) C.gboolean {
	if b {
		return 1
	}
	return 0
}

// Execute runs a command feature.
func (c *Camera) Execute(ctx context.Context, name string) error {
	_, err := get(ctx, c, name, func(n string) (struct{}, error) { return struct{}{}, c.executeLocked(n) })
	return err
}

func (c *Camera) executeLocked(name string) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var gerr *C.GError
	C.arv_device_execute_command(c.dev, cn, &gerr)
	return takeError(&gerr)
}

// setNumberLocked writes an integer or float feature, whichever the camera
// declares (ActionSchedulerInterval is either, by vendor).
func (c *Camera) setNumberLocked(name string, v float64) error {
	switch c.kind(name) {
	case kindFloat:
		return c.setFloatLocked(name, v)
	case kindNone:
		return c.missing(name)
	default:
		return c.setIntegerLocked(name, int64(v))
	}
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

// EnablePTP turns the camera's PTP on or off.
func (c *Camera) EnablePTP(ctx context.Context, on bool) error {
	name, err := c.logical("PTP", FeaturePTPEnable)
	if err != nil {
		return err
	}
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if c.kind(name) == kindEnum {
		// PtpMode (Allied Vision): Slave (or Auto) enables, Off disables;
		// the entries were chosen at open (caps.go: ptpEnableEntries).
		if c.capsErr != nil {
			return c.capsErr
		}
		v := c.caps.PTPDisableEntry
		if on {
			v = c.caps.PTPEnableEntry
		}
		err = c.setStringLocked(name, v)
	} else {
		err = c.setBoolLocked(name, on)
	}
	if err != nil {
		return c.wrap(name, err)
	}
	// The tick frequency may change with PTP (GEV cameras switch to 1 GHz).
	c.refreshTickLocked()
	return nil
}

// PTPEnabled reads whether the camera's PTP is on.
func (c *Camera) PTPEnabled(ctx context.Context) (bool, error) {
	name, err := c.logical("PTP", FeaturePTPEnable)
	if err != nil {
		return false, err
	}
	if err := c.lock(ctx); err != nil {
		return false, err
	}
	defer c.mu.Unlock()
	if c.kind(name) == kindEnum {
		s, err := c.stringLocked(name)
		if err != nil {
			return false, c.wrap(name, err)
		}
		off := c.caps.PTPDisableEntry
		if off == "" {
			off = "Off"
		}
		return s != "" && !strings.EqualFold(s, off), nil
	}
	v, err := c.boolLocked(name)
	if err != nil {
		return false, c.wrap(name, err)
	}
	return v, nil
}

// PTPStatus reads the camera's PTP port state by entry name. Where the
// status is latched (Capabilities.StatusLatched) the data set is latched
// first, so the state is the current one. A register value with no entry
// gives PTPStatusValue(n) without error; an entry name the package does not
// know gives PTPUnknown and an error naming it.
func (c *Camera) PTPStatus(ctx context.Context) (PTPStatus, error) {
	name, err := c.logical("PTP status", FeaturePTPStatus)
	if err != nil {
		return PTPUnknown, err
	}
	if err := c.lock(ctx); err != nil {
		return PTPUnknown, err
	}
	defer c.mu.Unlock()
	if c.caps.StatusLatched {
		l := c.feat[FeaturePTPDataSetLatch]
		if err := c.executeLocked(l); err != nil {
			return PTPUnknown, c.wrap(l, err)
		}
	}
	st, err := c.statusLocked(name)
	if err != nil {
		return PTPUnknown, c.wrap(name, err)
	}
	return st, nil
}

// PTPDataSet latches the camera's PTP data set (where it has a latch) and
// reads offset from master, clock id and grandmaster id where exposed.
func (c *Camera) PTPDataSet(ctx context.Context) (PTPDataSet, error) {
	var ds PTPDataSet
	if err := c.lock(ctx); err != nil {
		return ds, err
	}
	defer c.mu.Unlock()
	if n, ok := c.feat[FeaturePTPDataSetLatch]; ok {
		if err := c.executeLocked(n); err != nil {
			return ds, c.wrap(n, err)
		}
	}
	found := false
	if n, ok := c.feat[FeaturePTPOffsetFromMaster]; ok {
		var v int64
		var err error
		if c.kind(n) == kindFloat {
			var f float64
			f, err = c.floatLocked(n)
			v = int64(f)
		} else {
			v, err = c.integerLocked(n)
		}
		if err != nil {
			return ds, c.wrap(n, err)
		}
		ds.OffsetFromMaster, ds.HasOffsetFromMaster, found = time.Duration(v), true, true
	}
	if n, ok := c.feat[FeaturePTPClockID]; ok {
		v, err := c.integerLocked(n)
		if err != nil {
			return ds, c.wrap(n, err)
		}
		ds.ClockID, ds.HasClockID, found = uint64(v), true, true
	}
	if n, ok := c.feat[FeaturePTPGrandmasterID]; ok {
		v, err := c.integerLocked(n)
		if err != nil {
			return ds, c.wrap(n, err)
		}
		ds.GrandmasterID, ds.HasGrandmasterID, found = uint64(v), true, true
	}
	if !found {
		return ds, fmt.Errorf("camera %s: PTP data set: %w", c.info.Serial, ErrNotAvailable)
	}
	return ds, nil
}

// Latch latches the camera's timestamp and reads it, with the host clock read
// right before the latch command and right after its acknowledgement, in the
// same C call (gp_execute_timed). The camera lock is taken before the first
// host read, so waiting for it never widens the bracket, and so is a PM QoS
// request that keeps idle CPUs awake (HoldCPULatency), so that the
// acknowledgement's wake-up does not either. A read of the latch register
// right before warms the path. A latch is thus three GVCP round trips, one of
// them bracketed.
func (c *Camera) Latch(ctx context.Context) (LatchSample, error) {
	if _, err := c.logical("timestamp latch", FeatureTimestampLatch); err != nil {
		return LatchSample{}, err
	}
	if _, err := c.logical("timestamp latch value", FeatureTimestampLatchValue); err != nil {
		return LatchSample{}, err
	}
	release, _ := holdCPULatency(0)
	defer release()
	if err := c.lock(ctx); err != nil {
		return LatchSample{}, err
	}
	defer c.mu.Unlock()
	// The first round trip after idle pays for waking the threads and CPUs
	// at both ends; a read of the latch register pays it outside the
	// bracket (BenchmarkLatch8/idle: the first latch of a batch went from
	// 33 to 11 µs, p50). A latch in ticks reads the tick frequency again
	// first: it may have changed since open (PTP turned on).
	c.refreshTickLocked()
	if _, err := c.readLatchLocked(); err != nil {
		return LatchSample{}, err
	}
	s := LatchSample{Serial: c.info.Serial}
	var gerr *C.GError
	var before, after C.struct_timespec
	C.gp_execute_timed(c.dev, c.cnames[FeatureTimestampLatch], &before, &after, &gerr)
	s.HostBefore = time.Unix(int64(before.tv_sec), int64(before.tv_nsec))
	s.HostAfter = time.Unix(int64(after.tv_sec), int64(after.tv_nsec))
	if err := takeError(&gerr); err != nil {
		return LatchSample{}, c.wrap(c.feat[FeatureTimestampLatch], err)
	}
	v, err := c.readLatchLocked()
	if err != nil {
		return LatchSample{}, err
	}
	s.Device = v
	return s, nil
}

func (c *Camera) readLatchLocked() (int64, error) {
	var gerr *C.GError
	v := C.arv_device_get_integer_feature_value(c.dev, c.cnames[FeatureTimestampLatchValue], &gerr)
	if err := takeError(&gerr); err != nil {
		return 0, c.wrap(c.feat[FeatureTimestampLatchValue], err)
	}
	return ticksToNs(uint64(v), c.tick), nil
}

// LatchAll latches every camera concurrently, each with its own bracket, so
// a camera's error does not grow with its position in a loop. samples[i] and
// errs[i] belong to cams[i].
func LatchAll(ctx context.Context, cams []*Camera) ([]LatchSample, []error) {
	// Each Latch holds the request too; taking it once first wakes the idle
	// CPUs once, before any bracket opens, instead of as each one does.
	release, _ := holdCPULatency(0)
	defer release()
	samples := make([]LatchSample, len(cams))
	errs := make([]error, len(cams))
	var wg sync.WaitGroup
	for i, c := range cams {
		wg.Go(func() { samples[i], errs[i] = c.Latch(ctx) })
	}
	wg.Wait()
	return samples, errs
}

// latchSequential does what the original chktimestat.py did: read the host
// clock, latch every camera in turn, read the host clock, then read all
// latched values. Every sample shares the one wide bracket. It exists to
// measure the artefact LatchAll removes; use LatchAll.
func latchSequential(ctx context.Context, cams []*Camera) ([]LatchSample, []error) {
	samples := make([]LatchSample, len(cams))
	errs := make([]error, len(cams))
	for i, c := range cams {
		if _, err := c.logical("timestamp latch", FeatureTimestampLatch); err != nil {
			errs[i] = err
		} else if _, err := c.logical("timestamp latch value", FeatureTimestampLatchValue); err != nil {
			errs[i] = err
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := time.Now()
	for i, c := range cams {
		if errs[i] != nil {
			continue
		}
		if err := c.lock(ctx); err != nil {
			errs[i] = err
			continue
		}
		var gerr *C.GError
		C.arv_device_execute_command(c.dev, c.cnames[FeatureTimestampLatch], &gerr)
		if err := takeError(&gerr); err != nil {
			errs[i] = c.wrap(c.feat[FeatureTimestampLatch], err)
		}
		c.mu.Unlock()
	}
	after := time.Now()
	for i, c := range cams {
		if errs[i] != nil {
			continue
		}
		if err := c.lock(ctx); err != nil {
			errs[i] = err
			continue
		}
		v, err := c.readLatchLocked()
		c.mu.Unlock()
		samples[i] = LatchSample{Serial: c.info.Serial, Device: v, HostBefore: before, HostAfter: after}
		errs[i] = err
	}
	return samples, errs
}

// Configure sets pixel format, size and frame rate (zero fields are left
// alone), in that order because the size bounds depend on the format.
func (c *Camera) Configure(ctx context.Context, a Acquisition) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if a.PixelFormat != "" {
		if err := c.setStringLocked("PixelFormat", a.PixelFormat); err != nil {
			return c.wrap("PixelFormat", err)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Width", a.Width}, {"Height", a.Height}} {
		if f.v == 0 {
			continue
		}
		if err := c.setIntegerLocked(f.name, int64(f.v)); err != nil {
			return c.wrap(f.name, err)
		}
	}
	if a.FrameRate > 0 {
		if c.kind("AcquisitionFrameRateEnable") == kindBoolean {
			if err := c.setBoolLocked("AcquisitionFrameRateEnable", true); err != nil {
				return c.wrap("AcquisitionFrameRateEnable", err)
			}
		}
		name := "AcquisitionFrameRate"
		if c.kind(name) == kindNone && c.kind("AcquisitionFrameRateAbs") != kindNone {
			name = "AcquisitionFrameRateAbs"
		}
		if err := c.setNumberLocked(name, a.FrameRate); err != nil {
			return c.wrap(name, err)
		}
	}
	return nil
}

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

// SetTrigger sets the FrameStart trigger source ("Action0", "Software",
// "Line0", ...) and turns triggering on; an empty source turns it off. The
// source for action commands is Capabilities().ActionTrigger.
func (c *Camera) SetTrigger(ctx context.Context, source string) error {
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

// Stream is a running acquisition with a fixed pool of Aravis buffers.
//
// Threading: Next and Release may be called from any goroutine (they use
// Aravis' thread-safe buffer queues, not the camera lock); Close waits for a
// Next in progress (at most one 50 ms poll) and must not race with Release
// of frames the caller still uses. Frames not released before Close are
// freed by Close: their Data must not be touched afterwards.
type Stream struct {
	cam    *Camera
	mu     sync.RWMutex // RLock: Next/Release/Stats; Lock: Close
	stream *C.ArvStream
	bufs   []*C.ArvBuffer
	outMu  sync.Mutex
	out    map[*C.ArvBuffer]bool // buffers handed to the caller; keys preset, no allocation per frame
	closed bool
}

// StartStream creates the camera's stream, fills its pool with cfg.Buffers
// buffers of the current payload size and starts acquisition. Configure the
// camera first: the payload size is fixed here.
func (c *Camera) StartStream(ctx context.Context, cfg StreamConfig) (*Stream, error) {
	if cfg.Buffers <= 0 {
		cfg.Buffers = 8
	}
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var gerr *C.GError
	payload := C.arv_camera_get_payload(c.cam, &gerr)
	if err := takeError(&gerr); err != nil {
		return nil, fmt.Errorf("camera %s: stream: payload size: %w", c.info.Serial, err)
	}
	st := C.arv_camera_create_stream(c.cam, nil, nil, &gerr)
	if err := takeError(&gerr); err != nil {
		C.gp_unref(C.gpointer(st))
		if he := c.heldLocked("stream", err); he != nil {
			return nil, he
		}
		return nil, fmt.Errorf("camera %s: stream: %w", c.info.Serial, err)
	}
	if st == nil {
		return nil, fmt.Errorf("camera %s: stream: Aravis created none", c.info.Serial)
	}
	C.gp_gv_stream_tune(st, C.guint(cfg.FrameRetention.Microseconds()), C.guint(cfg.PacketTimeout.Microseconds()))
	tuneReceive(st, cfg)
	s := &Stream{cam: c, stream: st, out: make(map[*C.ArvBuffer]bool, cfg.Buffers)}
	for i := 0; i < cfg.Buffers; i++ {
		b := C.arv_buffer_new_allocate(C.size_t(payload))
		s.bufs = append(s.bufs, b)
		s.out[b] = false
		C.arv_stream_push_buffer(st, b)
	}
	C.arv_camera_start_acquisition(c.cam, &gerr)
	if err := takeError(&gerr); err != nil {
		C.g_object_unref(C.gpointer(st))
		if he := c.heldLocked("start acquisition", err); he != nil {
			return nil, he
		}
		return nil, fmt.Errorf("camera %s: stream: start acquisition: %w", c.info.Serial, err)
	}
	c.streams[s] = struct{}{}
	runtime.SetFinalizer(s, func(s *Stream) { _ = s.Close() })
	return s, nil
}

// timing returns the stream's frame retention and packet timeout as Aravis
// has them.
func (s *Stream) timing() (frameRetention, packetTimeout time.Duration) {
	fr, pt := C.CString("frame-retention"), C.CString("packet-timeout")
	defer C.free(unsafe.Pointer(fr))
	defer C.free(unsafe.Pointer(pt))
	return time.Duration(C.gp_gv_stream_uint(s.stream, fr)) * time.Microsecond,
		time.Duration(C.gp_gv_stream_uint(s.stream, pt)) * time.Microsecond
}

// Next waits for the next frame. Frames that arrived incomplete are returned
// too, with their Status; Data is then what was received.
func (s *Stream) Next(ctx context.Context) (Frame, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Frame{}, fmt.Errorf("camera %s: stream: %w", s.cam.info.Serial, ErrClosed)
	}
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, fmt.Errorf("camera %s: stream: %w", s.cam.info.Serial, err)
		}
		wait := 50 * time.Millisecond
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			wait = max(time.Until(d), time.Millisecond)
		}
		b := C.arv_stream_timeout_pop_buffer(s.stream, C.guint64(wait/time.Microsecond))
		if b == nil {
			continue
		}
		s.outMu.Lock()
		s.out[b] = true
		s.outMu.Unlock()
		f := Frame{
			FrameID:         uint64(C.arv_buffer_get_frame_id(b)),
			Timestamp:       int64(C.arv_buffer_get_timestamp(b)),
			SystemTimestamp: int64(C.arv_buffer_get_system_timestamp(b)),
			Status:          FrameStatus(C.arv_buffer_get_status(b)),
			buf:             unsafe.Pointer(b),
		}
		var size C.size_t
		if p := C.arv_buffer_get_data(b, &size); p != nil && size > 0 {
			f.Data = unsafe.Slice((*byte)(p), int(size))
		}
		if f.Status == FrameSuccess && C.arv_buffer_get_payload_type(b) == C.ARV_BUFFER_PAYLOAD_TYPE_IMAGE {
			f.Width = int(C.arv_buffer_get_image_width(b))
			f.Height = int(C.arv_buffer_get_image_height(b))
			f.PixelFormat = uint32(C.arv_buffer_get_image_pixel_format(b))
		}
		return f, nil
	}
}

// Release gives a frame's buffer back to the pool. Releasing a frame twice,
// or one from another stream, is an error (never a double push).
func (s *Stream) Release(f Frame) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil // Close freed it
	}
	b := (*C.ArvBuffer)(f.buf)
	s.outMu.Lock()
	held, ok := s.out[b]
	if ok && held {
		s.out[b] = false
	}
	s.outMu.Unlock()
	if !ok || !held {
		return fmt.Errorf("camera %s: stream: release of frame %d: not a frame held from this stream", s.cam.info.Serial, f.FrameID)
	}
	C.arv_stream_push_buffer(s.stream, b)
	return nil
}

var statNames = []string{"n_completed_buffers", "n_failures", "n_underruns", "n_timeouts", "n_aborted",
	"n_missing_frames", "n_received_packets", "n_missing_packets", "n_error_packets", "n_ignored_packets",
	"n_resend_requests", "n_resent_packets", "n_duplicated_packets", "n_transferred_bytes"}

var cStatNames = func() []*C.char {
	out := make([]*C.char, len(statNames))
	for i, n := range statNames {
		out[i] = C.CString(n) // lives as long as the process
	}
	return out
}()

// Stats returns Aravis' counters of the stream. They are read without
// stopping the receive thread (as Aravis' own tools do), so one snapshot may
// mix counts a frame apart.
func (s *Stream) Stats() StreamStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return StreamStats{}
	}
	v := make([]uint64, len(cStatNames))
	for i, n := range cStatNames {
		v[i] = uint64(C.arv_stream_get_info_uint64_by_name(s.stream, n))
	}
	return StreamStats{
		CompletedBuffers: v[0], Failures: v[1], Underruns: v[2], Timeouts: v[3], Aborted: v[4],
		MissingFrames: v[5], ReceivedPackets: v[6], MissingPackets: v[7], ErrorPackets: v[8],
		IgnoredPackets: v[9], ResendRequests: v[10], ResentPackets: v[11], DuplicatedPackets: v[12],
		TransferredBytes: v[13],
	}
}

// Close stops acquisition and frees the stream and all its buffers, also
// those of frames not released.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	runtime.SetFinalizer(s, nil)
	var stopErr error
	c := s.cam
	c.mu.Lock()
	if !c.closed {
		var gerr *C.GError
		C.arv_camera_stop_acquisition(c.cam, &gerr)
		if err := takeError(&gerr); err != nil {
			stopErr = fmt.Errorf("camera %s: stream: stop acquisition: %w", c.info.Serial, err)
		}
	}
	delete(c.streams, s)
	c.mu.Unlock()
	// Finalizing the stream stops its thread and unrefs the buffers in its
	// queues; the ones the caller holds are ours to unref.
	C.g_object_unref(C.gpointer(s.stream))
	s.stream = nil
	for b, held := range s.out {
		if held {
			C.g_object_unref(C.gpointer(b))
		}
	}
	clear(s.out)
	s.bufs = nil
	return stopErr
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

//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
)

// discoveryMu serialises Aravis' process-global device list: discovery fills
// it and opening a camera reads it.
var discoveryMu sync.Mutex

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

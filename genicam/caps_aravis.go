//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// GenICam access modes as Aravis numbers them (ArvGcAccessMode).
const (
	accessRO = int(C.ARV_GC_ACCESS_MODE_RO)
	accessWO = int(C.ARV_GC_ACCESS_MODE_WO)
	accessRW = int(C.ARV_GC_ACCESS_MODE_RW)
)

func (c *Camera) withName(name string, f func(*C.char)) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	f(cn)
}

func (c *Camera) accessLocked(name string) (a int) {
	c.withName(name, func(cn *C.char) { a = int(C.gp_access(c.dev, cn)) })
	return a
}

func (c *Camera) writableLocked(name string) bool {
	a := c.accessLocked(name)
	return a == accessRW || a == accessWO
}

func (c *Camera) descriptionLocked(name string) (d string) {
	c.withName(name, func(cn *C.char) { d = C.GoString(C.gp_description(c.dev, cn)) })
	return d
}

func (c *Camera) intUnitLocked(name string) (u string) {
	c.withName(name, func(cn *C.char) { u = C.GoString(C.gp_int_unit(c.dev, cn)) })
	return strings.TrimSpace(u)
}

func (c *Camera) intRangeLocked(name string) (lo, hi int64, err error) {
	c.withName(name, func(cn *C.char) {
		var l, h C.gint64
		var gerr *C.GError
		ok := C.gp_int_range(c.dev, cn, &l, &h, &gerr)
		err = takeError(&gerr)
		if err == nil && ok == 0 {
			err = c.missing(name)
		}
		lo, hi = int64(l), int64(h)
	})
	return lo, hi, err
}

// enumEntriesAllLocked lists an enumeration's declared entries.
func (c *Camera) enumEntriesAllLocked(name string) []string { return c.enumEntryNamesLocked(name, 0) }

// enumEntriesLocked lists an enumeration's implemented entries.
func (c *Camera) enumEntriesLocked(name string) []string { return c.enumEntryNamesLocked(name, 1) }

// enumEntryNamesLocked lists an enumeration's entries, only the implemented
// ones when implemented is 1 (gp_enum_entry_name's only_impl).
func (c *Camera) enumEntryNamesLocked(name string, implemented C.int) (out []string) {
	c.withName(name, func(cn *C.char) {
		for i := 0; ; i++ {
			s := C.gp_enum_entry_name(c.dev, cn, C.int(i), implemented)
			if s == nil {
				return
			}
			out = append(out, C.GoString(s))
		}
	})
	return out
}

// statusLocked reads a status enumeration by entry name; a value with no
// entry gives PTPStatusValue(raw) and no error.
func (c *Camera) statusLocked(name string) (st PTPStatus, err error) {
	c.withName(name, func(cn *C.char) {
		var gerr *C.GError
		raw := C.gint64(-1)
		s := C.gp_enum_read(c.dev, cn, &raw, &gerr)
		if err = takeError(&gerr); err != nil {
			return
		}
		if s == nil {
			st = PTPStatusValue(int64(raw))
			return
		}
		var ok bool
		if st, ok = parsePTPStatus(C.GoString(s)); !ok {
			err = fmt.Errorf("unknown PTP status entry %q", C.GoString(s))
		}
	})
	return st, err
}

// genicamXMLLocked is the camera's GenICam XML as Aravis loaded it.
func (c *Camera) genicamXMLLocked() []byte {
	var size C.size_t
	p := C.arv_device_get_genicam_xml(c.dev, &size)
	if p == nil || size == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(size))
}

// findCapsLocked decides the camera's Capabilities from its nodes (at open).
func (c *Camera) findCapsLocked() {
	var cp Capabilities
	cp.PTPForm = "none"
	if n, ok := c.feat[FeaturePTPEnable]; ok {
		if c.kind(n) == kindEnum {
			cp.PTPForm = n + ":enum"
			on, off, err := ptpEnableEntries(c.enumEntriesLocked(n))
			if err == nil {
				cp.PTPEnableEntry, cp.PTPDisableEntry = on, off
			} else {
				c.capsErr = fmt.Errorf("camera %s: feature %s: %w", c.info.Serial, n, err)
			}
		} else {
			cp.PTPForm = n + ":bool"
		}
	} else if _, ok := c.feat[FeaturePTPStatus]; ok {
		cp.PTPForm = "status-only"
	}
	if n, ok := c.feat[FeaturePTPStatus]; ok {
		_, hasLatch := c.feat[FeaturePTPDataSetLatch]
		cp.StatusLatched = hasLatch && (strings.HasSuffix(n, "Latched") ||
			strings.Contains(strings.ToLower(c.descriptionLocked(n)), "latched"))
	}
	cp.LatchUnit = LatchNone
	if n, ok := c.feat[FeatureTimestampLatchValue]; ok {
		cp.LatchUnit = LatchTicks
		if strings.EqualFold(c.intUnitLocked(n), "ns") {
			cp.LatchUnit = LatchNs
		}
	}
	c.findActionCapsLocked(&cp)
	c.caps = cp
}

// findActionCapsLocked fills the action part of the Capabilities and the
// pValueCopy targets of the action key nodes.
func (c *Camera) findActionCapsLocked(cp *Capabilities) {
	cp.Action = ActionNone
	switch {
	case c.kind("ActionSchedulerTime") != kindNone && c.kind("ActionSchedulerCommit") != kindNone:
		cp.Action = ActionScheduler
	case c.kind("ActionDeviceKey") != kindNone && c.kind("ActionQueueSize") != kindNone:
		cp.Action = ActionScheduled
		if v, err := c.integerLocked("ActionQueueSize"); err == nil {
			cp.ActionQueueSize = v
		}
	case c.kind("ActionDeviceKey") != kindNone:
		cp.Action = ActionUnscheduled
	}
	switch c.kind("ActionSelector") {
	case kindInteger:
		if lo, _, err := c.intRangeLocked("ActionSelector"); err == nil {
			cp.ActionSelector = lo
		}
		cp.ActionSelectorWritable = c.writableLocked("ActionSelector")
	case kindEnum:
		// An enumeration selector ({Action0} on FLIR): its entry names the
		// action; it is written only where it is writable.
		if e := c.enumEntriesLocked("ActionSelector"); len(e) > 0 {
			c.selectorEntry = e[0]
			if n, err := strconv.ParseInt(strings.TrimPrefix(e[0], "Action"), 10, 64); err == nil {
				cp.ActionSelector = n
			}
		}
		cp.ActionSelectorWritable = c.writableLocked("ActionSelector")
	}
	cp.TriggerSources = c.enumEntriesLocked("TriggerSource")
	if len(cp.TriggerSources) == 0 {
		// Every entry's pIsImplemented false is a camera (or simulator)
		// whose capability registers say nothing: take what the XML
		// declares rather than nothing.
		cp.TriggerSources = c.enumEntriesAllLocked("TriggerSource")
	}
	cp.ActionTrigger = actionTriggerEntry(cp.TriggerSources, cp.ActionSelector)
	if cp.Action != ActionNone {
		if t, err := valueCopyTargets(c.genicamXMLLocked()); err == nil {
			c.valueCopies = t
		}
	}
}

// Capabilities returns what the camera offers, as found at open.
func (c *Camera) Capabilities() Capabilities { return c.caps }

// capabilitiesError is what went wrong deciding the capabilities at open
// (e.g. a PTP mode enumeration without an enable entry), or nil.
func (c *Camera) capabilitiesError() error { return c.capsErr }

// setIntegerCopiesLocked writes an integer feature and every node its
// pValueCopy names (Aravis 0.8 writes only pValue).
func (c *Camera) setIntegerCopiesLocked(name string, v int64) error {
	if err := c.setIntegerLocked(name, v); err != nil {
		return c.wrap(name, err)
	}
	for _, t := range c.valueCopies[name] {
		if err := c.setIntegerLocked(t, v); err != nil {
			return c.wrap(t+" (pValueCopy of "+name+")", err)
		}
	}
	return nil
}

// refreshTickLocked reads the tick frequency again (it may change when PTP
// is turned on); the last good value stays on a failed read.
func (c *Camera) refreshTickLocked() {
	if c.caps.LatchUnit != LatchTicks {
		return
	}
	if n, ok := c.feat[FeatureTickFrequency]; ok {
		if v, err := c.integerLocked(n); err == nil && v > 0 {
			c.tick = uint64(v)
		}
		return
	}
	if gv := C.gp_gv_device(c.dev); gv != nil {
		var gerr *C.GError
		if v := uint64(C.arv_gv_device_get_timestamp_tick_frequency(gv, &gerr)); takeError(&gerr) == nil && v > 0 {
			c.tick = v
		}
	}
}

package camsim

import (
	"slices"
)

// Lock nodes (pIsLocked) of an impersonated camera. A client's write to a
// feature's register while the feature's lock node evaluates true is
// refused with ACCESS_DENIED (0x8006), the status a camera gives for a
// register it cannot change now (WRITE_PROTECT stays for registers that are
// never writable). The lock is evaluated at the time of the write, through
// the selectors as they are then, so a selector-indexed feature is locked
// only at the address it has under the current selector. camsim's own
// changes (control channel, start-up) are not checked.
//
// A lock the XML reads from the device (a read-only register bit, as
// FLIR's TriggerSource_Lck) is the firmware's to set: camsim sets the
// FrameStart trigger's TriggerSource lock while TriggerMode is On, as FLIR
// cameras do.

// findLocks lists the features that have a lock node.
func (gc *gcCamera) findLocks() {
	for name, n := range gc.g.doc.Nodes {
		if n.has("pIsLocked") && n.Kind != "Category" {
			gc.locks = append(gc.locks, name)
		}
	}
	slices.Sort(gc.locks)
}

// lockedLocked is the feature whose register covers addr and whose lock
// node evaluates true now ("" when none).
func (gc *gcCamera) lockedLocked(addr uint32) string {
	for _, name := range gc.locks {
		_, r, err := gc.g.registerOf(name)
		if err != nil || uint64(addr)+4 <= r.addr || uint64(addr) >= r.addr+uint64(r.length) {
			continue
		}
		n, err := gc.g.node(name)
		if err != nil {
			continue
		}
		if v, err := gc.g.Int(n.prop("pIsLocked")); err == nil && v != 0 {
			return name
		}
	}
	return ""
}

// deviceLockTriggerSourceLocked sets the FrameStart TriggerSource's lock
// while TriggerMode is On, where the XML reads that lock from a read-only
// device register.
func (gc *gcCamera) deviceLockTriggerSourceLocked() {
	src, mode := gc.f["trigSource"], gc.f["trigMode"]
	if src == "" || mode == "" || !gc.frameStartSelected() {
		return
	}
	n, err := gc.g.node(src)
	if err != nil || !n.has("pIsLocked") {
		return
	}
	lock, err := gc.g.node(n.prop("pIsLocked"))
	if err != nil || (lock.Kind != "IntReg" && lock.Kind != "MaskedIntReg") || lock.prop("AccessMode") != "RO" {
		return
	}
	e, err := gc.g.Entry(mode)
	if err != nil {
		return
	}
	_ = gc.g.writeInt(lock, int64(b2i(e == "On")))
}

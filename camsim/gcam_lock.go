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
// changes (control channel, start-up) are not checked, nor are locks that
// hold once start-up is done (see findLocksLocked).
//
// A lock the XML reads from the device (a read-only register bit, as
// FLIR's TriggerSource_Lck) is the firmware's to set: camsim sets the
// FrameStart trigger's TriggerSource lock while TriggerMode is On, as FLIR
// cameras do.

// findLocksLocked lists the features that have a lock node and are
// unlocked once camsim has initialised the camera's memory. A lock that
// already holds then is an artefact of that memory (an inquiry word whose
// lock bit reads set, a NOT_TLParamsLocked formula Aravis 0.8 never
// satisfies), not a state a client brought about, so it is not enforced.
func (gc *gcCamera) findLocksLocked() {
	for name, n := range gc.g.doc.Nodes {
		if !n.has("pIsLocked") || n.Kind == "Category" {
			continue
		}
		if v, err := gc.g.Int(n.prop("pIsLocked")); err == nil && v == 0 {
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

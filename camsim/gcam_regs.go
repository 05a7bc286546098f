package camsim

import (
	"strings"
	"time"
)

// GVCP register access of an impersonated camera (addresses ≥ 0x1000 and
// the XML file; the bootstrap registers camsim runs are in regtable.go).

// readLocked reads the word at addr, the live values sampled first unless
// the read command being answered sampled them already.
func (gc *gcCamera) readLocked(addr uint32) (uint32, Status) {
	if gc.inXML(addr) {
		return gc.readXML(addr), StatusSuccess
	}
	if st := gc.accessLocked(addr, false); st != StatusSuccess {
		return 0, st
	}
	gc.sampleWordLocked(addr)
	return gc.word(addr), StatusSuccess
}

// sampleLocked writes the live values (PTP data set, payload size,
// scheduler status) into the registers.
func (gc *gcCamera) sampleLocked() {
	gc.refreshLocked(false)
	if name := gc.f["payload"]; name != "" {
		_ = gc.g.SetInt(name, int64(gc.c.payloadSizeLocked()))
	}
	if name := gc.f["schedStatus"]; name != "" {
		_ = gc.g.SetInt(name, b2i(gc.c.sched.active()))
	}
}

// sampleOnceLocked makes the words of one read command one sample of the
// live values, so that a multi-word value (an 8-byte offset) is never two:
// the first word read from the feature registers samples, the others
// reuse it; a command reading only bootstrap registers (a heartbeat, the
// timestamp latch value) samples nothing. The returned func ends the
// command.
func (c *camera) sampleOnceLocked() func() {
	c.gc.inCommand = true
	return c.gc.endCommandLocked
}

func (gc *gcCamera) writeLocked(addr, v uint32) (Status, func()) {
	if gc.inXML(addr) {
		return StatusWriteProtect, nil
	}
	if st := gc.accessLocked(addr, true); st != StatusSuccess {
		return st, nil
	}
	if name := gc.lockedLocked(addr); name != "" {
		gc.c.log.Debug("write refused: feature locked", "feature", name, "address", addr)
		return StatusAccessDenied, nil
	}
	k := gc.key(addr)
	old, had := gc.mem[k]
	gc.mem[k] = v
	if name := gc.outOfRangeLocked(addr); name != "" {
		if had {
			gc.mem[k] = old
		} else {
			delete(gc.mem, k)
		}
		gc.c.log.Debug("write refused: value outside the feature's range", "feature", name, "address", addr, "value", v)
		return StatusInvalidParameter, nil
	}
	after := gc.commandsLocked(addr)
	gc.watchLocked()
	return StatusSuccess, after
}

// commandsLocked runs the Command features whose register addr is and that
// now read their CommandValue; the register then clears, as a
// self-clearing command register does.
func (gc *gcCamera) commandsLocked(addr uint32) func() {
	c := gc.c
	var after func()
	// Match first, then run: commands may share a register (TIS and Allied
	// Vision start with 1 and stop with 0 in one register).
	var hits []string
	for _, role := range []string{"acqStart", "acqStop", "trigSoftware", "tsLatch", "tsReset", "dataSetLatch", "schedCommit", "schedCancel"} {
		if name := gc.f[role]; name != "" && gc.isCommandWrite(name, addr) {
			hits = append(hits, role)
		}
	}
	for _, role := range hits {
		name := gc.f[role]
		switch role {
		case "acqStart":
			c.startAcquisitionLocked()
		case "acqStop":
			c.stopAcquisitionLocked()
		case "trigSoftware":
			c.softTriggers.Add(1)
			ts := c.clock.Read()
			after = func() { c.trigger(triggerSourceSoftware, ts) }
		case "tsLatch":
			c.latchLocked()
		case "tsReset":
			c.clock.Reset()
			c.timestampReset.Add(1)
		case "dataSetLatch":
			c.ptpLatches.Add(1)
			gc.refreshLocked(true)
		case "schedCommit":
			after = gc.scheduleLocked()
		case "schedCancel":
			after = func() { c.sched.cancel() }
		}
		if n, err := gc.g.node(name); err == nil && n.has("pValue") {
			_ = gc.g.SetInt(n.prop("pValue"), 0)
		}
	}
	return after
}

// scheduleLocked is ActionSchedulerCommit: Action0 from ActionSchedulerTime
// (device ns) every ActionSchedulerInterval (µs), committed once mu is
// released.
func (gc *gcCamera) scheduleLocked() func() {
	t, err1 := gc.g.Int(gc.f["schedTime"])
	iv, err2 := gc.g.Int(gc.f["schedInterval"])
	if err1 != nil || err2 != nil || t < 0 || iv < 0 {
		gc.c.log.Warn("ActionSchedulerCommit: time or interval unreadable", "time_err", err1, "interval_err", err2)
		return nil
	}
	c := gc.c
	return func() { c.sched.commit(uint64(t), time.Duration(iv)*time.Microsecond) }
}

func (gc *gcCamera) isCommandWrite(name string, addr uint32) bool {
	n, err := gc.g.node(name)
	if err != nil || n.Kind != "Command" {
		return false
	}
	_, r, err := gc.g.registerOf(name)
	if err != nil || uint64(addr)+4 <= r.addr || uint64(addr) >= r.addr+uint64(r.length) {
		return false
	}
	want := int64(1)
	if n.has("CommandValue") {
		want, _ = parseGCInt(n.prop("CommandValue"))
	} else if n.has("pCommandValue") {
		want, _ = gc.g.Int(n.prop("pCommandValue"))
	}
	got, err := gc.g.Int(n.prop("pValue"))
	return err == nil && got == want
}

// afterLatchLocked writes a latched timestamp into the XML's latch value
// feature, in its unit: ns where the node says so, else ticks.
func (gc *gcCamera) afterLatchLocked(ns uint64) {
	name := gc.f["tsValue"]
	if name == "" {
		return
	}
	v := gc.c.ticks(ns)
	if gc.unitNS(name) {
		v = ns
	}
	_ = gc.g.SetInt(name, int64(v))
}

func (gc *gcCamera) unitNS(name string) bool {
	n, err := gc.g.node(name)
	return err == nil && strings.TrimSpace(n.prop("Unit")) == "ns"
}

// snapshotWatchedLocked records the watched features' values.
func (gc *gcCamera) snapshotWatchedLocked() {
	for _, role := range []string{"ptpEnable", "ptpMode", "width", "height", "pixelFormat", "trigMode", "trigSource", "frameRate"} {
		if name := gc.f[role]; name != "" {
			if v, err := gc.g.Int(name); err == nil {
				gc.prev[role] = v
			}
		}
	}
}

// watchLocked applies what a write changed in the watched features.
func (gc *gcCamera) watchLocked() {
	c := gc.c
	old := make(map[string]int64, len(gc.prev))
	for k, v := range gc.prev {
		old[k] = v
	}
	gc.snapshotWatchedLocked()
	changed := func(role string) bool { v, ok := gc.prev[role]; return ok && v != old[role] }
	if changed("ptpEnable") || changed("ptpMode") {
		if on, ok := gc.ptpEnabledLocked(); ok {
			c.ptp.setEnabled(on)
		}
	}
	if changed("width") && gc.prev["width"] >= minSize && gc.prev["width"] <= maxWidth {
		c.width = uint32(gc.prev["width"])
	}
	if changed("height") && gc.prev["height"] >= minSize && gc.prev["height"] <= maxHeight {
		c.height = uint32(gc.prev["height"])
	}
	if changed("pixelFormat") {
		if e, err := gc.g.Entry(gc.f["pixelFormat"]); err == nil && pfnc[e] != 0 {
			c.pixelFormat = pfnc[e]
		}
	}
	if changed("frameRate") {
		if f, err := gc.g.Float(gc.f["frameRate"]); err == nil && f >= 0.1 && f <= 1000 {
			c.frameRate = f
		}
	}
	if (changed("trigMode") || changed("trigSource")) && gc.frameStartSelected() {
		gc.applyTriggerLocked()
	}
	if changed("trigMode") {
		gc.deviceLockTriggerSourceLocked()
	}
}

func (gc *gcCamera) frameStartSelected() bool {
	name := gc.f["trigSelector"]
	if name == "" {
		return true
	}
	n, _ := gc.g.node(name)
	if _, ok := n.entry("FrameStart"); !ok {
		return true
	}
	e, err := gc.g.Entry(name)
	return err == nil && e == "FrameStart"
}

func (gc *gcCamera) applyTriggerLocked() {
	c := gc.c
	if e, err := gc.g.Entry(gc.f["trigMode"]); err == nil {
		c.trigMode = uint32(b2i(e == "On"))
	}
	if e, err := gc.g.Entry(gc.f["trigSource"]); err == nil && e != "" {
		switch {
		case e == "Software":
			c.trigSource = triggerSourceSoftware
		case strings.HasPrefix(e, "Action"):
			c.trigSource = triggerSourceAction0
		default:
			c.trigSource = triggerSourceLine0
		}
	}
}

// actionMatchLocked: an ACTION_CMD's keys match the camera's device key
// and one of its action groups, each read through the XML's own nodes
// (ActionDeviceKey wherever it resolves, the group key and mask through
// ActionSelector) as a client wrote them.
func (gc *gcCamera) actionMatchLocked(deviceKey, groupKey, groupMask uint32) bool {
	if deviceKey != gc.deviceKeyLocked() {
		return false
	}
	key, mask := gc.f["groupKey"], gc.f["groupMask"]
	if key == "" || mask == "" {
		return false
	}
	check := func() bool {
		k, err1 := gc.heldInt(key)
		m, err2 := gc.heldInt(mask)
		return err1 == nil && err2 == nil && uint32(k) == groupKey && uint32(m)&groupMask != 0
	}
	sel := gc.f["actionSelector"]
	if sel == "" {
		return check()
	}
	orig, err := gc.g.Int(sel)
	if err != nil {
		return check()
	}
	defer func() { _ = gc.g.SetInt(sel, orig) }()
	for _, s := range gc.selectorValues(sel) {
		if gc.g.SetInt(sel, s) == nil && check() {
			return true
		}
	}
	return false
}

// deviceKeyLocked is the device key an ACTION_CMD must carry: what the
// XML's ActionDeviceKey writes into the device (a vendor register on
// Basler ace 2, the bootstrap 0x090C through pValueCopy on The Imaging
// Source), else the bootstrap register 0x090C.
func (gc *gcCamera) deviceKeyLocked() uint32 {
	if name := gc.f["deviceKey"]; name != "" {
		if _, r, err := gc.g.registerOf(name); err == nil && uint32(r.addr) == regActionDeviceKey {
			return gc.c.words[regActionDeviceKey] // the bootstrap register itself
		}
		if v, err := gc.heldInt(name); err == nil {
			return uint32(v)
		}
	}
	return gc.c.words[regActionDeviceKey]
}

// heldInt is the value the device holds for feature name: the register its
// pValue chain ends in, else the first register one of its pValueCopy
// targets ends in (a write-only key whose node reads back a local copy),
// else the node's own value.
func (gc *gcCamera) heldInt(name string) (int64, error) {
	if r, _, err := gc.g.registerOf(name); err == nil {
		return gc.g.Int(r.Name)
	}
	if n, err := gc.g.node(name); err == nil {
		for _, p := range n.Props["pValueCopy"] {
			if r, _, err := gc.g.registerOf(p.Text); err == nil {
				return gc.g.Int(r.Name)
			}
		}
	}
	return gc.g.Int(name)
}

func (gc *gcCamera) selectorValues(name string) []int64 {
	n, _ := gc.g.node(name)
	if len(n.Entries) > 0 {
		var out []int64
		for _, e := range n.Entries {
			out = append(out, e.Value)
		}
		return out
	}
	lo, err := gc.bound(n, "Min")
	if err != nil {
		lo = 0
	}
	hi, err := gc.bound(n, "Max")
	if err != nil || hi < lo {
		hi = lo
	}
	var out []int64
	for v := int64(lo); v <= int64(hi) && len(out) < 16; v++ {
		out = append(out, v)
	}
	return out
}

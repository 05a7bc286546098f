package camsim

// Live values of an impersonated camera (PTP data set, payload size,
// scheduler status) are sampled into their registers when a read command
// reaches one of their words: each resolved at load to the register it
// ends in, so that a monitoring read (PtpStatus) costs one value and one
// register write, not a walk of the graph for every live feature.

// gcLive is one live feature and where its value lives.
type gcLive struct {
	role, name string
	reg        gcReg
	direct     bool // the feature's pValue is this register (no formula, no selector): written raw
	enum       *gcNode
}

// liveRoles are the features sampled on read; the latched ones only where
// the data-set latch does not refresh them.
var liveRoles = []string{"ptpStatus", "ptpStatusLatched", "offset", "offsetLatched", "clockID", "parentID",
	"parentIDLatched", "gmID", "payload", "schedStatus"}

// buildLiveLocked resolves the live features' registers; one that does
// not resolve at load makes every feature read sample all of them.
func (gc *gcCamera) buildLiveLocked() {
	gc.live = map[uint32][]int{}
	for _, role := range liveRoles {
		name := gc.f[role]
		if name == "" || gc.latched[role] || (role != "payload" && role != "schedStatus" && !gc.hasPTP()) {
			continue
		}
		_, r, err := gc.g.registerOf(name)
		if err != nil || r.addr >= 1<<32 || len(gc.lives) >= 32 {
			gc.liveAll = true
			continue
		}
		l := gcLive{role: role, name: name, reg: r, direct: gc.directReg(name)}
		if n := gc.g.doc.Nodes[name]; n.Kind == "Enumeration" {
			l.enum = n
		}
		for w := uint32(r.addr) &^ 3; uint64(w) < r.addr+uint64(r.length); w += 4 {
			if _, muxed := gc.muxed[w]; muxed {
				l.direct = false
			}
			gc.live[w] = append(gc.live[w], len(gc.lives))
		}
		gc.lives = append(gc.lives, l)
	}
}

// directReg: feature name is a register, or an Integer/Enumeration whose
// pValue is a register at a constant address.
func (gc *gcCamera) directReg(name string) bool {
	n := gc.g.doc.Nodes[name]
	if n == nil || n.has("pIndex") || n.has("pValueIndexed") {
		return false
	}
	if !isRegisterKind(n.Kind) {
		if n.Kind != "Integer" && n.Kind != "Enumeration" {
			return false
		}
		if n = gc.g.doc.Nodes[n.prop("pValue")]; n == nil || !isRegisterKind(n.Kind) {
			return false
		}
	}
	return !n.has("pIndex") && !n.has("pAddress") && n.Kind != "StringReg" && n.Kind != "FloatReg"
}

// sampleWordLocked samples the live features at word addr, each once per
// read command.
func (gc *gcCamera) sampleWordLocked(addr uint32) {
	if gc.liveAll {
		if !gc.sampled {
			gc.sampleLocked()
			gc.sampled = gc.inCommand
		}
		return
	}
	for _, i := range gc.live[addr] {
		if gc.sampledMask&(1<<i) != 0 {
			continue
		}
		gc.sampleOneLocked(&gc.lives[i])
		if gc.inCommand {
			gc.sampledMask |= 1 << i
		}
	}
}

// snapshotLocked is the PTP port's state, once per read command.
func (gc *gcCamera) snapshotLocked() ptpSnapshot {
	if !gc.snapOK {
		gc.snap = gc.c.ptp.snapshot()
		gc.snapOK = gc.inCommand
	}
	return gc.snap
}

func (gc *gcCamera) sampleOneLocked(l *gcLive) {
	c := gc.c
	var v int64
	switch l.role {
	case "ptpStatus", "ptpStatusLatched":
		s := gc.snapshotLocked()
		e, ok := statusEntry(l.enum, s)
		if !l.direct || !ok {
			_ = gc.writeStatusLocked(l.name, s)
			return
		}
		v = e
	case "offset", "offsetLatched":
		v = offsetFromMaster(gc.snapshotLocked().Status, c.clock.Error())
	case "clockID":
		v = int64(c.cfg.ClockID())
	case "parentID", "parentIDLatched", "gmID":
		v = int64(gc.snapshotLocked().GM)
	case "payload":
		v = int64(c.payloadSizeLocked())
	case "schedStatus":
		v = b2i(c.sched.active())
	}
	if !l.direct {
		_ = gc.g.SetInt(l.name, v)
		return
	}
	gc.g.writeField(l.reg, v)
}

// statusEntry is the entry value enumeration n gives state s (ok false
// where n is no enumeration or has none).
func statusEntry(n *gcNode, s ptpSnapshot) (int64, bool) {
	if n == nil {
		return 0, false
	}
	cands := statusNames[s.Status]
	if !s.Enabled {
		if e, ok := n.entry("Undefined"); ok {
			return e.Value, true
		}
		cands = statusNames[PTPDisabled]
	}
	for _, name := range cands {
		if e, ok := n.entry(name); ok {
			return e.Value, true
		}
	}
	return 0, false
}

// endCommandLocked ends a read command's sample.
func (gc *gcCamera) endCommandLocked() {
	gc.inCommand, gc.sampled, gc.snapOK, gc.sampledMask = false, false, false, 0
}

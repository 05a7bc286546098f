package camsim

import (
	"fmt"
	"sort"
	"strings"
)

// Behaviours of an impersonated camera, in its own terms.

// initLocked writes the camera's start state through the graph and returns
// what it could not resolve (feature: reason).
func (gc *gcCamera) initLocked() []string {
	gc.defaultsLocked()
	gc.seedActionQueueLocked()
	c := gc.c
	try := func(role string, f func(name string) error) {
		name := gc.f[role]
		if name == "" {
			return
		}
		if err := f(name); err != nil {
			gc.missing = append(gc.missing, fmt.Sprintf("%s: %v", name, err))
		}
	}
	setInt := func(v int64) func(string) error { return func(n string) error { return gc.g.SetInt(n, v) } }
	setStr := func(s string) func(string) error { return func(n string) error { return gc.g.SetString(n, s) } }
	try("vendor", setStr(c.cfg.Vendor))
	try("model", setStr(c.cfg.Model))
	if n, ok := gc.g.doc.Nodes[gc.f["serial"]]; ok && n.Kind != "String" && n.Kind != "StringReg" {
		gc.f["serial"] = gc.f["serialID"] // an Integer serial number (Basler ace classic): DeviceID is the string
	}
	if gc.f["serialID"] != gc.f["serial"] {
		try("serialID", setStr(c.cfg.Serial))
	}
	try("serial", setStr(c.cfg.Serial))
	sw, sh := c.width, c.height // an impersonated sensor is the configured image
	if c.own {
		sw, sh = maxWidth, maxHeight // camsim's own sensor
	}
	try("sensorWidth", setInt(int64(sw)))
	try("sensorHeight", setInt(int64(sh)))
	try("widthMax", setInt(int64(c.width)))
	try("heightMax", setInt(int64(c.height)))
	try("width", setInt(int64(c.width)))
	try("height", setInt(int64(c.height)))
	try("pixelFormat", gc.initPixelFormat)
	try("frameRate", func(n string) error { return gc.g.SetFloat(n, c.frameRate) })
	try("trigMode", func(n string) error { return gc.g.SetEntry(n, "Off") })
	try("chunkMode", setInt(0)) // cameras start without chunks
	if gc.f["tickFreq"] != "" {
		if _, _, err := gc.g.registerOf(gc.f["tickFreq"]); err == nil {
			try("tickFreq", setInt(int64(c.tickHz)))
		}
	}
	gc.setPTPEnableLocked(c.cfg.PTPEnable)
	gc.refreshLocked(true)
	for _, role := range []string{"ptpStatus", "tsValue", "tsLatch", "width", "height", "pixelFormat", "acqStart", "deviceKey", "groupKey"} {
		if name := gc.f[role]; name != "" {
			if _, err := gc.g.Int(name); err != nil {
				gc.missing = append(gc.missing, fmt.Sprintf("%s: %v", name, err))
			}
		}
	}
	gc.snapshotWatchedLocked()
	gc.deviceLockTriggerSourceLocked()
	gc.findLocksLocked()
	gc.buildAccessLocked()
	gc.buildLiveLocked()
	sort.Strings(gc.missing)
	return gc.missing
}

// defaultsLocked makes every Integer and Enumeration with a register read a
// legal value (its Min, its first entry) where plain zeroed memory does not.
func (gc *gcCamera) defaultsLocked() {
	names := make([]string, 0, len(gc.g.doc.Nodes))
	for name := range gc.g.doc.Nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	gc.availableLocked(names)
	gc.gatesLocked(names)
	gc.timebasesLocked()
	gc.rangesLocked(names)
	for _, name := range names {
		n := gc.g.doc.Nodes[name]
		if !n.has("pValue") {
			continue
		}
		switch n.Kind {
		case "Enumeration":
			if v, err := gc.g.Int(name); err == nil && len(n.Entries) > 0 {
				if _, ok := entryByValue(n, v); !ok {
					_ = gc.g.SetInt(name, n.Entries[0].Value)
				}
			}
		case "Integer", "Float":
			lo, err := gc.bound(n, "Min")
			if err != nil {
				continue
			}
			if v, err := gc.g.Float(name); err == nil && v < lo {
				_ = gc.g.SetFloat(name, lo)
			}
		}
	}
}

// availableLocked makes the pIsAvailable and pIsImplemented registers of
// nodes and enumeration entries read true, as a camera that has the
// feature reports it (formulas over other nodes are left as they compute).
func (gc *gcCamera) availableLocked(names []string) {
	seen := map[string]bool{}
	set := func(ref string) {
		if seen[ref] {
			return
		}
		seen[ref] = true
		if n, ok := gc.g.doc.Nodes[ref]; ok {
			if _, _, err := gc.g.registerOf(ref); err == nil && n.Kind != "IntSwissKnife" {
				if v, err := gc.g.Int(ref); err == nil && v == 0 {
					_ = gc.g.SetInt(ref, 1)
				}
			}
		}
	}
	for _, name := range names {
		n := gc.g.doc.Nodes[name]
		for _, k := range []string{"pIsAvailable", "pIsImplemented"} {
			for _, p := range n.Props[k] {
				set(p.Text)
			}
		}
		for _, e := range n.Entries {
			for _, ref := range e.Avail {
				set(ref)
			}
		}
	}
}

// rangesLocked gives features whose pMin and pMax registers both read 0 (an
// empty range no working camera reports) a wide one: Max 1e6 for a Float,
// 2^30 for an Integer, and Min 1 where a Converter divides by the value.
func (gc *gcCamera) rangesLocked(names []string) {
	converted := map[string]bool{}
	for _, name := range names {
		if n := gc.g.doc.Nodes[name]; n.Kind == "Converter" || n.Kind == "IntConverter" {
			converted[n.prop("pValue")] = true
		}
	}
	for _, name := range names {
		n := gc.g.doc.Nodes[name]
		if (n.Kind != "Integer" && n.Kind != "Float") || !n.has("pMin") || !n.has("pMax") {
			continue
		}
		lo, hi := n.prop("pMin"), n.prop("pMax")
		if _, _, err := gc.g.registerOf(lo); err != nil {
			continue
		}
		if _, _, err := gc.g.registerOf(hi); err != nil {
			continue
		}
		l, err1 := gc.g.Float(lo)
		h, err2 := gc.g.Float(hi)
		if err1 != nil || err2 != nil || l != 0 || h != 0 {
			continue
		}
		top := float64(1 << 30)
		if n.Kind == "Float" {
			top = 1e6
		}
		_ = gc.g.SetFloat(hi, top)
		if converted[name] {
			_ = gc.g.SetFloat(lo, 1)
		}
	}
}

func (gc *gcCamera) bound(n *gcNode, which string) (float64, error) {
	if n.has(which) {
		return gc.g.evalConst(n.prop(which))
	}
	if n.has("p" + which) {
		return gc.g.Float(n.prop("p" + which))
	}
	return 0, fmt.Errorf("no %s", which)
}

func entryByValue(n *gcNode, v int64) (string, bool) {
	for _, e := range n.Entries {
		if e.Value == v {
			return e.Name, true
		}
	}
	return "", false
}

// pfnc are the PFNC codes of the 8-bit formats camsim streams.
var pfnc = map[string]uint32{"Mono8": PixelFormatMono8, "BayerGR8": PixelFormatBayerGR8,
	"BayerRG8": 0x01080009, "BayerGB8": 0x0108000A, "BayerBG8": 0x0108000B}

func (gc *gcCamera) initPixelFormat(name string) error {
	n, _ := gc.g.node(name)
	want := "Mono8"
	if gc.c.pixelFormat == PixelFormatBayerGR8 {
		want = "BayerGR8"
	}
	for _, try := range []string{want, "Mono8", "BayerRG8", "BayerGR8", "BayerGB8", "BayerBG8"} {
		if _, ok := n.entry(try); ok {
			gc.c.pixelFormat = pfnc[try]
			return gc.g.SetEntry(name, try)
		}
	}
	return fmt.Errorf("no 8-bit entry (Mono8, Bayer??8)")
}

func (gc *gcCamera) setPTPEnableLocked(on bool) {
	if name := gc.f["ptpEnable"]; name != "" {
		if err := gc.g.SetInt(name, b2i(on)); err != nil {
			gc.missing = append(gc.missing, fmt.Sprintf("%s: %v", name, err))
		}
	} else if name := gc.f["ptpMode"]; name != "" {
		entry := "Off"
		if on {
			entry = "Slave"
		}
		if err := gc.g.SetEntry(name, entry); err != nil {
			gc.missing = append(gc.missing, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if gc.hasPTP() {
		gc.c.ptp.setEnabled(on)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ptpEnabledLocked is the PTP enable the camera's registers hold.
func (gc *gcCamera) ptpEnabledLocked() (bool, bool) {
	if name := gc.f["ptpEnable"]; name != "" {
		v, err := gc.g.Int(name)
		return v != 0, err == nil
	}
	if name := gc.f["ptpMode"]; name != "" {
		e, err := gc.g.Entry(name)
		return e != "" && e != "Off", err == nil
	}
	return false, false
}

// statusNames are the entry names a camera may give each IEEE 1588 port
// state, in order of preference (SFNC, GigE Vision, Allied Vision's older
// Off/Slave/Master/Error/Syncing).
var statusNames = map[PTPStatus][]string{
	PTPInitializing: {"Initializing", "Syncing"},
	PTPFaulty:       {"Faulty", "Error"},
	PTPDisabled:     {"Disabled", "Off"},
	PTPListening:    {"Listening", "Syncing"},
	PTPPreMaster:    {"PreMaster", "Master"},
	PTPMaster:       {"Master"},
	PTPPassive:      {"Passive", "Syncing"},
	PTPUncalibrated: {"Uncalibrated", "Syncing"},
	PTPSlave:        {"Slave"},
}

func (gc *gcCamera) writeStatusLocked(name string, s ptpSnapshot) error {
	n, err := gc.g.node(name)
	if err != nil {
		return err
	}
	cands := statusNames[s.Status]
	if !s.Enabled {
		cands = append([]string{"Undefined"}, statusNames[PTPDisabled]...)
	}
	for _, e := range cands {
		if _, ok := n.entry(e); ok {
			return gc.g.SetEntry(name, e)
		}
	}
	return fmt.Errorf("no entry for %s (want one of %s)", s.Status, strings.Join(cands, ", "))
}

// refreshLocked writes the live PTP data set (and, with latch, the latched
// one) into the registers.
func (gc *gcCamera) refreshLocked(latch bool) {
	c := gc.c
	if !gc.hasPTP() {
		return
	}
	s := c.ptp.snapshot()
	off := offsetFromMaster(s.Status, c.clock.Error())
	for _, r := range []struct {
		role string
		set  func(string) error
	}{
		{"ptpStatus", func(n string) error { return gc.writeStatusLocked(n, s) }},
		{"ptpStatusLatched", func(n string) error { return gc.writeStatusLocked(n, s) }},
		{"offset", func(n string) error { return gc.g.SetInt(n, off) }},
		{"offsetLatched", func(n string) error { return gc.g.SetInt(n, off) }},
		{"clockID", func(n string) error { return gc.g.SetInt(n, int64(c.cfg.ClockID())) }},
		{"parentID", func(n string) error { return gc.g.SetInt(n, int64(s.GM)) }},
		{"parentIDLatched", func(n string) error { return gc.g.SetInt(n, int64(s.GM)) }},
		{"gmID", func(n string) error { return gc.g.SetInt(n, int64(s.GM)) }},
	} {
		name := gc.f[r.role]
		if name == "" || gc.latched[r.role] && !latch {
			continue
		}
		_ = r.set(name) // unresolvable ones were listed at start-up
	}
}

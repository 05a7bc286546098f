package camsim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// gcCamera is what makes camsim a camera from a GenICam XML: a real
// camera's (Config.GenICam) or camsim's own profile's (GenICamXML). Every
// register the XML describes outside the bootstrap registers camsim runs is
// plain memory, and the features camsim simulates are found by name (SFNC
// and GigE Vision names, first one declared wins) and written or watched
// through the node graph.
type gcCamera struct {
	c       *camera
	g       *gcGraph
	mem     map[uint64]uint32 // word address (| selector value << 32 where muxed) → word
	muxed   map[uint32]string // word address → the selector it depends on
	xml     []byte
	xmlAddr uint32
	f       map[string]string // role → feature name found
	missing []string          // "feature: reason", logged at start-up
	closed  []string          // "feature: gate", availability left false (gcam_gate.go)
	prev    map[string]int64  // last value of watched features
	latched map[string]bool   // roles refreshed only by the data-set latch
	locks   []string          // features with a lock node (pIsLocked)
	// inCommand: a read command is being answered; sampled: its live
	// values are sampled (sampleOnceLocked), sampledMask those of lives,
	// snap the PTP state it read (snapOK).
	inCommand, sampled, snapOK bool
	sampledMask                uint32
	snap                       ptpSnapshot
	acc                        *gcAccess        // status of each word (gcam_access.go)
	lives                      []gcLive         // live features (gcam_live.go)
	live                       map[uint32][]int // word → lives at it
	liveAll                    bool             // a live feature did not resolve: sample all on every read
}

// Feature roles and the names real cameras give them.
var gcRoles = []struct {
	role  string
	names []string
}{
	{"ptpEnable", []string{"PtpEnable", "GevIEEE1588"}},
	{"ptpMode", []string{"PtpMode"}},
	{"ptpStatus", []string{"PtpStatus", "GevIEEE1588Status"}},
	{"ptpStatusLatched", []string{"GevIEEE1588StatusLatched"}},
	{"dataSetLatch", []string{"PtpDataSetLatch", "GevIEEE1588DataSetLatch"}},
	{"offset", []string{"PtpOffsetFromMaster", "GevIEEE1588OffsetFromMaster"}},
	{"offsetLatched", []string{"GevIEEE1588OffsetFromMasterLatched"}},
	{"clockID", []string{"PtpClockID", "GevIEEE1588ClockId"}},
	{"parentID", []string{"PtpParentClockID", "GevIEEE1588ParentClockId"}},
	{"parentIDLatched", []string{"GevIEEE1588ParentClockIdLatched"}},
	{"gmID", []string{"PtpGrandmasterClockID", "GevIEEE1588GrandmasterClockId"}},
	{"tsLatch", []string{"TimestampLatch", "GevTimestampControlLatch"}},
	{"tsReset", []string{"TimestampReset", "GevTimestampControlReset"}},
	{"tsValue", []string{"TimestampLatchValue", "GevTimestampValue"}},
	{"tickFreq", []string{"GevTimestampTickFrequency"}},
	{"sensorWidth", []string{"SensorWidth", "WidthMax"}},
	{"sensorHeight", []string{"SensorHeight", "HeightMax"}},
	{"widthMax", []string{"WidthMax"}},
	{"heightMax", []string{"HeightMax"}},
	{"width", []string{"Width"}},
	{"height", []string{"Height"}},
	{"pixelFormat", []string{"PixelFormat"}},
	{"payload", []string{"PayloadSize"}},
	{"acqStart", []string{"AcquisitionStart"}},
	{"acqStop", []string{"AcquisitionStop"}},
	{"frameRate", []string{"AcquisitionFrameRate", "AcquisitionFrameRateAbs"}},
	{"chunkMode", []string{"ChunkModeActive"}},
	{"trigSelector", []string{"TriggerSelector"}},
	{"trigMode", []string{"TriggerMode"}},
	{"trigSource", []string{"TriggerSource"}},
	{"trigSoftware", []string{"TriggerSoftware"}},
	{"actionSelector", []string{"ActionSelector"}},
	{"groupKey", []string{"ActionGroupKey"}},
	{"groupMask", []string{"ActionGroupMask"}},
	{"deviceKey", []string{"ActionDeviceKey"}},
	// The Imaging Source's action scheduler, where declared: time in
	// device ns, interval in µs, commit and cancel commands, status.
	{"schedTime", []string{"ActionSchedulerTime"}},
	{"schedInterval", []string{"ActionSchedulerInterval"}},
	{"schedCommit", []string{"ActionSchedulerCommit"}},
	{"schedCancel", []string{"ActionSchedulerCancel"}},
	{"schedStatus", []string{"ActionSchedulerStatus"}},
	{"vendor", []string{"DeviceVendorName"}},
	{"model", []string{"DeviceModelName"}},
	{"serial", []string{"DeviceSerialNumber", "DeviceID"}},
	{"serialID", []string{"DeviceID"}},
}

// LoadGenICam reads and checks a camera's GenICam XML file for
// Config.GenICam.
func LoadGenICam(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("camsim: --genicam: %w", err)
	}
	if _, err := parseGenICam(b); err != nil {
		return nil, fmt.Errorf("camsim: --genicam %s: %w", path, err)
	}
	return b, nil
}

// gcMem is the camera memory seen by the node graph: bootstrap through
// camsim's own registers, the rest plain words.
type gcMem struct{ gc *gcCamera }

func (m gcMem) readMem(addr uint64, b []byte) {
	for i := range b {
		a := addr + uint64(i)
		w := uint32(a) &^ 3
		var v uint32
		switch {
		case liveBootstrap(w):
			v, _ = m.gc.c.readRegLocked(w)
		default:
			v = m.gc.word(w)
		}
		b[i] = byte(v >> (8 * (3 - a%4)))
	}
}

// word is memory at addr: written, else the static bootstrap, else 0.
func (gc *gcCamera) word(addr uint32) uint32 {
	if v, ok := gc.mem[gc.key(addr)]; ok {
		return v
	}
	if addr < bootstrapSize {
		return binary.BigEndian.Uint32(gc.c.boot[addr:])
	}
	return 0
}

func (m gcMem) writeMem(addr uint64, b []byte) {
	if addr%4 == 0 && len(b)%4 == 0 && addr < 1<<32 {
		for i := 0; i < len(b); i += 4 {
			w := uint32(addr) + uint32(i)
			if liveBootstrap(w) || w == regTimestampHigh || w == regTimestampLow {
				m.writeBytes(uint64(w), b[i:i+4])
				continue
			}
			m.gc.mem[m.gc.key(w)] = binary.BigEndian.Uint32(b[i:])
		}
		return
	}
	m.writeBytes(addr, b)
}

// writeBytes writes b at addr byte by byte into the words it touches.
func (m gcMem) writeBytes(addr uint64, b []byte) {
	for i := range b {
		a := addr + uint64(i)
		w := uint32(a) &^ 3
		sh := 8 * (3 - a%4)
		switch {
		case w == regTimestampHigh || w == regTimestampLow:
			cur := uint32(m.gc.c.latched >> 32)
			if w == regTimestampLow {
				cur = uint32(m.gc.c.latched)
			}
			cur = cur&^(0xFF<<sh) | uint32(b[i])<<sh
			if w == regTimestampHigh {
				m.gc.c.latched = uint64(cur)<<32 | m.gc.c.latched&0xFFFFFFFF
			} else {
				m.gc.c.latched = m.gc.c.latched&^0xFFFFFFFF | uint64(cur)
			}
		case !liveBootstrap(w):
			m.gc.mem[m.gc.key(w)] = m.gc.word(w)&^(0xFF<<sh) | uint32(b[i])<<sh
		}
	}
}

// newGCCamera builds the register memory of cfg.GenICam for c.
func newGCCamera(c *camera, xmlText []byte) (*gcCamera, error) {
	doc, err := parseGenICam(xmlText)
	if err != nil {
		return nil, err
	}
	gc := &gcCamera{c: c, mem: map[uint64]uint32{}, muxed: map[uint32]string{}, xml: compactXML(xmlText), f: map[string]string{},
		prev: map[string]int64{}, latched: map[string]bool{}}
	gc.g = newGraph(doc, gcMem{gc})
	gc.xmlAddr = freeAddress(doc.addrs, uint64(len(xmlText)))
	for _, r := range gcRoles {
		for _, name := range r.names {
			if _, ok := doc.Nodes[name]; ok {
				gc.f[r.role] = name
				break
			}
		}
	}
	gc.findMuxed()
	for _, role := range []string{"ptpStatus", "offset", "parentID"} {
		if n, ok := doc.Nodes[gc.f[role]]; ok && mentionsLatch(n) {
			gc.latched[role] = true
		}
	}
	for _, role := range []string{"ptpStatusLatched", "offsetLatched", "parentIDLatched", "gmID"} {
		gc.latched[role] = gc.f["dataSetLatch"] != ""
	}
	return gc, nil
}

var (
	paddedText = regexp.MustCompile(`<(Address|pValue|pPort|Length)>\s`)
	aroundTags = regexp.MustCompile(`>\s+|\s+<`)
)

// compactXML undoes a pretty-printed copy (every element's text on its own
// indented line, as the Hikrobot file of ../shared is): GenICam consumers
// such as Aravis do not trim node text, so a camera never serves that.
// Other files are served byte for byte.
func compactXML(b []byte) []byte {
	if !paddedText.Match(b) {
		return b
	}
	return aroundTags.ReplaceAllFunc(b, func(m []byte) []byte { return bytes.TrimSpace(m) })
}

// mentionsLatch: the XML says the value is the latched one.
func mentionsLatch(n *gcNode) bool {
	s := strings.ToLower(n.prop("Description") + " " + n.prop("ToolTip"))
	return strings.Contains(s, "latched")
}

// freeAddress finds where to put the XML file: no register of the XML in
// [a, a+size+64KiB).
func freeAddress(addrs []uint64, size uint64) uint32 {
	for _, a := range []uint64{0x100000, 0x4000000, 0x20000000, 0x70000000, 0xC0000000} {
		if !slices.ContainsFunc(addrs, func(x uint64) bool { return x+16 > a && x < a+size+0x10000 }) {
			return uint32(a)
		}
	}
	return 0xE0000000
}

// hasPTP: the XML has a PTP enable of a form camsim drives.
func (gc *gcCamera) hasPTP() bool { return gc.f["ptpEnable"] != "" || gc.f["ptpMode"] != "" }

// inXML reports whether addr is inside the served XML file.
func (gc *gcCamera) inXML(addr uint32) bool {
	return addr >= gc.xmlAddr && addr < gc.xmlAddr+uint32(len(gc.xml)+3)/4*4
}

func (gc *gcCamera) readXML(addr uint32) uint32 {
	var w [4]byte
	copy(w[:], gc.xml[addr-gc.xmlAddr:])
	return binary.BigEndian.Uint32(w[:])
}

// hasPTP: the camera has PTP (own profiles: not noptp).
func (c *camera) hasPTP() bool {
	return c.gc.hasPTP()
}

// gcActionQueue is the scheduled-action queue camsim gives an impersonated
// camera whose XML reads ActionQueueSize from a device register (GigE
// Vision 2.0's 0x0970 on FLIR and Hikrobot): there the number is the
// firmware's, not the XML's, and camsim's firmware says 16.
const gcActionQueue = 16

// actionQueueSize bounds scheduled ACTION_CMDs: the XML's ActionQueueSize
// for an impersonated camera, none for camsim's own profiles.
func (c *camera) actionQueueSize() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.gc.g.doc.Nodes["ActionQueueSize"]; !ok {
		return 0
	}
	if _, r, err := c.gc.g.registerOf("ActionQueueSize"); err == nil && liveBootstrap(uint32(r.addr)) {
		return gcActionQueue // Allied Vision's reads the ActionDeviceKey register (0x090C)
	}
	v, err := c.gc.g.Int("ActionQueueSize")
	if err != nil || v <= 0 {
		return 0
	}
	return int(v)
}

// seedActionQueueLocked puts gcActionQueue in the ActionQueueSize
// register where the XML reads it from the device and nothing is there.
// Allied Vision's Manta maps ActionQueueSize onto 0x090C, the register its
// ActionDeviceKey writes: that register keeps the key, which ACTION_CMD
// needs, so ActionQueueSize there reads the key (the XML's conflict).
func (gc *gcCamera) seedActionQueueLocked() {
	if _, ok := gc.g.doc.Nodes["ActionQueueSize"]; !ok {
		return
	}
	_, r, err := gc.g.registerOf("ActionQueueSize")
	if err != nil || r.length != 4 || liveBootstrap(uint32(r.addr)) {
		return
	}
	if v, err := gc.g.Int("ActionQueueSize"); err == nil && v == 0 {
		gc.g.rawWrite(r, gcActionQueue)
	}
}

// findMuxed finds registers a selector multiplexes: a feature the selector
// lists in pSelected whose register address does not follow the selector
// (no pIndex, no pAddress) holds one value per selector value in the
// device, as FLIR's ChunkEnable_Val at one address serves every
// ChunkSelector entry.
func (gc *gcCamera) findMuxed() {
	for _, sel := range gc.g.doc.Nodes {
		for _, p := range sel.Props["pSelected"] {
			n, r, err := gc.g.registerOf(p.Text)
			if err != nil || n.has("pIndex") || n.has("pAddress") || r.addr >= 1<<32 {
				continue
			}
			if _, _, err := gc.g.registerOf(sel.Name); err != nil {
				continue // a selector without a register is the client's alone
			}
			for a := uint32(r.addr) &^ 3; a < uint32(r.addr)+uint32(r.length); a += 4 {
				gc.muxed[a] = sel.Name
			}
		}
	}
	for a, sel := range gc.muxed {
		if _, _, err := gc.g.registerOf(sel); err == nil {
			if _, r, _ := gc.g.registerOf(sel); uint32(r.addr)&^3 == a {
				delete(gc.muxed, a) // never multiplex a selector by itself
			}
		}
	}
}

// key is the memory key of word addr: per selector value where muxed.
func (gc *gcCamera) key(addr uint32) uint64 {
	sel, ok := gc.muxed[addr]
	if !ok {
		return uint64(addr)
	}
	v, err := gc.g.Int(sel)
	if err != nil {
		return uint64(addr)
	}
	return uint64(addr) | uint64(uint32(v))<<32
}

package camsim

import (
	"encoding/binary"
	"math"
	"time"
)

// register is one 32-bit word of camsim's register map: how it reads, how
// it takes a write and what the write sets off. Side effects that take
// other locks (stream, scheduler, triggers) come back from write as a func
// to run after the camera's lock is released.
type register struct {
	// read returns the word; nil: the word stored in camera.words.
	read func(c *camera) uint32
	// write checks and applies v; nil: v is stored in camera.words, or
	// refused with WRITE_PROTECT where ro.
	write func(c *camera, addr, v uint32) (Status, func())
	ro    bool
}

// regTable maps a word address to its register.
type regTable map[uint32]register

// Constructors of the common kinds.
func stored() register                         { return register{} }
func readOnly(f func(*camera) uint32) register { return register{read: f, ro: true} }
func constant(v uint32) register               { return readOnly(func(*camera) uint32 { return v }) }

// command reads 0 and runs f on a non-zero write, as a self-clearing
// command register.
func command(f func(*camera, uint32) func()) register {
	return register{read: zero, write: func(c *camera, _, v uint32) (Status, func()) {
		if v == 0 {
			return StatusSuccess, nil
		}
		return StatusSuccess, f(c, v)
	}}
}

// validated stores v when ok accepts it, else answers INVALID_PARAMETER.
func validated(ok func(v uint32) bool) register {
	return register{write: func(c *camera, addr, v uint32) (Status, func()) {
		if !ok(v) {
			return StatusInvalidParameter, nil
		}
		c.words[addr] = v
		return StatusSuccess, nil
	}}
}

// onlyZero is a one-entry selector or mode: reads 0, accepts only 0.
func onlyZero() register {
	return register{read: zero, write: func(_ *camera, _, v uint32) (Status, func()) {
		if v != 0 {
			return StatusInvalidParameter, nil
		}
		return StatusSuccess, nil
	}}
}

func zero(*camera) uint32 { return 0 }

func hi(v uint64) uint32 { return uint32(v >> 32) }
func lo(v uint64) uint32 { return uint32(v) }

// u64 registers: the high word at addr, the low word at addr+4.
func (t regTable) u64(addr uint32, get func(c *camera) uint64) {
	t[addr] = readOnly(func(c *camera) uint32 { return hi(get(c)) })
	t[addr+4] = readOnly(func(c *camera) uint32 { return lo(get(c)) })
}

// words stores a plain range of n bytes from addr.
func (t regTable) words(addr, n uint32) {
	for a := addr; a < addr+n; a += 4 {
		t[a] = stored()
	}
}

// bootRegs are the bootstrap registers camsim runs itself, for its own
// profiles and impersonated cameras alike (GEV 2.0 §28). The rest of the
// bootstrap is the static content of camera.boot.
var bootRegs = func() regTable {
	t := regTable{
		regHeartbeatTimeout: {write: func(c *camera, addr, v uint32) (Status, func()) {
			c.words[addr] = max(v, 500) // GEV: at least 500 ms
			return StatusSuccess, nil
		}},
		regTimestampControl: {read: zero, write: func(c *camera, _, v uint32) (Status, func()) {
			if v&tsReset != 0 {
				c.clock.Reset()
				c.timestampReset.Add(1)
			}
			if v&tsLatch != 0 {
				c.latchLocked()
			}
			return StatusSuccess, nil
		}},
		regCCP:         readOnly(func(c *camera) uint32 { return c.ccp.bits }), // written through writeCCPLocked
		regPrimaryPort: readOnly(func(c *camera) uint32 { return c.ccp.primaryPort() }),
		regPrimaryIP:   readOnly(func(c *camera) uint32 { return c.ccp.primaryIP() }),
		regSCP0Port: {write: func(c *camera, addr, v uint32) (Status, func()) {
			c.words[addr] = v & 0xFFFF
			return StatusSuccess, nil
		}},
		regSCP0PacketSize: {write: writePacketSize},
		regSCP0Delay:      stored(),
		regSCP0DestAddr:   stored(),
		regSCP0SourcePort: readOnly(func(c *camera) uint32 {
			if c.str == nil {
				return 0 // no stream socket yet (start-up)
			}
			return uint32(c.str.sourcePort())
		}),
		regActionDeviceKey: stored(),
	}
	t.u64(regTimestampHigh, func(c *camera) uint64 { return c.latched })
	t.words(regUserName, 16)
	return t
}()

func writePacketSize(c *camera, addr, v uint32) (Status, func()) {
	size := v & 0xFFFF
	if size < 576-28 || size > 16404 {
		return StatusInvalidParameter, nil
	}
	c.words[addr] = v &^ (1 << 31)
	if v&(1<<31) == 0 {
		return StatusSuccess, nil
	}
	dst := c.destLocked()
	return StatusSuccess, func() { c.str.sendTestPacket(dst, int(size)) }
}

// liveBootstrap: a bootstrap register camsim runs itself. An impersonated
// camera's other registers, bootstrap ones included (GigE Vision 2.0 PTP
// control and status), are memory over the static bootstrap content.
func liveBootstrap(addr uint32) bool {
	_, ok := bootRegs[addr]
	return ok
}

// wordDefaults are the stored registers' values at power-up.
var wordDefaults = map[uint32]uint32{
	regHeartbeatTimeout: 3000,
	regSCP0PacketSize:   1500,
	regExposureTime:     hi(math.Float64bits(10000)),
	regExposureTime + 4: lo(math.Float64bits(10000)),
}

// readRegLocked returns the 32-bit register at addr (4-aligned).
func (c *camera) readRegLocked(addr uint32) (uint32, Status) {
	r, ok := bootRegs[addr]
	switch {
	case ok:
	case c.gc != nil:
		return c.gc.readLocked(addr)
	case addr < bootstrapSize:
		return binary.BigEndian.Uint32(c.boot[addr:]), StatusSuccess
	case addr >= xmlAddress && addr < xmlAddress+uint32(len(c.xml)+3)/4*4:
		var w [4]byte
		copy(w[:], c.xml[addr-xmlAddress:])
		return binary.BigEndian.Uint32(w[:]), StatusSuccess
	default:
		if r, ok = ownRegs[addr]; !ok {
			if addr >= customBase && addr < customEnd {
				return 0, StatusSuccess // holes of the feature space read as zero
			}
			return 0, StatusInvalidAddress
		}
	}
	if r.read == nil {
		return c.words[addr], StatusSuccess
	}
	return r.read(c), StatusSuccess
}

// writeRegLocked writes the 32-bit register at addr (4-aligned); CCP goes
// through writeCCPLocked. The returned func, if any, runs after mu is
// released.
func (c *camera) writeRegLocked(addr, v uint32) (Status, func()) {
	r, ok := bootRegs[addr]
	switch {
	case ok:
	case c.gc != nil:
		return c.gc.writeLocked(addr, v)
	case addr < bootstrapSize || (addr >= xmlAddress && addr < xmlAddress+uint32(len(c.xml)+3)/4*4):
		return StatusWriteProtect, nil
	default:
		if r, ok = ownRegs[addr]; !ok {
			return StatusInvalidAddress, nil
		}
	}
	switch {
	case r.write != nil:
		return r.write(c, addr, v)
	case r.ro:
		return StatusWriteProtect, nil
	}
	c.words[addr] = v
	return StatusSuccess, nil
}

// ownRegs are the feature registers of camsim's own profiles (regs.go),
// which camsim's GenICam XML (xml.go) describes.
var ownRegs = func() regTable {
	t := regTable{
		regActionGroupKey0:      stored(),
		regActionGroupMask0:     stored(),
		regActionGroupKey0 + 8:  constant(0),
		regActionGroupKey0 + 12: constant(0),

		regWidth:        {read: func(c *camera) uint32 { return c.width }, write: writeSize(maxWidth, func(c *camera, v uint32) { c.width = v })},
		regHeight:       {read: func(c *camera) uint32 { return c.height }, write: writeSize(maxHeight, func(c *camera, v uint32) { c.height = v })},
		regSensorWidth:  constant(maxWidth),
		regSensorHeight: constant(maxHeight),
		regPixelFormat: {read: func(c *camera) uint32 { return c.pixelFormat }, write: func(c *camera, _, v uint32) (Status, func()) {
			if v != PixelFormatBayerGR8 && v != PixelFormatMono8 {
				return StatusInvalidParameter, nil
			}
			c.pixelFormat = v
			return StatusSuccess, nil
		}},
		regPayloadSize:      readOnly((*camera).payloadSizeLocked),
		regAcquisitionMode:  onlyZero(),
		regTriggerSelector:  onlyZero(),
		regActionSelector:   onlyZero(),
		regAcquisitionStart: command(func(c *camera, _ uint32) func() { c.startAcquisitionLocked(); return nil }),
		regAcquisitionStop:  command(func(c *camera, _ uint32) func() { c.stopAcquisitionLocked(); return nil }),
		regFrameRate:        {read: func(c *camera) uint32 { return hi(math.Float64bits(c.frameRate)) }, write: writeFrameRate},
		regFrameRate + 4:    {read: func(c *camera) uint32 { return lo(math.Float64bits(c.frameRate)) }, write: writeFrameRate},
		regTriggerMode:      {read: func(c *camera) uint32 { return c.trigMode }, write: writeChoice(1, func(c *camera, v uint32) { c.trigMode = v })},
		regTriggerSource: {read: func(c *camera) uint32 { return c.trigSource },
			write: writeChoice(triggerSourceLine0, func(c *camera, v uint32) { c.trigSource = v })},
		regTriggerSoftware: command(func(c *camera, _ uint32) func() {
			c.softTriggers.Add(1)
			ts := c.clock.Read()
			return func() { c.trigger(triggerSourceSoftware, ts) }
		}),
		regPtpEnable: {read: func(c *camera) uint32 { return uint32(b2i(c.ptp.snapshot().Enabled)) }, write: func(c *camera, _, v uint32) (Status, func()) {
			c.ptp.setEnabled(v != 0)
			return StatusSuccess, nil
		}},
		regPtpStatus: readOnly(func(c *camera) uint32 { return uint32(c.ptp.snapshot().Status) }),
		// camsim's PTP data set registers are live; the latch is counted.
		regPtpDataSetLatch:   command(func(c *camera, _ uint32) func() { c.ptpLatches.Add(1); return nil }),
		regSchedulerInterval: stored(),
		regSchedulerCommit: command(func(c *camera, _ uint32) func() {
			at := uint64(c.words[regSchedulerTime])<<32 | uint64(c.words[regSchedulerTime+4])
			iv := time.Duration(c.words[regSchedulerInterval]) * time.Microsecond
			return func() { c.sched.commit(at, iv) }
		}),
		regSchedulerCancel: command(func(c *camera, _ uint32) func() { return func() { c.sched.cancel() } }),
		regSchedulerStatus: readOnly(func(c *camera) uint32 { return uint32(b2i(c.sched.active())) }),
		regChunkModeActive: stored(),
		regChunkSelector:   validated(func(v uint32) bool { return v < uint32(len(ownChunks)) }),
	}
	// An 8-byte read of a noisy value is sampled on the high word and kept
	// for the low word, so that it never mixes two samples.
	t[regPtpOffset] = readOnly(func(c *camera) uint32 {
		c.offsetSample = uint64(offsetFromMaster(c.ptp.snapshot().Status, c.clock.Error()))
		return hi(c.offsetSample)
	})
	t[regPtpOffset+4] = readOnly(func(c *camera) uint32 { return lo(c.offsetSample) })
	t.u64(regPtpClockID, func(c *camera) uint64 { return c.cfg.ClockID() })
	t[regPtpGMClockID] = readOnly(func(c *camera) uint32 { c.gmSample = c.ptp.snapshot().GM; return hi(c.gmSample) })
	t[regPtpGMClockID+4] = readOnly(func(c *camera) uint32 { return lo(c.gmSample) })
	t.words(regSchedulerTime, 8)
	t.words(regExposureTime, 8)
	t.words(regGain, 8)
	t.words(regChunkEnable0, uint32(4*len(ownChunks)))
	return t
}()

func writeSize(limit uint32, set func(*camera, uint32)) func(*camera, uint32, uint32) (Status, func()) {
	return func(c *camera, _, v uint32) (Status, func()) {
		if v < minSize || v > limit {
			return StatusInvalidParameter, nil
		}
		set(c, v)
		return StatusSuccess, nil
	}
}

func writeChoice(maxV uint32, set func(*camera, uint32)) func(*camera, uint32, uint32) (Status, func()) {
	return func(c *camera, _, v uint32) (Status, func()) {
		if v > maxV {
			return StatusInvalidParameter, nil
		}
		set(c, v)
		return StatusSuccess, nil
	}
}

// writeFrameRate takes either word of the float64 frame rate; the low word
// completes an 8-byte write and is checked then.
func writeFrameRate(c *camera, addr, v uint32) (Status, func()) {
	bits := math.Float64bits(c.frameRate)
	if addr == regFrameRate {
		c.frameRate = math.Float64frombits(uint64(v)<<32 | bits&0xFFFFFFFF)
		return StatusSuccess, nil
	}
	f := math.Float64frombits(bits&^0xFFFFFFFF | uint64(v))
	if !(f >= 0.1 && f <= 1000) {
		return StatusInvalidParameter, nil
	}
	c.frameRate = f
	return StatusSuccess, nil
}

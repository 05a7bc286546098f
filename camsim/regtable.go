package camsim

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
}

// readRegLocked returns the 32-bit register at addr (4-aligned): a
// bootstrap register camsim runs, else the camera's XML-described memory.
func (c *camera) readRegLocked(addr uint32) (uint32, Status) {
	r, ok := bootRegs[addr]
	if !ok {
		return c.gc.readLocked(addr)
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
	case !ok:
		return c.gc.writeLocked(addr, v)
	case r.write != nil:
		return r.write(c, addr, v)
	case r.ro:
		return StatusWriteProtect, nil
	}
	c.words[addr] = v
	return StatusSuccess, nil
}

package camsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// camera is one simulated device: registers, clock, PTP port, triggers and
// stream. Register state lives under mu; the clock, the PTP port and the
// streamer have their own locks and never call back into camera under them.
type camera struct {
	cfg   Config
	log   *slog.Logger
	clock *clock
	ptp   *ptpPort
	xml   []byte
	boot  [bootstrapSize]byte // static bootstrap content
	str   *streamer
	sched *scheduler
	// gc is the impersonated camera's register memory (Config.GenICam); nil
	// for camsim's own profiles.
	gc     *gcCamera
	tickHz uint64 // device ticks per second (bootstrap 0x093C/0x0940)

	mu          sync.Mutex
	width       uint32
	height      uint32
	pixelFormat uint32
	frameRate   float64
	trigMode    uint32
	trigSource  uint32
	acquiring   bool
	acqCancel   context.CancelFunc
	latched     uint64
	heartbeatMs uint32
	ccp         uint32
	ccpOwner    netip.AddrPort
	ccpSeen     time.Time
	scpPort     uint32
	scps        uint32
	scpd        uint32
	scda        uint32
	deviceKey   uint32
	groupKey    uint32
	groupMask   uint32
	schedTime   uint64
	schedIntUS  uint32
	userName    [16]byte
	plain       map[uint32]uint32 // registers that are only memory (ExposureTime, Gain)
	// offsetSample is the PtpOffsetFromMaster value of the last read of its high word.
	offsetSample uint64
	gmSample     uint64 // likewise for the grandmaster id

	unplugged atomic.Bool
	ctx       context.Context // the run's context, for acquisition goroutines

	// Counters for /state.
	latches         atomic.Uint64
	actionsFired    atomic.Uint64
	actionCmds      atomic.Uint64
	actionsLate     atomic.Uint64
	actionsOverflow atomic.Uint64
	softTriggers    atomic.Uint64
	gvcpCommands    atomic.Uint64
	gvcpDropped     atomic.Uint64
	gvcpErrors      atomic.Uint64
	accessDenied    atomic.Uint64
	ptpLatches      atomic.Uint64
	timestampReset  atomic.Uint64
}

func newCamera(cfg Config, log *slog.Logger) (*camera, error) {
	c := &camera{
		cfg:         cfg,
		log:         log,
		clock:       newClock(!cfg.UTC, cfg.Offset, cfg.DriftPPM, cfg.Jitter),
		width:       cfg.Width,
		height:      cfg.Height,
		pixelFormat: cfg.PixelFormat,
		frameRate:   cfg.FrameRate,
		heartbeatMs: 3000,
		scps:        1500,
		plain:       map[uint32]uint32{},
	}
	exp := math.Float64bits(10000)
	c.plain[regExposureTime], c.plain[regExposureTime+4] = uint32(exp>>32), uint32(exp)
	copy(c.userName[:], cfg.UserName)
	c.ptp = newPTPPort(&c.cfg, c.clock.FollowAnnounce, log)
	c.tickHz = nsHz
	c.xml = GenICamXML(cfg.Profile, cfg.Vendor, cfg.Model)
	xmlAt := uint32(xmlAddress)
	if cfg.GenICam != nil {
		gc, err := newGCCamera(c, cfg.GenICam)
		if err != nil {
			return nil, fmt.Errorf("camsim %s: genicam xml: %w", cfg.Serial, err)
		}
		c.gc, c.xml, xmlAt = gc, gc.xml, gc.xmlAddr
		c.tickHz = gc.tickHzFromXML()
	}
	c.fillBootstrap(xmlAt)
	if c.gc != nil {
		c.mu.Lock()
		missing := c.gc.initLocked()
		c.mu.Unlock()
		for _, m := range missing {
			log.Warn("genicam: feature not resolved", "feature", m)
		}
		log.Info("genicam: impersonating", "vendor", cfg.Vendor, "model", cfg.Model, "nodes", len(c.gc.g.doc.Nodes),
			"features", len(c.gc.f), "unresolved", len(missing), "tick_hz", c.tickHz, "xml_address", fmt.Sprintf("0x%x", xmlAt))
	}
	return c, nil
}

func putString(b []byte, s string) {
	n := copy(b[:len(b)-1], s) // keep a terminating NUL
	clear(b[n:])
}

func (c *camera) fillBootstrap(xmlAt uint32) {
	b := c.boot[:]
	be := binary.BigEndian
	be.PutUint32(b[regVersion:], 2<<16|0) // GigE Vision 2.0: ACTION_CMD, 64-bit timestamps
	// Big-endian device, class transmitter, UTF-8 strings.
	be.PutUint32(b[regDeviceMode:], 1<<31|1)
	m := c.cfg.MAC
	be.PutUint32(b[regMACHigh:], uint32(m[0])<<8|uint32(m[1]))
	be.PutUint32(b[regMACLow:], uint32(m[2])<<24|uint32(m[3])<<16|uint32(m[4])<<8|uint32(m[5]))
	be.PutUint32(b[regIPConfigSupport:], 0x7) // persistent, DHCP, LLA
	be.PutUint32(b[regIPConfigCurrent:], 0x1) // persistent
	ip := c.cfg.Address.As4()
	copy(b[regCurrentIP:], ip[:])
	be.PutUint32(b[regCurrentSubnet:], c.subnetMask())
	putString(b[regManufacturer:regManufacturer+32], c.cfg.Vendor)
	putString(b[regModel:regModel+32], c.cfg.Model)
	putString(b[regDeviceVersion:regDeviceVersion+32], c.cfg.Version)
	putString(b[regManufacturerInfo:regManufacturerInfo+48], "ptpcam camera simulator")
	putString(b[regSerial:regSerial+16], c.cfg.Serial)
	url := fmt.Sprintf("Local:camsim.xml;%x;%x", xmlAt, len(c.xml))
	putString(b[regFirstURL:regFirstURL+512], url)
	putString(b[regSecondURL:regSecondURL+512], url)
	be.PutUint32(b[regNumInterfaces:], 1)
	be.PutUint32(b[regNumMsgChannels:], 0)
	be.PutUint32(b[regNumStreamChans:], 1)
	be.PutUint32(b[regNumActions:], 1)
	be.PutUint32(b[regGVCPCapability:], gvcpCapabilities)
	be.PutUint32(b[regTickFreqHigh:], uint32(c.tickHz>>32))
	be.PutUint32(b[regTickFreqLow:], uint32(c.tickHz))
}

func (c *camera) subnetMask() uint32 {
	ifi, err := net.InterfaceByName(c.cfg.Interface)
	if err == nil {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.Contains(net.IP(c.cfg.Address.AsSlice())) {
				return binary.BigEndian.Uint32(net.IP(ipn.Mask).To16()[12:16])
			}
		}
	}
	return 0xFF000000
}

// readRegLocked returns the 32-bit register at addr (4-aligned).
func (c *camera) readRegLocked(addr uint32) (uint32, Status) {
	be := binary.BigEndian
	hi := func(v uint64) uint32 { return uint32(v >> 32) }
	lo := func(v uint64) uint32 { return uint32(v) }
	if c.gc != nil && !liveBootstrap(addr) {
		return c.gc.readLocked(addr)
	}
	switch addr {
	case regHeartbeatTimeout:
		return c.heartbeatMs, StatusSuccess
	case regTimestampControl:
		return 0, StatusSuccess
	case regTimestampHigh:
		return hi(c.latched), StatusSuccess
	case regTimestampLow:
		return lo(c.latched), StatusSuccess
	case regCCP:
		return c.ccp, StatusSuccess
	case regPrimaryPort:
		return uint32(c.ccpOwner.Port()), StatusSuccess // zero AddrPort while free
	case regPrimaryIP:
		if !c.ccpOwner.Addr().Is4() {
			return 0, StatusSuccess
		}
		a := c.ccpOwner.Addr().As4()
		return be.Uint32(a[:]), StatusSuccess
	case regSCP0Port:
		return c.scpPort, StatusSuccess
	case regSCP0PacketSize:
		return c.scps, StatusSuccess
	case regSCP0Delay:
		return c.scpd, StatusSuccess
	case regSCP0DestAddr:
		return c.scda, StatusSuccess
	case regSCP0SourcePort:
		return uint32(c.str.sourcePort()), StatusSuccess
	case regActionDeviceKey:
		return c.deviceKey, StatusSuccess
	case regActionGroupKey0:
		return c.groupKey, StatusSuccess
	case regActionGroupMask0:
		return c.groupMask, StatusSuccess
	}
	if addr >= regUserName && addr < regUserName+16 {
		return be.Uint32(c.userName[addr-regUserName:]), StatusSuccess
	}
	if addr < bootstrapSize {
		return be.Uint32(c.boot[addr:]), StatusSuccess
	}
	if addr >= regActionGroupKey0 && addr < actionGroupEnd {
		return 0, StatusSuccess
	}
	if addr >= xmlAddress && addr < xmlAddress+uint32(len(c.xml)+3)/4*4 {
		var w [4]byte
		copy(w[:], c.xml[addr-xmlAddress:])
		return be.Uint32(w[:]), StatusSuccess
	}
	if addr < customBase || addr >= customEnd {
		return 0, StatusInvalidAddress
	}
	snap := func() ptpSnapshot { return c.ptp.snapshot() }
	switch addr {
	case regWidth:
		return c.width, StatusSuccess
	case regHeight:
		return c.height, StatusSuccess
	case regSensorWidth:
		return maxWidth, StatusSuccess
	case regSensorHeight:
		return maxHeight, StatusSuccess
	case regPixelFormat:
		return c.pixelFormat, StatusSuccess
	case regPayloadSize:
		return c.payloadSizeLocked(), StatusSuccess
	case regAcquisitionMode, regTriggerSelector, regActionSelector:
		return 0, StatusSuccess
	case regFrameRate:
		return hi(math.Float64bits(c.frameRate)), StatusSuccess
	case regFrameRate + 4:
		return lo(math.Float64bits(c.frameRate)), StatusSuccess
	case regTriggerMode:
		return c.trigMode, StatusSuccess
	case regTriggerSource:
		return c.trigSource, StatusSuccess
	case regPtpEnable:
		if snap().Enabled {
			return 1, StatusSuccess
		}
		return 0, StatusSuccess
	case regPtpStatus:
		return uint32(snap().Status), StatusSuccess
	case regPtpOffset:
		// Sampled on the high word and kept for the low word, so that one
		// 8-byte read never mixes two samples of a noisy value.
		c.offsetSample = uint64(offsetFromMaster(snap().Status, c.clock.Error()))
		return hi(c.offsetSample), StatusSuccess
	case regPtpOffset + 4:
		return lo(c.offsetSample), StatusSuccess
	case regPtpClockID:
		return hi(c.cfg.ClockID()), StatusSuccess
	case regPtpClockID + 4:
		return lo(c.cfg.ClockID()), StatusSuccess
	case regPtpGMClockID:
		c.gmSample = snap().GM
		return hi(c.gmSample), StatusSuccess
	case regPtpGMClockID + 4:
		return lo(c.gmSample), StatusSuccess
	case regSchedulerTime:
		return hi(c.schedTime), StatusSuccess
	case regSchedulerTime + 4:
		return lo(c.schedTime), StatusSuccess
	case regSchedulerInterval:
		return c.schedIntUS, StatusSuccess
	case regSchedulerStatus:
		if c.sched.active() {
			return 1, StatusSuccess
		}
		return 0, StatusSuccess
	}
	// Plain registers read as written; command registers and holes in the
	// feature space as zero, as write-only registers of real devices do.
	return c.plain[addr], StatusSuccess
}

// writeRegLocked writes the 32-bit register at addr (4-aligned). Side
// effects that take other locks (stream, scheduler) are returned as a func to
// run after mu is released.
func (c *camera) writeRegLocked(addr, v uint32) (Status, func()) {
	setHi := func(p *uint64) { *p = uint64(v)<<32 | *p&0xFFFFFFFF }
	setLo := func(p *uint64) { *p = *p&^0xFFFFFFFF | uint64(v) }
	if c.gc != nil && !liveBootstrap(addr) {
		return c.gc.writeLocked(addr, v)
	}
	switch addr {
	case regHeartbeatTimeout:
		// GEV: at least 500 ms.
		c.heartbeatMs = max(v, 500)
		return StatusSuccess, nil
	case regTimestampControl:
		if v&tsReset != 0 {
			c.clock.Reset()
			c.timestampReset.Add(1)
		}
		if v&tsLatch != 0 {
			c.latchLocked()
		}
		return StatusSuccess, nil
	case regSCP0Port:
		c.scpPort = v & 0xFFFF
		return StatusSuccess, nil
	case regSCP0PacketSize:
		size := v & 0xFFFF
		if size < 576-28 || size > 16404 {
			return StatusInvalidParameter, nil
		}
		c.scps = v &^ (1 << 31)
		if v&(1<<31) != 0 {
			dst := c.destLocked()
			return StatusSuccess, func() { c.str.sendTestPacket(dst, int(size)) }
		}
		return StatusSuccess, nil
	case regSCP0Delay:
		c.scpd = v
		return StatusSuccess, nil
	case regSCP0DestAddr:
		c.scda = v
		return StatusSuccess, nil
	case regActionDeviceKey:
		c.deviceKey = v
		return StatusSuccess, nil
	case regActionGroupKey0:
		c.groupKey = v
		return StatusSuccess, nil
	case regActionGroupMask0:
		c.groupMask = v
		return StatusSuccess, nil
	}
	if addr >= regUserName && addr < regUserName+16 {
		binary.BigEndian.PutUint32(c.userName[addr-regUserName:], v)
		return StatusSuccess, nil
	}
	if addr < bootstrapSize || (addr >= xmlAddress && addr < xmlAddress+uint32(len(c.xml)+3)/4*4) {
		return StatusWriteProtect, nil
	}
	if addr >= regActionGroupKey0 && addr < actionGroupEnd {
		return StatusWriteProtect, nil
	}
	if addr < customBase || addr >= customEnd {
		return StatusInvalidAddress, nil
	}
	switch addr {
	case regWidth, regHeight:
		lim := uint32(maxWidth)
		if addr == regHeight {
			lim = maxHeight
		}
		if v < minSize || v > lim {
			return StatusInvalidParameter, nil
		}
		if addr == regWidth {
			c.width = v
		} else {
			c.height = v
		}
	case regPixelFormat:
		if v != PixelFormatBayerGR8 && v != PixelFormatMono8 {
			return StatusInvalidParameter, nil
		}
		c.pixelFormat = v
	case regAcquisitionMode, regTriggerSelector, regActionSelector:
		if v != 0 {
			return StatusInvalidParameter, nil
		}
	case regAcquisitionStart:
		c.startAcquisitionLocked()
	case regAcquisitionStop:
		c.stopAcquisitionLocked()
	case regFrameRate, regFrameRate + 4:
		bits := math.Float64bits(c.frameRate)
		if addr == regFrameRate {
			setHi(&bits)
		} else {
			setLo(&bits)
			// The low word completes an 8-byte write: check it then.
			if f := math.Float64frombits(bits); !(f >= 0.1 && f <= 1000) {
				return StatusInvalidParameter, nil
			}
		}
		c.frameRate = math.Float64frombits(bits)
	case regTriggerMode:
		if v > 1 {
			return StatusInvalidParameter, nil
		}
		c.trigMode = v
	case regTriggerSource:
		if v > triggerSourceLine0 {
			return StatusInvalidParameter, nil
		}
		c.trigSource = v
	case regTriggerSoftware:
		if v != 0 {
			c.softTriggers.Add(1)
			ts := c.clock.Read()
			return StatusSuccess, func() { c.trigger(triggerSourceSoftware, ts) }
		}
	case regPtpEnable:
		c.ptp.setEnabled(v != 0)
	case regPtpDataSetLatch:
		// camsim's PTP data set registers are live; the latch is counted.
		c.ptpLatches.Add(1)
	case regSchedulerTime:
		setHi(&c.schedTime)
	case regSchedulerTime + 4:
		setLo(&c.schedTime)
	case regSchedulerInterval:
		c.schedIntUS = v
	case regSchedulerCommit:
		if v != 0 {
			t, iv := c.schedTime, time.Duration(c.schedIntUS)*time.Microsecond
			return StatusSuccess, func() { c.sched.commit(t, iv) }
		}
	case regSchedulerCancel:
		if v != 0 {
			return StatusSuccess, func() { c.sched.cancel() }
		}
	case regExposureTime, regExposureTime + 4, regGain, regGain + 4, regChunkModeActive:
		c.plain[addr] = v
	case regChunkSelector:
		if v >= uint32(len(ownChunks)) {
			return StatusInvalidParameter, nil
		}
		c.plain[addr] = v
	case regPayloadSize, regPtpStatus, regPtpOffset, regPtpOffset + 4, regPtpClockID, regPtpClockID + 4,
		regPtpGMClockID, regPtpGMClockID + 4, regSchedulerStatus, regSensorWidth, regSensorHeight:
		return StatusWriteProtect, nil
	default:
		if addr >= regChunkEnable0 && addr < regChunkEnable0+uint32(4*len(ownChunks)) {
			c.plain[addr] = v
			return StatusSuccess, nil
		}
		return StatusInvalidAddress, nil
	}
	return StatusSuccess, nil
}

// destLocked is the stream destination from SCDA and the SCP0 port.
func (c *camera) destLocked() netip.AddrPort {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], c.scda)
	return netip.AddrPortFrom(netip.AddrFrom4(a), uint16(c.scpPort))
}

// streamParams is what a frame needs from the registers, taken at its start.
type streamParams struct {
	dst         netip.AddrPort
	packetSize  int
	delay       time.Duration
	width       uint32
	height      uint32
	pixelFormat uint32
	period      time.Duration
	chunks      *chunkSet // chunk mode: appended after the image (chunk.go)
}

func (c *camera) streamParamsLocked() streamParams {
	return streamParams{
		dst:         c.destLocked(),
		packetSize:  int(c.scps & 0xFFFF),
		delay:       time.Duration(c.scpd), // 1 GHz ticks
		width:       c.width,
		height:      c.height,
		pixelFormat: c.pixelFormat,
		period:      time.Duration(float64(time.Second) / c.frameRate),
		chunks:      c.chunksLocked(),
	}
}

func (c *camera) startAcquisitionLocked() {
	if c.acquiring {
		return
	}
	c.acquiring = true
	ctx, cancel := context.WithCancel(c.ctx)
	c.acqCancel = cancel
	go c.freeRun(ctx)
	c.log.Info("acquisition started")
}

func (c *camera) stopAcquisitionLocked() {
	if !c.acquiring {
		return
	}
	c.acquiring = false
	c.acqCancel()
	c.log.Info("acquisition stopped")
}

// freeRun produces frames at AcquisitionFrameRate while trigger mode is Off.
func (c *camera) freeRun(ctx context.Context) {
	next := time.Now()
	for {
		c.mu.Lock()
		p := c.streamParamsLocked()
		free := c.trigMode == 0
		c.mu.Unlock()
		next = next.Add(p.period)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if d < -p.period {
			next = time.Now() // fell behind: do not burst
		}
		if ctx.Err() != nil {
			return
		}
		if free && !c.unplugged.Load() {
			c.str.enqueue(c.ticks(c.clock.Read()), p)
		}
	}
}

// trigger is a trigger event from source at device time ts: a frame when
// acquiring with TriggerMode On and that TriggerSource.
func (c *camera) trigger(source uint32, ts uint64) {
	c.mu.Lock()
	ok := c.acquiring && c.trigMode == 1 && c.trigSource == source
	p := c.streamParamsLocked()
	c.mu.Unlock()
	if ok && !c.unplugged.Load() {
		c.str.enqueue(c.ticks(ts), p)
	}
}

// fireAction0 is Action0 happening at device time ts.
func (c *camera) fireAction0(ts uint64) {
	c.actionsFired.Add(1)
	c.trigger(triggerSourceAction0, ts)
}

// privilege checks the control channel privilege for a command from src and
// refreshes the heartbeat of its owner.
func (c *camera) privilegeLocked(src netip.AddrPort, write bool) Status {
	now := time.Now()
	c.expireLocked(now)
	if c.ccp == 0 {
		return StatusSuccess
	}
	if src == c.ccpOwner {
		c.ccpSeen = now
		return StatusSuccess
	}
	if write || c.ccp&ccpExclusive != 0 {
		c.accessDenied.Add(1)
		return StatusAccessDenied
	}
	return StatusSuccess
}

// expireLocked drops the control privilege of a controller whose heartbeat
// stopped. Like real devices, camsim then stops acquisition and closes the
// stream channel, so a crashed client does not leave a camera streaming.
func (c *camera) expireLocked(now time.Time) {
	if c.ccp != 0 && now.Sub(c.ccpSeen) > time.Duration(c.heartbeatMs)*time.Millisecond {
		c.log.Info("control privilege expired", "owner", c.ccpOwner)
		c.releaseLocked()
	}
}

func (c *camera) releaseLocked() {
	c.ccp, c.ccpOwner = 0, netip.AddrPort{}
	c.stopAcquisitionLocked()
	c.scpPort = 0
}

// watchHeartbeat expires the privilege even when no command arrives.
func (c *camera) watchHeartbeat(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.mu.Lock()
			c.expireLocked(now)
			c.mu.Unlock()
		}
	}
}

func (c *camera) writeCCPLocked(src netip.AddrPort, v uint32) Status {
	if c.ccp != 0 && src != c.ccpOwner {
		c.accessDenied.Add(1)
		return StatusAccessDenied
	}
	v &= ccpExclusive | ccpControl
	if v == 0 {
		if c.ccp != 0 {
			c.log.Info("control privilege released", "owner", c.ccpOwner)
			c.releaseLocked()
		}
		return StatusSuccess
	}
	if c.ccp == 0 {
		c.log.Info("control privilege taken", "owner", src)
	}
	c.ccp, c.ccpOwner, c.ccpSeen = v, src, time.Now()
	return StatusSuccess
}

// handle answers one GVCP datagram from src; nil means no answer.
func (c *camera) handle(pkt []byte, src netip.AddrPort) []byte {
	cmd, err := ParseCommand(pkt)
	if err != nil {
		c.gvcpDropped.Add(1)
		return nil
	}
	c.gvcpCommands.Add(1)
	ack := func(st Status, payload []byte) []byte {
		if st != StatusSuccess {
			c.gvcpErrors.Add(1)
		}
		if cmd.Flags&FlagAckRequired == 0 && cmd.Command != CmdDiscovery {
			return nil
		}
		return marshalAck(st, cmd.Command+1, cmd.ReqID, payload)
	}
	be := binary.BigEndian
	p := cmd.Payload
	switch cmd.Command {
	case CmdDiscovery:
		c.mu.Lock()
		data := make([]byte, discoveryDataSize)
		copy(data, c.boot[:discoveryDataSize])
		copy(data[regUserName:], c.userName[:])
		c.mu.Unlock()
		return marshalAck(StatusSuccess, CmdDiscovery+1, cmd.ReqID, data)

	case CmdReadReg:
		if len(p) == 0 || len(p)%4 != 0 || len(p) > maxMemData {
			return ack(StatusInvalidParameter, nil)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if st := c.privilegeLocked(src, false); st != StatusSuccess {
			return ack(st, nil)
		}
		out := make([]byte, len(p))
		for i := 0; i < len(p); i += 4 {
			addr := be.Uint32(p[i:])
			if addr%4 != 0 {
				return ack(StatusBadAlignment, out[:i])
			}
			v, st := c.readRegLocked(addr)
			if st != StatusSuccess {
				return ack(st, out[:i])
			}
			be.PutUint32(out[i:], v)
		}
		return ack(StatusSuccess, out)

	case CmdWriteReg:
		if len(p) == 0 || len(p)%8 != 0 || len(p) > maxMemData {
			return ack(StatusInvalidParameter, make([]byte, 4))
		}
		var after []func()
		defer func() {
			for _, f := range after {
				f()
			}
		}()
		c.mu.Lock()
		defer c.mu.Unlock()
		if st := c.privilegeLocked(src, true); st != StatusSuccess && !(len(p) == 8 && be.Uint32(p) == regCCP) {
			return ack(st, make([]byte, 4))
		}
		idx := make([]byte, 4)
		for i := 0; i < len(p); i += 8 {
			addr, v := be.Uint32(p[i:]), be.Uint32(p[i+4:])
			var st Status
			var f func()
			switch {
			case addr%4 != 0:
				st = StatusBadAlignment
			case addr == regCCP:
				st = c.writeCCPLocked(src, v)
			default:
				st, f = c.writeRegLocked(addr, v)
			}
			if st != StatusSuccess {
				return ack(st, idx)
			}
			if f != nil {
				after = append(after, f)
			}
			be.PutUint16(idx[2:], uint16(i/8+1))
		}
		return ack(StatusSuccess, idx)

	case CmdReadMem:
		if len(p) < 8 {
			return ack(StatusInvalidParameter, nil)
		}
		addr, n := be.Uint32(p), uint32(be.Uint16(p[6:]))
		if addr%4 != 0 || n%4 != 0 {
			return ack(StatusBadAlignment, nil)
		}
		if n == 0 || n > maxMemData {
			return ack(StatusInvalidParameter, nil)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if st := c.privilegeLocked(src, false); st != StatusSuccess {
			return ack(st, nil)
		}
		out := make([]byte, 4+n)
		be.PutUint32(out, addr)
		for i := uint32(0); i < n; i += 4 {
			v, st := c.readRegLocked(addr + i)
			if st != StatusSuccess {
				return ack(st, nil)
			}
			be.PutUint32(out[4+i:], v)
		}
		return ack(StatusSuccess, out)

	case CmdWriteMem:
		if len(p) < 8 || (len(p)-4)%4 != 0 || len(p)-4 > maxMemData {
			return ack(StatusInvalidParameter, make([]byte, 4))
		}
		addr := be.Uint32(p)
		if addr%4 != 0 {
			return ack(StatusBadAlignment, make([]byte, 4))
		}
		var after []func()
		defer func() {
			for _, f := range after {
				f()
			}
		}()
		c.mu.Lock()
		defer c.mu.Unlock()
		if st := c.privilegeLocked(src, true); st != StatusSuccess {
			return ack(st, make([]byte, 4))
		}
		res := make([]byte, 4)
		for i := 4; i < len(p); i += 4 {
			a := addr + uint32(i-4)
			var st Status
			var f func()
			if a == regCCP {
				st = c.writeCCPLocked(src, be.Uint32(p[i:]))
			} else {
				st, f = c.writeRegLocked(a, be.Uint32(p[i:]))
			}
			if st != StatusSuccess {
				be.PutUint16(res[2:], uint16(i-4))
				return ack(st, res)
			}
			if f != nil {
				after = append(after, f)
			}
		}
		be.PutUint16(res[2:], uint16(len(p)-4))
		return ack(StatusSuccess, res)

	case CmdPacketResend:
		c.handleResend(cmd)
		return nil // GEV: PACKETRESEND is never acknowledged

	case CmdAction:
		return c.handleAction(cmd, ack)
	}
	return ack(StatusNotImplemented, nil)
}

func (c *camera) handleResend(cmd Command) {
	p := cmd.Payload
	be := binary.BigEndian
	var block uint64
	var first, last uint32
	switch {
	case cmd.Flags&FlagExtendedIDs != 0 && len(p) >= 20:
		first, last = be.Uint32(p[4:]), be.Uint32(p[8:])
		block = be.Uint64(p[12:])
	case len(p) >= 12:
		block = uint64(be.Uint16(p[2:]))
		first, last = be.Uint32(p[4:])&0xFFFFFF, be.Uint32(p[8:])&0xFFFFFF
	default:
		c.gvcpDropped.Add(1)
		return
	}
	c.str.resend(uint16(block), first, last)
}

func (c *camera) handleAction(cmd Command, ack func(Status, []byte) []byte) []byte {
	a, err := parseAction(cmd.Flags, cmd.Payload)
	if err != nil {
		return ack(StatusInvalidParameter, nil)
	}
	c.mu.Lock()
	match := a.DeviceKey == c.deviceKey && a.GroupKey == c.groupKey && a.GroupMask&c.groupMask != 0
	if c.gc != nil {
		match = c.gc.actionMatchLocked(a.DeviceKey, a.GroupKey, a.GroupMask)
	}
	c.mu.Unlock()
	if !match {
		// GEV: a device the action is not for stays silent.
		return nil
	}
	c.actionCmds.Add(1)
	if !a.HasTime {
		c.fireAction0(c.clock.Read())
		return ack(StatusSuccess, nil)
	}
	at := c.tickNS(a.Time) // action_time counts device ticks
	if now := c.clock.Exact(); at < now {
		c.actionsLate.Add(1)
		c.fireAction0(now)
		return ack(StatusActionLate, nil)
	}
	if !c.sched.onceBounded(at, c.actionQueueSize()) {
		c.actionsOverflow.Add(1)
		return ack(StatusOverflow, nil)
	}
	return ack(StatusSuccess, nil)
}

// serveGVCP answers GVCP arriving on conn, a broadcast address, until ctx
// ends or conn is closed.
func (c *camera) serveGVCP(ctx context.Context, conn *net.UDPConn, reply *rawSocket) error {
	buf := make([]byte, 2048)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return fmt.Errorf("gvcp: %w", err)
		}
		c.answerGVCP(buf[:n], netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), reply)
	}
}

// answerGVCP handles one GVCP datagram from src. Answers go out of reply,
// the socket bound to the camera's own address, so that they carry it as
// source even when the command came in as a broadcast.
func (c *camera) answerGVCP(pkt []byte, src netip.AddrPort, reply *rawSocket) {
	if c.unplugged.Load() {
		return
	}
	if out := c.handle(pkt, src); out != nil {
		if err := reply.send(out, src); err != nil {
			c.log.Debug("gvcp: answering", "err", err)
		}
	}
}

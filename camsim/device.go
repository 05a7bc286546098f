package camsim

import (
	"context"
	"encoding/binary"

	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"time"
)

// camera is one simulated device: registers, clock, PTP port, triggers and
// stream. Register state lives under mu; the clock, the PTP port and the
// streamer have their own locks and never call back into camera under them.
// What GVCP reads and writes goes through the register table (regtable.go):
// the table says how each word reads and writes, camera holds the state.
type camera struct {
	cfg   Config
	log   *slog.Logger
	clock *clock
	ptp   *ptpPort
	xml   []byte
	boot  [bootstrapSize]byte // static bootstrap content
	str   *streamer
	sched *scheduler
	// gc is the camera's register memory behind its XML: Config.GenICam's,
	// or camsim's own profile's (own).
	gc     *gcCamera
	own    bool
	tickHz uint64 // device ticks per second (bootstrap 0x093C/0x0940)

	mu sync.Mutex
	sensor
	ccp     controlPrivilege
	latched uint64            // timestamp value (0x0948/0x094C), device ticks
	words   map[uint32]uint32 // stored registers of the table (heartbeat, stream channel, keys, ...)

	unplugged atomic.Bool
	ctx       context.Context // the run's context, for acquisition goroutines
	counters
}

// sensor is the image and acquisition state frames are made from, set
// through camsim's own registers or an impersonated XML's features.
type sensor struct {
	width, height uint32
	pixelFormat   uint32
	frameRate     float64
	trigMode      uint32 // 0 Off, 1 On
	trigSource    uint32 // triggerSource*
	// Host times (ns) of the last trigger and the gap before it: a
	// triggered frame is paced over the trigger interval (triggerPeriodLocked).
	lastTrigger, trigGap int64
	acquiring            bool
	acqCancel            context.CancelFunc
}

// counters are the events /state reports.
type counters struct {
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
		cfg:    cfg,
		log:    log,
		clock:  newClock(!cfg.UTC, cfg.Offset, cfg.DriftPPM, cfg.Jitter),
		sensor: sensor{width: cfg.Width, height: cfg.Height, pixelFormat: cfg.PixelFormat, frameRate: cfg.FrameRate},
		words:  maps.Clone(wordDefaults),
	}
	var name [16]byte
	copy(name[:], cfg.UserName)
	for i := 0; i < len(name); i += 4 {
		c.words[regUserName+uint32(i)] = binary.BigEndian.Uint32(name[i:])
	}
	c.ptp = newPTPPort(&c.cfg, c.clock.FollowAnnounce, log)
	// One engine for every camera: an own profile is camsim's generated
	// XML impersonated, its clock counting ns (a 1 GHz tick).
	xmlText, own := cfg.GenICam, cfg.GenICam == nil
	if own {
		xmlText = GenICamXML(cfg.Profile, cfg.Vendor, cfg.Model)
	}
	gc, err := newGCCamera(c, xmlText)
	if err != nil {
		return nil, fmt.Errorf("camsim %s: genicam xml: %w", cfg.Serial, err)
	}
	c.gc, c.xml, c.own = gc, gc.xml, own
	c.tickHz = nsHz
	if !own {
		c.tickHz = gc.tickHzFromXML()
	}
	c.fillBootstrap(gc.xmlAddr)
	c.initGenICam(gc.xmlAddr)
	return c, nil
}

// initGenICam initialises an impersonated camera's memory and lists what
// of it camsim could not resolve.
func (c *camera) initGenICam(xmlAt uint32) {
	c.mu.Lock()
	missing := c.gc.initLocked()
	c.mu.Unlock()
	for _, m := range missing {
		c.log.Warn("genicam: feature not resolved", "feature", m)
	}
	for _, m := range c.gc.closed {
		c.log.Warn("genicam: availability left false (no register bits make it true)", "feature", m)
	}
	if c.own {
		c.log.Debug("genicam: own profile", "profile", c.cfg.Profile, "features", len(c.gc.f), "unresolved", len(missing))
		return
	}
	c.log.Info("genicam: impersonating", "vendor", c.cfg.Vendor, "model", c.cfg.Model, "nodes", len(c.gc.g.doc.Nodes),
		"features", len(c.gc.f), "unresolved", len(missing), "tick_hz", c.tickHz, "xml_address", fmt.Sprintf("0x%x", xmlAt))
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

// destLocked is the stream destination from SCDA and the SCP0 port.
func (c *camera) destLocked() netip.AddrPort {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], c.words[regSCP0DestAddr])
	return netip.AddrPortFrom(netip.AddrFrom4(a), uint16(c.words[regSCP0Port]))
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
		packetSize:  int(c.words[regSCP0PacketSize] & 0xFFFF),
		delay:       time.Duration(c.words[regSCP0Delay]), // 1 GHz ticks
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
	if ok {
		p.period = c.triggerPeriodLocked(time.Now().UnixNano(), p.period)
	}
	c.mu.Unlock()
	if ok && !c.unplugged.Load() {
		c.str.enqueue(c.ticks(ts), p)
	}
}

// triggerPeriodLocked is the period a triggered frame is paced over at
// host time now: a camera triggered faster than its free-run rate reads out
// at the trigger rate, as a real one bounded by its link does, so a trigger
// is sent within its own interval, not the frame period of a frame rate the
// host may never have set (camsim reads the frame rate of some XMLs, e.g.
// FLIR's over a zero timebase, as its own 10 fps default). The interval is
// the longer of the last two gaps, so one short gap (two triggers the
// loaded host sent back to back) does not send a frame in a burst.
func (c *camera) triggerPeriodLocked(now int64, period time.Duration) time.Duration {
	gap := now - c.lastTrigger
	if c.lastTrigger == 0 || gap <= 0 {
		gap = 0
	}
	c.lastTrigger = now
	longer := max(gap, c.trigGap)
	c.trigGap = gap
	if gap == 0 || longer <= 0 {
		return period
	}
	return min(period, time.Duration(longer))
}

// fireAction0 is Action0 happening at device time ts.
func (c *camera) fireAction0(ts uint64) {
	c.actionsFired.Add(1)
	c.trigger(triggerSourceAction0, ts)
}

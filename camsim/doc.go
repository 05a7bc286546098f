// Package camsim simulates a GigE Vision camera that real Aravis drives like
// hardware: GVCP control, a GenICam XML with SFNC PTP, timestamp latch and
// action features, PTP behaviour that follows real Announce traffic, action
// commands and an action scheduler, and GVSP streaming. It is what ptpcam's
// tests and `make demo` use in place of cameras (The Imaging Source DFK
// 33GR0234-class devices; Basler, Lucid and FLIR expose the same features).
//
// Run it in-process with Run, or as the camsim command (cmd/camsim):
//
//	camsim --address 10.0.0.2 | --interface IFACE  --serial 05520125
//	       --profile sfnc|gev|noptp | --genicam FILE  --ptp-domain 0 [--ptp-enable]
//	       --control-address unix:/run/camsim.sock | /path | 127.0.0.1:PORT
//	       [--offset 0s --drift-ppm 0 --jitter 0s --timescale tai|utc
//	        --settle 2s --announce-timeout 3s --width 640 --height 480
//	        --pixel-format BayerGR8|Mono8 --frame-rate 10 --vendor --model
//	        --device-version --user-name --mac --gvcp-port 3956 --log.level]
//
// It stops cleanly on SIGINT and SIGTERM.
//
// # GVCP
//
// UDP 3956 on the camera address, plus sockets bound to 255.255.255.255 and to
// the subnet's broadcast address (SO_REUSEADDR), so that broadcast DISCOVERY
// reaches several cameras sharing a namespace (127.0.0.x on lo, or one
// camera per namespace on a veth). Answers always leave from the camera
// address. Commands: DISCOVERY, READREG, WRITEREG, READMEM, WRITEMEM (≤ 536
// bytes), PACKETRESEND (16-bit and extended ids; never acknowledged),
// ACTION_CMD. Anything else gets NOT_IMPLEMENTED (0x8001); an unmapped
// address INVALID_ADDRESS (0x8003), a read-only register WRITE_PROTECT
// (0x8004), an unaligned one BAD_ALIGNMENT (0x8005), an out-of-range value
// INVALID_PARAMETER (0x8002). Datagrams that do not parse (short, not 0x42,
// length beyond the datagram) are dropped and counted.
//
// The camera address is answered, like a camera's firmware would, without
// waking any other thread: one goroutine blocks in recvfrom(2) through a raw
// system call and holds a P of its own (cmd/camsim adds one to GOMAXPROCS,
// ResponderProcs; Run leaves GOMAXPROCS alone; see gvcpsock.go for why and
// for what bounds it). A round trip then
// costs microseconds where the netpoller cost tens on a VM.
//
// Control channel privilege (CCP, 0x0A00): the first controller writing
// control (0x2) or exclusive (0x3) owns it, identified by IP and port; any
// command of the owner is its heartbeat. Others get ACCESS_DENIED on writes
// (and on reads under exclusive access) until the owner writes 0 or stays
// silent for the heartbeat timeout (0x0938, default 3000 ms, at least 500).
// Losing the privilege stops acquisition and closes the stream channel, as
// real cameras do. Without an owner, anyone may write. The primary
// application registers name the owner to every reader (monitor access):
// Primary Application Port (0x0A04, its UDP source port in the low 16 bits)
// and Primary Application IP Address (0x0A14), both 0 while nobody holds
// control; read-only, advertised by bit 4 (CAP) of the GVCP capability
// register 0x0934.
//
// # Registers
//
// Bootstrap (GigE Vision 2.0): version 2.0, device mode big-endian/UTF-8,
// MAC (default from the serial, locally administered), current IP and subnet,
// manufacturer, model, version, manufacturer info, serial, user name (RW),
// first and second URL "Local:camsim.xml;100000;LEN", 1 stream channel,
// capabilities (WRITEMEM, PACKETRESEND, ACTION), heartbeat timeout, tick
// frequency 1 GHz (ticks are ns), timestamp control 0x0944 (write 0x2 latch,
// 0x1 reset), latched value 0x0948/0x094C, ActionDeviceKey 0x090C,
// SCP0 port 0x0D00, packet size 0x0D04 (bit 31 fires a test packet), delay
// 0x0D08 (ns), destination 0x0D18, source port 0x0D1C; ActionGroupKey 0x9800
// and ActionGroupMask 0x9804 (one action group, ActionSelector 0).
// Feature registers from 0x10000 (see regs.go); the XML at 0x100000.
//
// One register table (regtable.go, bootRegs) says, per bootstrap word
// camsim runs for every camera, how it reads, how it takes a write and what
// the write sets off. Every other word, own profiles and impersonated
// cameras alike, is memory behind the camera's XML, served by the
// node-graph engine (gcam*.go): an own profile is camsim's generated XML
// impersonated, with a 1 GHz tick. Its statuses follow the XML: a write to
// a read-only register is WRITE_PROTECT, a word no register covers
// INVALID_ADDRESS, a value outside a feature's Min/Max or entries
// INVALID_PARAMETER (gcam_access.go).
//
// # GenICam features
//
// All profiles: DeviceVendorName, DeviceModelName, DeviceVersion,
// DeviceManufacturerInfo, DeviceSerialNumber, DeviceID, DeviceUserID,
// SensorWidth/Height, Width, Height, OffsetX/Y (0), PixelFormat (Mono8,
// BayerGR8), PayloadSize, AcquisitionMode (Continuous), AcquisitionStart/Stop,
// AcquisitionFrameRate, TriggerSelector (FrameStart), TriggerMode (Off/On),
// TriggerSource (Software, Action0, Line0 — Line0 never fires),
// TriggerSoftware, ActionDeviceKey, ActionSelector, ActionGroupKey,
// ActionGroupMask, ActionSchedulerTime (device ns), ActionSchedulerInterval
// (µs), ActionSchedulerCommit, ActionSchedulerCancel, ActionSchedulerStatus,
// GevTimestampTickFrequency, GevHeartbeatTimeout, GevSCPSPacketSize, GevSCPD,
// GevSCDA, GevSCPHostPort, GevPrimaryApplicationSocket and
// GevPrimaryApplicationIPAddress (0x0A04/0x0A14), ExposureTime (µs) and Gain (dB) as plain memory,
// ChunkModeActive, ChunkSelector (Timestamp, FrameID, Width, Height,
// OffsetX, OffsetY), ChunkEnable and the Chunk* values, each behind a chunk
// Port (ChunkID 0x11…0x16). Aravis adds its own Arv* transport nodes.
//
// Profile sfnc adds TimestampLatch, TimestampLatchValue, TimestampReset,
// PtpEnable, PtpStatus, PtpDataSetLatch, PtpOffsetFromMaster, PtpClockID,
// PtpParentClockID, PtpGrandmasterClockID. Profile gev adds instead
// GevTimestampControlLatch, GevTimestampControlReset, GevTimestampValue,
// GevIEEE1588, GevIEEE1588Status, GevIEEE1588DataSetLatch,
// GevIEEE1588OffsetFromMaster, GevIEEE1588ClockId, GevIEEE1588ParentClockId.
// Profile noptp has no PTP and no latch nodes (the bootstrap latch register
// still works, as on real GigE Vision 2 devices).
//
// PtpStatus values are the SFNC names with IEEE 1588 portState numbers:
// Initializing 1, Faulty 2, Disabled 3, Listening 4, PreMaster 5, Master 6,
// Passive 7, Uncalibrated 8, Slave 9. The Ptp* data set registers are live;
// PtpDataSetLatch is accepted and counted.
//
// # Impersonating a real camera (--genicam FILE)
//
// camsim serves the file's XML (a pretty-printed copy is compacted, since
// Aravis does not trim node text) at an address none of its registers uses,
// with DeviceVendorName/DeviceModelName from its RegisterDescription. No
// table knows any model: the features camsim simulates are found by their
// SFNC/GigE Vision names and followed through the node graph (genicam_xml.go,
// nodes.go, nodes_set.go, formula.go) as a GenICam consumer does — pValue
// chains to IntReg, MaskedIntReg (Bit, LSB/MSB numbered from the MSB for
// BigEndian registers), StructEntry, FloatReg, StringReg; addresses from
// Address, pAddress, inline IntSwissKnife address formulas and pIndex
// (Offset/pOffset); pValueIndexed; IntSwissKnife, SwissKnife, IntConverter and
// Converter formulas. To make a feature read a value camsim inverts its path:
// it writes the register value, solving linear and HI<<32|LO formulas, using
// FormulaTo for converters. Registers at and above 0x1000, and bootstrap
// registers camsim does not run itself (GigE Vision 2.0 PTP control and
// status), are plain memory; at start every Integer, Float and Enumeration
// reads a legal value (its Min, its first entry), pIsAvailable/pIsImplemented
// registers read true, empty register ranges (pMin = pMax = 0) get a wide
// one, and a register a selector lists in pSelected at one fixed address
// holds one value per selector value. What it cannot resolve is logged at
// start-up ("genicam: feature not resolved", feature: reason).
//
// Behaviours, in the camera's terms: PTP enable (Boolean PtpEnable or
// GevIEEE1588, or PtpMode Off/Slave/Master/Auto); the PTP status written as
// the XML's entry for the port state (Undefined, else Disabled, else Off
// while PTP is off; older Allied Vision's Syncing/Error for transient and
// faulty states); offset, clock and parent/grandmaster ids, refreshed on every
// read, or only by PtpDataSetLatch/GevIEEE1588DataSetLatch where the XML
// calls the value latched; TimestampLatch/GevTimestampControlLatch writing the
// latch value in the XML's unit (ns where it says ns, else ticks). The tick
// frequency (bootstrap 0x093C/0x0940) is the XML's constant, else what a latch
// value formula in ns implies (1000·((HI<<32)|LO) → 1 MHz), else 1 GHz for a
// latch value in ns, else 125 MHz; GVSP timestamps and action_time count in
// it. Width, Height, PixelFormat (8-bit entries), AcquisitionFrameRate(Abs),
// AcquisitionStart/Stop (commands may share a register), TriggerMode and
// TriggerSource under TriggerSelector FrameStart (any Action* entry is the
// action trigger), TriggerSoftware. ACTION_CMD matches the values the device
// holds for the XML's ActionDeviceKey (the register its pValue chain ends in,
// a vendor register on Basler ace 2; else its pValueCopy's, 0x90C on The
// Imaging Source — Aravis 0.8 ignores pValueCopy, so clients write that
// register by name) and ActionGroupKey/ActionGroupMask read through every
// ActionSelector value; scheduled ones are bounded by ActionQueueSize
// (OVERFLOW beyond): the XML's constant (2 on Basler ace 2), else 16 in the
// register it reads (0x0970 on FLIR BFS and Hikrobot; Allied Vision's Manta
// maps it onto its ActionDeviceKey register 0x90C, which keeps the key).
// Lock nodes: a client's write to a feature's register while its pIsLocked
// node evaluates true (through the selectors as they are then) gets
// ACCESS_DENIED (0x8006) and changes nothing; a lock read from a read-only
// device register is the firmware's, and camsim sets the FrameStart
// TriggerSource's (FLIR's TriggerSource_Lck) while TriggerMode is On. Locks
// that already hold once camsim has initialised the camera's memory are
// artefacts of that memory (inquiry words with the lock bit set, Hikrobot's
// NOT_TLParamsLocked, which Aravis 0.8 never writes) and are not enforced.
// Chunks: for every
// ChunkSelector entry with ChunkEnable on, Chunk<entry> is written into the
// data of its chunk Port and sent with the Port's ChunkID.
//
// # Device clock
//
// Host CLOCK_REALTIME, plus TAI−UTC (37 s) when the timescale is TAI, plus
// offset, plus drift accumulated since it
// was last set (ppm of elapsed host time), plus a uniform random jitter in
// ±jitter on every read (latches, free-running frame stamps). PTP state does
// not steer this clock: a camera slaved in a rig whose grandmaster is the host
// clock is right to the extent offset/drift/jitter say, which is what the
// faults below simulate. TimestampReset makes the counter restart at 0.
//
// The timescale starts as --timescale says. Once an Announce of its domain is
// heard, the camera runs on its grandmaster's timescale, as a slaved camera
// does: TAI (with the Announce's currentUtcOffset) when the Announce sets
// ptpTimescale, else the grandmaster's arbitrary time — for ptp4l with
// software timestamping, which announces ARB, that is CLOCK_REALTIME itself.
//
// # PTP
//
// camsim only listens; it never sends PTP messages, so ptp4l never sees it.
// With PtpEnable set it joins 224.0.1.129, UDP 320, on its interface
// (on lo: `ip link set lo multicast on`) and reads Announce messages of its
// domain: a grandmaster heard → Uncalibrated for --settle, then Slave, with
// PtpGrandmasterClockID = the Announce's grandmasterIdentity. Nothing heard
// for --announce-timeout (from enabling, or since the last Announce) →
// PreMaster for a third of it → Master, with its own clock id (EUI-64 from
// the MAC) as grandmaster. Any grandmaster heard beats camsim (it behaves
// like a slave-capable camera, not a BMCA contender). PtpEnable false →
// Disabled. A grandmaster in another domain is ignored, so that camera ends
// up Master, like real hardware. PtpOffsetFromMaster while Uncalibrated or
// Slave is the clock's error (offset + drift + jitter sample), or ±20 ns of
// noise when that is zero; 0 otherwise.
//
// # Triggers and actions
//
// A committed ActionSchedulerTime T and ActionSchedulerInterval I (µs) fire
// Action0 at device times T, T+I, T+2I… (I = 0: once); grid points already
// past at commit are skipped and counted. ACTION_CMD fires Action0 when
// device key, group key and group mask (&) match (otherwise silence, as
// GigE Vision requires); with flag 0x80 and an action time it fires at that
// time, or at once with status ACTION_LATE (0x8016) when the time has passed;
// it is acknowledged when flag 0x01 is set. With TriggerMode On and
// TriggerSource Action0, each firing makes one frame stamped exactly with the
// scheduled instant. TriggerSoftware likewise, stamped with the trigger's
// read of the clock. With TriggerMode Off and acquisition started, frames
// come at AcquisitionFrameRate, stamped when produced.
//
// # GVSP
//
// To SCDA:SCP0 port from a socket on the camera address: leader (image
// payload type, device timestamp, pixel format, size), payload packets of
// SCPS − 36 bytes, trailer; GigE Vision 1.x headers with 16-bit block ids
// 1…65535, then 1 again (see BlockID). Packets of a frame are spread over
// 60% of the frame period (or SCPD apart, if larger) so loopback and veth
// queues keep up. The last 8 frames are kept for PACKETRESEND.
//
// Pixels: bytes 0–7 the frame counter (big-endian, 1 for the first frame),
// 8–15 the device timestamp (as in the leader), 16–23 "camsimFR", byte i ≥ 24
// = byte(i·7). FrameCounter and FrameTimestamp decode them.
//
// # Control endpoint
//
// Fault injection, unauthenticated, so only on a unix socket or a loopback
// TCP address (anything else is refused). HTTP:
//
//	GET  /state    JSON State (serial, profile, PTP status/auto/forced, domain,
//	               clock ids, offset, drift, jitter, device and host time,
//	               frames/packets sent, dropped, resent, latches, actions…)
//	POST /control  form values, applied in this order, answer = new State:
//	  ptp-domain=N      follow another domain (heard grandmaster forgotten)
//	  ptp-enable=BOOL   as PtpEnable
//	  offset=DUR        absolute clock offset (clears accumulated drift)
//	  step=DUR          add DUR to the offset (a clock step)
//	  drift-ppm=X       drift rate from now on
//	  jitter=DUR        bound of the per-read jitter
//	  ptp-status=NAME   force the reported PtpStatus; "auto" releases
//	  drop-percent=P    drop P % of stream packets (resent ones too)
//	  unplugged=BOOL    stop answering GVCP, stop streaming, hear no PTP
//	  exit=1            leave (Run returns nil, the command exits 0)
//
// An unknown key or bad value is 400 with a message naming it. DialControl
// returns a Go client (State, Set, SetMany); `curl --unix-socket SOCK
// http://camsim/state` works too.
package camsim

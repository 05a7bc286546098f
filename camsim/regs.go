package camsim

// Register map of the simulated camera.
//
// 0x0000–0x0FFF  GigE Vision bootstrap registers (GEV 2.x §28).
// 0x9800–0x980F  ActionGroupKey[0] / ActionGroupMask[0].
// 0x10000–       camsim's feature registers, described by the GenICam XML.
// 0x100000–      the GenICam XML itself ("Local:camsim.xml;100000;LEN").
const (
	regVersion          = 0x0000
	regDeviceMode       = 0x0004
	regMACHigh          = 0x0008
	regMACLow           = 0x000C
	regIPConfigSupport  = 0x0010
	regIPConfigCurrent  = 0x0014
	regCurrentIP        = 0x0024
	regCurrentSubnet    = 0x0034
	regCurrentGateway   = 0x0044
	regManufacturer     = 0x0048 // 32 bytes
	regModel            = 0x0068 // 32 bytes
	regDeviceVersion    = 0x0088 // 32 bytes
	regManufacturerInfo = 0x00A8 // 48 bytes
	regSerial           = 0x00D8 // 16 bytes
	regUserName         = 0x00E8 // 16 bytes
	discoveryDataSize   = 0x00F8
	regFirstURL         = 0x0200 // 512 bytes
	regSecondURL        = 0x0400
	regNumInterfaces    = 0x0600
	regNumMsgChannels   = 0x0900
	regNumStreamChans   = 0x0904
	regNumActions       = 0x0908
	regActionDeviceKey  = 0x090C
	regGVCPCapability   = 0x0934
	regHeartbeatTimeout = 0x0938
	regTickFreqHigh     = 0x093C
	regTickFreqLow      = 0x0940
	regTimestampControl = 0x0944
	regTimestampHigh    = 0x0948
	regTimestampLow     = 0x094C
	regCCP              = 0x0A00
	regPrimaryPort      = 0x0A04 // UDP source port of the controlling application, low 16 bits
	regPrimaryIP        = 0x0A14 // its IPv4 address; both 0 while nobody holds control
	regSCP0Port         = 0x0D00
	regSCP0PacketSize   = 0x0D04
	regSCP0Delay        = 0x0D08
	regSCP0DestAddr     = 0x0D18
	regSCP0SourcePort   = 0x0D1C
	bootstrapSize       = 0x1000

	regActionGroupKey0  = 0x9800
	regActionGroupMask0 = 0x9804

	xmlAddress = 0x100000
)

// Timestamp control bits (0x0944).
const (
	tsReset = 0x1
	tsLatch = 0x2
)

// CCP bits (0x0A00).
const (
	ccpExclusive = 0x1
	ccpControl   = 0x2
)

// camsim's feature registers. Values are big-endian; 8-byte registers span
// two words, high word first.
const (
	regWidth             = 0x10000
	regHeight            = 0x10004
	regPixelFormat       = 0x10008
	regPayloadSize       = 0x1000C
	regAcquisitionMode   = 0x10010
	regAcquisitionStart  = 0x10014
	regAcquisitionStop   = 0x10018
	regFrameRate         = 0x10020 // float64
	regTriggerSelector   = 0x10028
	regTriggerMode       = 0x1002C
	regTriggerSource     = 0x10030
	regTriggerSoftware   = 0x10034
	regPtpEnable         = 0x10054
	regPtpStatus         = 0x10058
	regPtpDataSetLatch   = 0x1005C
	regPtpOffset         = 0x10060 // int64
	regPtpClockID        = 0x10068 // uint64
	regPtpGMClockID      = 0x10070 // uint64
	regActionSelector    = 0x10080
	regSchedulerTime     = 0x10090 // uint64, device clock ns
	regSchedulerInterval = 0x10098 // µs
	regSchedulerCommit   = 0x1009C
	regSchedulerCancel   = 0x100A0
	regSchedulerStatus   = 0x100A4
	regSensorWidth       = 0x100A8
	regSensorHeight      = 0x100AC
	regExposureTime      = 0x100B0 // float64 µs, plain memory
	regGain              = 0x100B8 // float64 dB, plain memory
	regChunkModeActive   = 0x100C0
	regChunkSelector     = 0x100C4
	regChunkEnable0      = 0x100C8 // one word per ChunkSelector entry (chunk.go)
)

// Pixel formats (PFNC).
const (
	PixelFormatMono8    uint32 = 0x01080001
	PixelFormatBayerGR8 uint32 = 0x01080008
)

// Trigger sources, as stored in the TriggerSource register.
const (
	triggerSourceSoftware = 0
	triggerSourceAction0  = 1
	triggerSourceLine0    = 2
)

// GVCP capabilities advertised at 0x0934 (GEV 2.0 bit numbers, bit 0 the
// most significant): only what camsim does — user-defined name (0), serial
// number (1), primary application port and IP registers (4, CAP), extended
// status codes of 1.1 (9), ACTION (25), PACKETRESEND (29), WRITEMEM (30).
const gvcpCapabilities = 1<<31 | 1<<30 | 1<<27 | 1<<22 | 1<<6 | 1<<2 | 1<<1

const (
	maxWidth  = 4096
	maxHeight = 3072
	minSize   = 16
)

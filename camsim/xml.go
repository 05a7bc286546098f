package camsim

import (
	"fmt"
	"strings"
)

// GenICamXML returns the GenICam description (GenApi schema 1.1) of a camsim
// camera with the given profile. Every feature is backed by a register of the
// map in regs.go, so clients read and write it over GVCP.
func GenICamXML(p Profile, vendor, model string) []byte {
	x := &xmlWriter{}
	x.f(`<?xml version="1.0" encoding="utf-8"?>
<RegisterDescription ModelName=%q VendorName=%q StandardNameSpace="GEV"
  SchemaMajorVersion="1" SchemaMinorVersion="1" SchemaSubMinorVersion="0"
  MajorVersion="1" MinorVersion="0" SubMinorVersion="0"
  ToolTip="ptpcam camera simulator (profile %s)" ProductGuid="0b7a4d1c-7e2f-4c5e-9a51-5c0a1c3a0001" VersionGuid="0b7a4d1c-7e2f-4c5e-9a51-5c0a1c3a0002"
  xmlns="http://www.genicam.org/GenApi/Version_1_1"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.genicam.org/GenApi/Version_1_1 http://www.genicam.org/GenApi/GenApiSchema_Version_1_1.xsd">
`, xmlEscape(model), xmlEscape(vendor), p)

	cats := []string{"DeviceControl", "ImageFormatControl", "AcquisitionControl", "TransportLayerControl", "ActionControl", "ChunkDataControl"}
	if n, ok := profilePTP[p]; ok {
		cats = append(cats, n.tsCat, n.ptpCat)
	}
	x.category("Root", cats...)
	x.deviceControl()
	x.imageFormat()
	x.acquisition()
	x.actions()
	x.transportLayer()
	x.timestampAndPTP(p)
	x.chunkXML()
	x.f(`  <Port Name="Device" NameSpace="Standard"/>
</RegisterDescription>
`)
	return []byte(x.b.String())
}

// deviceControl: strings of the bootstrap registers.
func (x *xmlWriter) deviceControl() {
	x.category("DeviceControl", "DeviceVendorName", "DeviceModelName", "DeviceVersion", "DeviceManufacturerInfo",
		"DeviceSerialNumber", "DeviceID", "DeviceUserID")
	x.stringReg("DeviceVendorName", regManufacturer, 32, "RO")
	x.stringReg("DeviceModelName", regModel, 32, "RO")
	x.stringReg("DeviceVersion", regDeviceVersion, 32, "RO")
	x.stringReg("DeviceManufacturerInfo", regManufacturerInfo, 48, "RO")
	x.stringReg("DeviceSerialNumber", regSerial, 16, "RO")
	x.stringReg("DeviceID", regSerial, 16, "RO")
	x.stringReg("DeviceUserID", regUserName, 16, "RW")
}

func (x *xmlWriter) imageFormat() {
	x.category("ImageFormatControl", "SensorWidth", "SensorHeight", "Width", "Height", "OffsetX", "OffsetY", "PixelFormat", "PayloadSize")
	x.intReg("SensorWidth", regSensorWidth, 4, "RO", false, true)
	x.intReg("SensorHeight", regSensorHeight, 4, "RO", false, true)
	x.integer("Width", "WidthReg", fmt.Sprint(minSize), "<pMax>SensorWidth</pMax>", 1)
	x.intReg("WidthReg", regWidth, 4, "RW", false, false)
	x.integer("Height", "HeightReg", fmt.Sprint(minSize), "<pMax>SensorHeight</pMax>", 1)
	x.intReg("HeightReg", regHeight, 4, "RW", false, false)
	x.f(`  <Integer Name="OffsetX" NameSpace="Standard"><Value>0</Value><Min>0</Min><Max>0</Max></Integer>
  <Integer Name="OffsetY" NameSpace="Standard"><Value>0</Value><Min>0</Min><Max>0</Max></Integer>
`)
	x.enum("PixelFormat", "PixelFormatReg", [][2]any{{"Mono8", PixelFormatMono8}, {"BayerGR8", PixelFormatBayerGR8}})
	x.intReg("PixelFormatReg", regPixelFormat, 4, "RW", false, false)
	x.intReg("PayloadSize", regPayloadSize, 4, "RO", false, true)
}

// acquisition: acquisition, frame rate, exposure, gain and triggers.
func (x *xmlWriter) acquisition() {
	x.category("AcquisitionControl", "AcquisitionMode", "AcquisitionStart", "AcquisitionStop", "AcquisitionFrameRate",
		"TriggerSelector", "TriggerMode", "TriggerSource", "TriggerSoftware", "ExposureTime", "Gain")
	x.floatFeature("ExposureTime", regExposureTime, 10, 1e6, "us")
	x.floatFeature("Gain", regGain, 0, 24, "dB")
	x.enum("AcquisitionMode", "AcquisitionModeReg", [][2]any{{"Continuous", 0}})
	x.intReg("AcquisitionModeReg", regAcquisitionMode, 4, "RW", false, false)
	x.command("AcquisitionStart", regAcquisitionStart, 1)
	x.command("AcquisitionStop", regAcquisitionStop, 1)
	x.f(`  <Float Name="AcquisitionFrameRate" NameSpace="Standard">
    <pValue>AcquisitionFrameRateReg</pValue><Min>0.1</Min><Max>1000</Max><Unit>Hz</Unit>
  </Float>
  <FloatReg Name="AcquisitionFrameRateReg">
    <Address>0x%x</Address><Length>8</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess>
  </FloatReg>
`, regFrameRate)
	x.enum("TriggerSelector", "TriggerSelectorReg", [][2]any{{"FrameStart", 0}})
	x.intReg("TriggerSelectorReg", regTriggerSelector, 4, "RW", false, false)
	x.enum("TriggerMode", "TriggerModeReg", [][2]any{{"Off", 0}, {"On", 1}})
	x.intReg("TriggerModeReg", regTriggerMode, 4, "RW", false, false)
	x.enum("TriggerSource", "TriggerSourceReg", [][2]any{{"Software", triggerSourceSoftware}, {"Action0", triggerSourceAction0}, {"Line0", triggerSourceLine0}})
	x.intReg("TriggerSourceReg", regTriggerSource, 4, "RW", false, false)
	x.command("TriggerSoftware", regTriggerSoftware, 1)
}

// actions: GEV 2.0 action registers plus The Imaging Source's scheduler.
func (x *xmlWriter) actions() {
	x.category("ActionControl", "ActionDeviceKey", "ActionSelector", "ActionGroupKey", "ActionGroupMask",
		"ActionSchedulerTime", "ActionSchedulerInterval", "ActionSchedulerCommit", "ActionSchedulerCancel", "ActionSchedulerStatus")
	x.intReg("ActionDeviceKey", regActionDeviceKey, 4, "RW", false, false)
	x.f(`  <Integer Name="ActionSelector" NameSpace="Standard">
    <pValue>ActionSelectorReg</pValue><Min>0</Min><Max>0</Max>
    <pSelected>ActionGroupKey</pSelected><pSelected>ActionGroupMask</pSelected>
  </Integer>
`)
	x.intReg("ActionSelectorReg", regActionSelector, 4, "RW", false, false)
	x.intReg("ActionGroupKey", regActionGroupKey0, 4, "RW", false, false)
	x.intReg("ActionGroupMask", regActionGroupMask0, 4, "RW", false, false)
	x.intReg("ActionSchedulerTime", regSchedulerTime, 8, "RW", false, false)
	x.intReg("ActionSchedulerInterval", regSchedulerInterval, 4, "RW", false, false)
	x.command("ActionSchedulerCommit", regSchedulerCommit, 1)
	x.command("ActionSchedulerCancel", regSchedulerCancel, 1)
	x.intReg("ActionSchedulerStatus", regSchedulerStatus, 4, "RO", false, true)
}

func (x *xmlWriter) transportLayer() {
	x.category("TransportLayerControl", "GevTimestampTickFrequency", "GevHeartbeatTimeout", "GevSCPSPacketSize", "GevSCPD", "GevSCDA", "GevSCPHostPort",
		"GevPrimaryApplicationSocket", "GevPrimaryApplicationIPAddress")
	x.intReg("GevTimestampTickFrequency", regTickFreqHigh, 8, "RO", false, false)
	x.intReg("GevHeartbeatTimeout", regHeartbeatTimeout, 4, "RW", false, false)
	x.f(`  <Integer Name="GevSCPSPacketSize" NameSpace="Standard">
    <pValue>GevSCPSPacketSizeReg</pValue><Min>576</Min><Max>16404</Max><Inc>4</Inc>
  </Integer>
  <MaskedIntReg Name="GevSCPSPacketSizeReg">
    <Address>0x%x</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Cachable>NoCache</Cachable>
    <LSB>31</LSB><MSB>16</MSB><Sign>Unsigned</Sign><Endianess>BigEndian</Endianess>
  </MaskedIntReg>
  <MaskedIntReg Name="GevSCPHostPort" NameSpace="Standard">
    <Address>0x%x</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Cachable>NoCache</Cachable>
    <LSB>31</LSB><MSB>16</MSB><Sign>Unsigned</Sign><Endianess>BigEndian</Endianess>
  </MaskedIntReg>
`, regSCP0PacketSize, regSCP0Port)
	x.intReg("GevSCPD", regSCP0Delay, 4, "RW", false, false)
	x.intReg("GevSCDA", regSCP0DestAddr, 4, "RW", false, true)
	// The controlling application, for monitors (0 while free).
	x.intReg("GevPrimaryApplicationSocket", regPrimaryPort, 4, "RO", false, true)
	x.intReg("GevPrimaryApplicationIPAddress", regPrimaryIP, 4, "RO", false, true)
}

// ptpNames are a profile's names of its timestamp and PTP features.
type ptpNames struct {
	tsCat        string
	tsOrder      []string // the category's features, in its order
	latch, reset string
	value        string
	ptpCat       string
	enable       string
	status       string
	dsLatch      string
	offset       string
	clockID      string
	parentID     string
	gmID         string // "" where the profile has none
}

var profilePTP = map[Profile]ptpNames{
	ProfileSFNC: {tsCat: "TimestampControl", tsOrder: []string{"TimestampLatch", "TimestampLatchValue", "TimestampReset"},
		latch: "TimestampLatch", reset: "TimestampReset", value: "TimestampLatchValue",
		ptpCat: "PtpControl", enable: "PtpEnable", status: "PtpStatus", dsLatch: "PtpDataSetLatch",
		offset: "PtpOffsetFromMaster", clockID: "PtpClockID", parentID: "PtpParentClockID", gmID: "PtpGrandmasterClockID"},
	ProfileGEV: {tsCat: "GevTimestampControl", tsOrder: []string{"GevTimestampControlLatch", "GevTimestampControlReset", "GevTimestampValue"},
		latch: "GevTimestampControlLatch", reset: "GevTimestampControlReset", value: "GevTimestampValue",
		ptpCat: "GevIEEE1588Control", enable: "GevIEEE1588", status: "GevIEEE1588Status", dsLatch: "GevIEEE1588DataSetLatch",
		offset: "GevIEEE1588OffsetFromMaster", clockID: "GevIEEE1588ClockId", parentID: "GevIEEE1588ParentClockId"},
}

// timestampAndPTP: the timestamp latch and PTP features under the
// profile's names (SFNC or GigE Vision), none for noptp.
func (x *xmlWriter) timestampAndPTP(p Profile) {
	n, ok := profilePTP[p]
	if !ok {
		return
	}
	x.category(n.tsCat, n.tsOrder...)
	x.commandReg(n.latch, "TimestampControlReg", tsLatch)
	x.commandReg(n.reset, "TimestampControlReg", tsReset)
	x.intReg("TimestampControlReg", regTimestampControl, 4, "WO", false, true)
	x.intReg(n.value, regTimestampHigh, 8, "RO", false, true)

	ptp := []string{n.enable, n.status, n.dsLatch, n.offset, n.clockID, n.parentID}
	if n.gmID != "" {
		ptp = append(ptp, n.gmID)
	}
	x.category(n.ptpCat, ptp...)
	x.boolean(n.enable, n.enable+"Reg")
	x.intReg(n.enable+"Reg", regPtpEnable, 4, "RW", false, true)
	x.ptpStatusEnum(n.status)
	x.command(n.dsLatch, regPtpDataSetLatch, 1)
	x.intReg(n.offset, regPtpOffset, 8, "RO", true, true)
	x.intReg(n.clockID, regPtpClockID, 8, "RO", false, false)
	x.intReg(n.parentID, regPtpGMClockID, 8, "RO", false, true)
	if n.gmID != "" {
		x.intReg(n.gmID, regPtpGMClockID, 8, "RO", false, true)
	}
}

type xmlWriter struct{ b strings.Builder }

func (x *xmlWriter) f(format string, args ...any) { fmt.Fprintf(&x.b, format, args...) }

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

func (x *xmlWriter) category(name string, features ...string) {
	x.f("  <Category Name=%q NameSpace=\"Standard\">\n", name)
	for _, f := range features {
		x.f("    <pFeature>%s</pFeature>\n", f)
	}
	x.f("  </Category>\n")
}

func (x *xmlWriter) stringReg(name string, addr, length int, access string) {
	x.f(`  <StringReg Name=%q NameSpace="Standard">
    <Address>0x%x</Address><Length>%d</Length><AccessMode>%s</AccessMode><pPort>Device</pPort>
  </StringReg>
`, name, addr, length, access)
}

// intReg writes an IntReg; volatile registers are NoCache so that Aravis
// reads them from the device every time.
func (x *xmlWriter) intReg(name string, addr, length int, access string, signed, volatile bool) {
	sign := "Unsigned"
	if signed {
		sign = "Signed"
	}
	cache := ""
	if volatile {
		cache = "<Cachable>NoCache</Cachable>"
	}
	x.f(`  <IntReg Name=%q>
    <Address>0x%x</Address><Length>%d</Length><AccessMode>%s</AccessMode><pPort>Device</pPort>%s
    <Sign>%s</Sign><Endianess>BigEndian</Endianess>
  </IntReg>
`, name, addr, length, access, cache, sign)
}

func (x *xmlWriter) integer(name, reg, minV, maxXML string, inc int) {
	x.f(`  <Integer Name=%q NameSpace="Standard">
    <pValue>%s</pValue><Min>%s</Min>%s<Inc>%d</Inc>
  </Integer>
`, name, reg, minV, maxXML, inc)
}

func (x *xmlWriter) enum(name, reg string, entries [][2]any) {
	x.f("  <Enumeration Name=%q NameSpace=\"Standard\">\n", name)
	for _, e := range entries {
		x.f("    <EnumEntry Name=%q><Value>%d</Value></EnumEntry>\n", e[0], e[1])
	}
	x.f("    <pValue>%s</pValue>\n  </Enumeration>\n", reg)
}

func (x *xmlWriter) ptpStatusEnum(name string) {
	entries := make([][2]any, 0, len(ptpStatusNames)-1)
	for i := 1; i < len(ptpStatusNames); i++ {
		entries = append(entries, [2]any{ptpStatusNames[i], i})
	}
	reg := name + "Reg"
	x.enum(name, reg, entries)
	x.intReg(reg, regPtpStatus, 4, "RO", false, true)
}

func (x *xmlWriter) command(name string, addr int, value int) {
	reg := name + "Reg"
	x.commandReg(name, reg, value)
	x.intReg(reg, addr, 4, "WO", false, true)
}

func (x *xmlWriter) commandReg(name, reg string, value int) {
	x.f(`  <Command Name=%q NameSpace="Standard">
    <pValue>%s</pValue><CommandValue>%d</CommandValue>
  </Command>
`, name, reg, value)
}

// floatFeature is a Float over a big-endian 8-byte FloatReg that camsim
// keeps as plain memory.
func (x *xmlWriter) floatFeature(name string, addr int, lo, hi float64, unit string) {
	x.f(`  <Float Name=%q NameSpace="Standard">
    <pValue>%sReg</pValue><Min>%g</Min><Max>%g</Max><Unit>%s</Unit>
  </Float>
  <FloatReg Name="%sReg">
    <Address>0x%x</Address><Length>8</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess>
  </FloatReg>
`, name, name, lo, hi, unit, name, addr)
}

func (x *xmlWriter) boolean(name, reg string) {
	x.f(`  <Boolean Name=%q NameSpace="Standard">
    <pValue>%s</pValue><OnValue>1</OnValue><OffValue>0</OffValue>
  </Boolean>
`, name, reg)
}

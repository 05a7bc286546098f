package pmc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Decoders accept a dataField longer than the dataset (management TLVs are
// padded to an even length) and reject a shorter one.

// ClockQuality is the IEEE 1588 ClockQuality.
type ClockQuality struct {
	ClockClass              uint8  // clockClass
	ClockAccuracy           uint8  // clockAccuracy (enumeration, 0x20 = 25 ns ... 0xFE unknown)
	OffsetScaledLogVariance uint16 // offsetScaledLogVariance
}

// DefaultDataSet is DEFAULT_DATA_SET (IEEE 1588-2008 15.5.3.3.1).
type DefaultDataSet struct {
	TwoStepFlag   bool          // flags bit 0: twoStepFlag
	SlaveOnly     bool          // flags bit 1: slaveOnly
	NumberPorts   uint16        // numberPorts
	Priority1     uint8         // priority1
	ClockQuality  ClockQuality  // clockQuality
	Priority2     uint8         // priority2
	ClockIdentity ClockIdentity // clockIdentity
	DomainNumber  uint8         // domainNumber
}

const defaultDataSetLen = 20

// UnmarshalBinary decodes the dataField of a DEFAULT_DATA_SET TLV.
func (d *DefaultDataSet) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	flags := r.u8()
	r.take(1) // reserved
	*d = DefaultDataSet{
		TwoStepFlag:   flags&0x01 != 0,
		SlaveOnly:     flags&0x02 != 0,
		NumberPorts:   r.u16(),
		Priority1:     r.u8(),
		ClockQuality:  r.clockQuality(),
		Priority2:     r.u8(),
		ClockIdentity: r.clockIdentity(),
		DomainNumber:  r.u8(),
	}
	r.take(1) // reserved
	return datasetErr(IDDefaultDataSet, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d DefaultDataSet) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, defaultDataSetLen)
	var flags uint8
	if d.TwoStepFlag {
		flags |= 0x01
	}
	if d.SlaveOnly {
		flags |= 0x02
	}
	b = append(b, flags, 0)
	b = binary.BigEndian.AppendUint16(b, d.NumberPorts)
	b = append(b, d.Priority1)
	b = appendClockQuality(b, d.ClockQuality)
	b = append(b, d.Priority2)
	b = append(b, d.ClockIdentity[:]...)
	b = append(b, d.DomainNumber, 0)
	return b, nil
}

// CurrentDataSet is CURRENT_DATA_SET (15.5.3.4.1).
type CurrentDataSet struct {
	StepsRemoved     uint16       // stepsRemoved
	OffsetFromMaster TimeInterval // offsetFromMaster
	MeanPathDelay    TimeInterval // meanPathDelay
}

// UnmarshalBinary decodes the dataField of a CURRENT_DATA_SET TLV.
func (d *CurrentDataSet) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	*d = CurrentDataSet{
		StepsRemoved:     r.u16(),
		OffsetFromMaster: TimeInterval(r.u64()),
		MeanPathDelay:    TimeInterval(r.u64()),
	}
	return datasetErr(IDCurrentDataSet, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d CurrentDataSet) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint16(nil, d.StepsRemoved)
	b = binary.BigEndian.AppendUint64(b, uint64(d.OffsetFromMaster))
	return binary.BigEndian.AppendUint64(b, uint64(d.MeanPathDelay)), nil
}

// ParentDataSet is PARENT_DATA_SET (15.5.3.5.1).
type ParentDataSet struct {
	ParentPortIdentity                    PortIdentity  // parentPortIdentity
	ParentStats                           bool          // flags bit 0: parentStats
	ObservedParentOffsetScaledLogVariance uint16        // observedParentOffsetScaledLogVariance
	ObservedParentClockPhaseChangeRate    int32         // observedParentClockPhaseChangeRate
	GrandmasterPriority1                  uint8         // grandmasterPriority1
	GrandmasterClockQuality               ClockQuality  // grandmasterClockQuality
	GrandmasterPriority2                  uint8         // grandmasterPriority2
	GrandmasterIdentity                   ClockIdentity // grandmasterIdentity
}

// UnmarshalBinary decodes the dataField of a PARENT_DATA_SET TLV.
func (d *ParentDataSet) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	*d = ParentDataSet{ParentPortIdentity: r.portIdentity()}
	d.ParentStats = r.u8()&0x01 != 0
	r.take(1) // reserved
	d.ObservedParentOffsetScaledLogVariance = r.u16()
	d.ObservedParentClockPhaseChangeRate = int32(r.u32())
	d.GrandmasterPriority1 = r.u8()
	d.GrandmasterClockQuality = r.clockQuality()
	d.GrandmasterPriority2 = r.u8()
	d.GrandmasterIdentity = r.clockIdentity()
	return datasetErr(IDParentDataSet, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d ParentDataSet) MarshalBinary() ([]byte, error) {
	b := appendPortIdentity(nil, d.ParentPortIdentity)
	b = append(b, boolBit(d.ParentStats, 0x01), 0)
	b = binary.BigEndian.AppendUint16(b, d.ObservedParentOffsetScaledLogVariance)
	b = binary.BigEndian.AppendUint32(b, uint32(d.ObservedParentClockPhaseChangeRate))
	b = append(b, d.GrandmasterPriority1)
	b = appendClockQuality(b, d.GrandmasterClockQuality)
	b = append(b, d.GrandmasterPriority2)
	return append(b, d.GrandmasterIdentity[:]...), nil
}

// Time property flags, shared by TIME_PROPERTIES_DATA_SET and
// GRANDMASTER_SETTINGS_NP (1588 table 20 octet 1, linuxptp msg.h).
const (
	flagLeap61        = 1 << 0
	flagLeap59        = 1 << 1
	flagUTCOffValid   = 1 << 2
	flagPTPTimescale  = 1 << 3
	flagTimeTraceable = 1 << 4
	flagFreqTraceable = 1 << 5
)

// TimeFlags are the time property flags octet of TIME_PROPERTIES_DATA_SET
// and GRANDMASTER_SETTINGS_NP.
type TimeFlags struct {
	Leap61                bool // bit 0: leap61
	Leap59                bool // bit 1: leap59
	CurrentUTCOffsetValid bool // bit 2: currentUtcOffsetValid
	PTPTimescale          bool // bit 3: ptpTimescale
	TimeTraceable         bool // bit 4: timeTraceable
	FrequencyTraceable    bool // bit 5: frequencyTraceable
}

func decodeTimeFlags(f uint8) TimeFlags {
	return TimeFlags{
		Leap61:                f&flagLeap61 != 0,
		Leap59:                f&flagLeap59 != 0,
		CurrentUTCOffsetValid: f&flagUTCOffValid != 0,
		PTPTimescale:          f&flagPTPTimescale != 0,
		TimeTraceable:         f&flagTimeTraceable != 0,
		FrequencyTraceable:    f&flagFreqTraceable != 0,
	}
}

func (t TimeFlags) octet() uint8 {
	return boolBit(t.Leap61, flagLeap61) | boolBit(t.Leap59, flagLeap59) | boolBit(t.CurrentUTCOffsetValid, flagUTCOffValid) |
		boolBit(t.PTPTimescale, flagPTPTimescale) | boolBit(t.TimeTraceable, flagTimeTraceable) |
		boolBit(t.FrequencyTraceable, flagFreqTraceable)
}

// TimePropertiesDataSet is TIME_PROPERTIES_DATA_SET (15.5.3.6.1).
type TimePropertiesDataSet struct {
	CurrentUTCOffset int16 // currentUtcOffset
	TimeFlags              // flags
	TimeSource       uint8 // timeSource (0xA0 = INTERNAL_OSCILLATOR)
}

// UnmarshalBinary decodes the dataField of a TIME_PROPERTIES_DATA_SET TLV.
func (d *TimePropertiesDataSet) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	*d = TimePropertiesDataSet{CurrentUTCOffset: int16(r.u16()), TimeFlags: decodeTimeFlags(r.u8()), TimeSource: r.u8()}
	return datasetErr(IDTimePropertiesDataSet, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d TimePropertiesDataSet) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint16(nil, uint16(d.CurrentUTCOffset))
	return append(b, d.octet(), d.TimeSource), nil
}

// PortDataSet is PORT_DATA_SET (15.5.3.7.1), one per port.
type PortDataSet struct {
	PortIdentity            PortIdentity // portIdentity
	PortState               PortState    // portState
	LogMinDelayReqInterval  int8         // logMinDelayReqInterval
	PeerMeanPathDelay       TimeInterval // peerMeanPathDelay
	LogAnnounceInterval     int8         // logAnnounceInterval
	AnnounceReceiptTimeout  uint8        // announceReceiptTimeout
	LogSyncInterval         int8         // logSyncInterval
	DelayMechanism          uint8        // delayMechanism (1 E2E, 2 P2P, 0xFE disabled)
	LogMinPdelayReqInterval int8         // logMinPdelayReqInterval
	VersionNumber           uint8        // versionNumber (lower nibble)
}

// UnmarshalBinary decodes the dataField of a PORT_DATA_SET TLV.
func (d *PortDataSet) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	*d = PortDataSet{
		PortIdentity:            r.portIdentity(),
		PortState:               PortState(r.u8()),
		LogMinDelayReqInterval:  int8(r.u8()),
		PeerMeanPathDelay:       TimeInterval(r.u64()),
		LogAnnounceInterval:     int8(r.u8()),
		AnnounceReceiptTimeout:  r.u8(),
		LogSyncInterval:         int8(r.u8()),
		DelayMechanism:          r.u8(),
		LogMinPdelayReqInterval: int8(r.u8()),
		VersionNumber:           r.u8() & 0x0f,
	}
	return datasetErr(IDPortDataSet, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d PortDataSet) MarshalBinary() ([]byte, error) {
	b := appendPortIdentity(nil, d.PortIdentity)
	b = append(b, uint8(d.PortState), uint8(d.LogMinDelayReqInterval))
	b = binary.BigEndian.AppendUint64(b, uint64(d.PeerMeanPathDelay))
	return append(b, uint8(d.LogAnnounceInterval), d.AnnounceReceiptTimeout, uint8(d.LogSyncInterval),
		d.DelayMechanism, uint8(d.LogMinPdelayReqInterval), d.VersionNumber&0x0f), nil
}

// PortPropertiesNP is linuxptp's PORT_PROPERTIES_NP: the port's state,
// timestamping mode and network interface name.
type PortPropertiesNP struct {
	PortIdentity PortIdentity // portIdentity
	PortState    PortState    // port_state
	Timestamping uint8        // timestamping (linuxptp enum timestamp_type; see TimestampingName)
	Interface    string       // interface (PTPText)
}

// UnmarshalBinary decodes the dataField of a PORT_PROPERTIES_NP TLV.
func (d *PortPropertiesNP) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	*d = PortPropertiesNP{
		PortIdentity: r.portIdentity(),
		PortState:    PortState(r.u8()),
		Timestamping: r.u8(),
		Interface:    r.ptpText(),
	}
	return datasetErr(IDPortPropertiesNP, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it, padded to an even length.
func (d PortPropertiesNP) MarshalBinary() ([]byte, error) {
	if len(d.Interface) > math.MaxUint8 {
		return nil, fmt.Errorf("PORT_PROPERTIES_NP: interface name of %d bytes does not fit a PTPText", len(d.Interface))
	}
	b := appendPortIdentity(nil, d.PortIdentity)
	b = append(b, uint8(d.PortState), d.Timestamping, uint8(len(d.Interface)))
	b = append(b, d.Interface...)
	if len(b)%2 != 0 {
		b = append(b, 0)
	}
	return b, nil
}

// TimeStatusNP is linuxptp's TIME_STATUS_NP: the servo's view of the
// master and the last gPTP follow-up information.
type TimeStatusNP struct {
	MasterOffset               int64         // master_offset, plain nanoseconds
	IngressTime                int64         // ingress_time: last sync receipt, ns since the epoch of the local clock (0 when GM)
	CumulativeScaledRateOffset int32         // cumulativeScaledRateOffset: (rateRatio - 1) × 2^41
	ScaledLastGmPhaseChange    int32         // scaledLastGmPhaseChange
	GMTimeBaseIndicator        uint16        // gmTimeBaseIndicator
	LastGmPhaseChange          ScaledNs      // lastGmPhaseChange
	GMPresent                  bool          // gmPresent (Integer32 on the wire); false when this clock is the GM
	GMIdentity                 ClockIdentity // gmIdentity
}

// CumulativeRateOffset returns cumulativeScaledRateOffset as a ratio
// (rateRatio - 1), the number pmc prints.
func (d TimeStatusNP) CumulativeRateOffset() float64 {
	return float64(d.CumulativeScaledRateOffset) / (1 << 41)
}

// UnmarshalBinary decodes the dataField of a TIME_STATUS_NP TLV.
func (d *TimeStatusNP) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	*d = TimeStatusNP{
		MasterOffset:               int64(r.u64()),
		IngressTime:                int64(r.u64()),
		CumulativeScaledRateOffset: int32(r.u32()),
		ScaledLastGmPhaseChange:    int32(r.u32()),
		GMTimeBaseIndicator:        r.u16(),
		LastGmPhaseChange:          ScaledNs{NanosecondsMSB: r.u16(), NanosecondsLSB: r.u64(), FractionalNanoseconds: r.u16()},
		GMPresent:                  r.u32() != 0,
		GMIdentity:                 r.clockIdentity(),
	}
	return datasetErr(IDTimeStatusNP, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d TimeStatusNP) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint64(nil, uint64(d.MasterOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(d.IngressTime))
	b = binary.BigEndian.AppendUint32(b, uint32(d.CumulativeScaledRateOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(d.ScaledLastGmPhaseChange))
	b = binary.BigEndian.AppendUint16(b, d.GMTimeBaseIndicator)
	b = binary.BigEndian.AppendUint16(b, d.LastGmPhaseChange.NanosecondsMSB)
	b = binary.BigEndian.AppendUint64(b, d.LastGmPhaseChange.NanosecondsLSB)
	b = binary.BigEndian.AppendUint16(b, d.LastGmPhaseChange.FractionalNanoseconds)
	var present uint32
	if d.GMPresent {
		present = 1
	}
	b = binary.BigEndian.AppendUint32(b, present)
	return append(b, d.GMIdentity[:]...), nil
}

// GrandmasterSettingsNP is linuxptp's GRANDMASTER_SETTINGS_NP: what this
// clock announces when it is the grandmaster.
type GrandmasterSettingsNP struct {
	ClockQuality ClockQuality // clockQuality
	UTCOffset    int16        // utc_offset
	TimeFlags                 // time_flags
	TimeSource   uint8        // time_source
}

// UnmarshalBinary decodes the dataField of a GRANDMASTER_SETTINGS_NP TLV.
func (d *GrandmasterSettingsNP) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	*d = GrandmasterSettingsNP{ClockQuality: r.clockQuality(), UTCOffset: int16(r.u16()), TimeFlags: decodeTimeFlags(r.u8()),
		TimeSource: r.u8()}
	return datasetErr(IDGrandmasterSettingsNP, r.err)
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d GrandmasterSettingsNP) MarshalBinary() ([]byte, error) {
	b := appendClockQuality(nil, d.ClockQuality)
	b = binary.BigEndian.AppendUint16(b, uint16(d.UTCOffset))
	return append(b, d.octet(), d.TimeSource), nil
}

func boolBit(v bool, bit uint8) uint8 {
	if v {
		return bit
	}
	return 0
}

func datasetErr(id ManagementID, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	return nil
}

// decodeDataset decodes the dataField of a management TLV with the given ID
// into the matching dataset type. It is what the client and FuzzDecode use.
func decodeDataset(id ManagementID, data []byte) (any, error) {
	var v interface{ UnmarshalBinary([]byte) error }
	switch id {
	case IDDefaultDataSet:
		v = new(DefaultDataSet)
	case IDCurrentDataSet:
		v = new(CurrentDataSet)
	case IDParentDataSet:
		v = new(ParentDataSet)
	case IDTimePropertiesDataSet:
		v = new(TimePropertiesDataSet)
	case IDPortDataSet:
		v = new(PortDataSet)
	case IDPortPropertiesNP:
		v = new(PortPropertiesNP)
	case IDTimeStatusNP:
		v = new(TimeStatusNP)
	case IDGrandmasterSettingsNP:
		v = new(GrandmasterSettingsNP)
	default:
		return nil, fmt.Errorf("%s: no decoder", id)
	}
	if err := v.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return v, nil
}

package pmc

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

// ClockIdentity is an IEEE 1588 clockIdentity (Octet[8]), usually an EUI-64
// made from the NIC's MAC address with ff:fe in the middle.
type ClockIdentity [8]byte

// String formats the identity the way pmc and ptp4l print it,
// "bcfce7.fffe.244daf", so values can be compared with their logs.
func (c ClockIdentity) String() string {
	var b [18]byte
	hex.Encode(b[0:6], c[0:3])
	b[6] = '.'
	hex.Encode(b[7:11], c[3:5])
	b[11] = '.'
	hex.Encode(b[12:18], c[5:8])
	return string(b[:])
}

// ParseClockIdentity parses pmc's format "bcfce7.fffe.244daf". Sixteen plain
// hex digits ("bcfce7fffe244daf") are accepted too.
func ParseClockIdentity(s string) (ClockIdentity, error) {
	var c ClockIdentity
	h := s
	if len(s) == 18 && s[6] == '.' && s[11] == '.' {
		h = s[0:6] + s[7:11] + s[12:18]
	}
	if len(h) != 16 {
		return c, fmt.Errorf("clock identity %q: want form xxxxxx.xxxx.xxxxxx", s)
	}
	if _, err := hex.Decode(c[:], []byte(h)); err != nil {
		return c, fmt.Errorf("clock identity %q: %w", s, err)
	}
	return c, nil
}

// PortIdentity is an IEEE 1588 portIdentity.
type PortIdentity struct {
	ClockIdentity ClockIdentity // clockIdentity
	PortNumber    uint16        // portNumber
}

// String formats the identity like pmc: "bcfce7.fffe.244daf-1".
func (p PortIdentity) String() string {
	return p.ClockIdentity.String() + "-" + strconv.FormatUint(uint64(p.PortNumber), 10)
}

// PortState is the IEEE 1588 portState enumeration.
type PortState uint8

// Port states (IEEE 1588-2008 8.2.5.3.1, linuxptp's enum port_state).
const (
	PortStateInitializing PortState = 1
	PortStateFaulty       PortState = 2
	PortStateDisabled     PortState = 3
	PortStateListening    PortState = 4
	PortStatePreMaster    PortState = 5
	PortStateMaster       PortState = 6
	PortStatePassive      PortState = 7
	PortStateUncalibrated PortState = 8
	PortStateSlave        PortState = 9
)

var portStateNames = [...]string{
	PortStateInitializing: "INITIALIZING",
	PortStateFaulty:       "FAULTY",
	PortStateDisabled:     "DISABLED",
	PortStateListening:    "LISTENING",
	PortStatePreMaster:    "PRE_MASTER",
	PortStateMaster:       "MASTER",
	PortStatePassive:      "PASSIVE",
	PortStateUncalibrated: "UNCALIBRATED",
	PortStateSlave:        "SLAVE",
}

// String returns the state's name as pmc prints it, e.g. "UNCALIBRATED".
func (s PortState) String() string {
	if int(s) < len(portStateNames) && portStateNames[s] != "" {
		return portStateNames[s]
	}
	return "PortState(" + strconv.Itoa(int(s)) + ")"
}

// AllPortStates lists every defined port state in numeric order, for state-set
// metrics that emit one series per state.
func AllPortStates() []PortState {
	out := make([]PortState, 0, len(portStateNames)-1)
	for s := PortStateInitializing; s <= PortStateSlave; s++ {
		out = append(out, s)
	}
	return out
}

// TimeInterval is the IEEE 1588 TimeInterval: nanoseconds multiplied by 2^16.
type TimeInterval int64

// Nanoseconds converts to nanoseconds, keeping the sub-nanosecond fraction.
func (t TimeInterval) Nanoseconds() float64 { return float64(t) / 65536 }

// Seconds converts to seconds, the Prometheus base unit.
func (t TimeInterval) Seconds() float64 { return float64(t) / 65536 / 1e9 }

// ScaledNs is linuxptp's 96-bit ScaledNs (nanoseconds × 2^16, split in three
// fields on the wire), used by TIME_STATUS_NP's lastGmPhaseChange.
type ScaledNs struct {
	NanosecondsMSB        uint16 // nanoseconds_msb
	NanosecondsLSB        uint64 // nanoseconds_lsb
	FractionalNanoseconds uint16 // fractional_nanoseconds
}

// String formats the value like pmc: "0x0000'0000000000000000.0000".
func (s ScaledNs) String() string {
	return fmt.Sprintf("0x%04x'%016x.%04x", s.NanosecondsMSB, s.NanosecondsLSB, s.FractionalNanoseconds)
}

// ManagementID is the managementId of a management TLV.
type ManagementID uint16

// Management IDs this package requests or may see in an answer
// (IEEE 1588-2008 table 40, linuxptp tlv.h for the _NP ones).
const (
	IDNullManagement        ManagementID = 0x0000
	IDClockDescription      ManagementID = 0x0001
	IDUserDescription       ManagementID = 0x0002
	IDDefaultDataSet        ManagementID = 0x2000
	IDCurrentDataSet        ManagementID = 0x2001
	IDParentDataSet         ManagementID = 0x2002
	IDTimePropertiesDataSet ManagementID = 0x2003
	IDPortDataSet           ManagementID = 0x2004
	IDPriority1             ManagementID = 0x2005
	IDPriority2             ManagementID = 0x2006
	IDDomain                ManagementID = 0x2007
	IDSlaveOnly             ManagementID = 0x2008
	IDLogAnnounceInterval   ManagementID = 0x2009
	IDAnnounceReceiptTO     ManagementID = 0x200A
	IDLogSyncInterval       ManagementID = 0x200B
	IDVersionNumber         ManagementID = 0x200C
	IDTime                  ManagementID = 0x200F
	IDClockAccuracy         ManagementID = 0x2010
	IDUTCProperties         ManagementID = 0x2011
	IDTraceabilityProps     ManagementID = 0x2012
	IDTimescaleProperties   ManagementID = 0x2013
	IDDelayMechanism        ManagementID = 0x6000
	IDLogMinPdelayReqIntvl  ManagementID = 0x6001
	IDTimeStatusNP          ManagementID = 0xC000
	IDGrandmasterSettingsNP ManagementID = 0xC001
	IDPortDataSetNP         ManagementID = 0xC002
	IDSubscribeEventsNP     ManagementID = 0xC003
	IDPortPropertiesNP      ManagementID = 0xC004
	IDPortStatsNP           ManagementID = 0xC005
	IDSyncUncertainNP       ManagementID = 0xC006
	IDPortServiceStatsNP    ManagementID = 0xC007
)

// managementIDs is the one table of management ID names; the names are the
// ones pmc accepts after GET.
var managementIDs = map[ManagementID]string{
	IDNullManagement:        "NULL_MANAGEMENT",
	IDClockDescription:      "CLOCK_DESCRIPTION",
	IDUserDescription:       "USER_DESCRIPTION",
	IDDefaultDataSet:        "DEFAULT_DATA_SET",
	IDCurrentDataSet:        "CURRENT_DATA_SET",
	IDParentDataSet:         "PARENT_DATA_SET",
	IDTimePropertiesDataSet: "TIME_PROPERTIES_DATA_SET",
	IDPortDataSet:           "PORT_DATA_SET",
	IDPriority1:             "PRIORITY1",
	IDPriority2:             "PRIORITY2",
	IDDomain:                "DOMAIN",
	IDSlaveOnly:             "SLAVE_ONLY",
	IDLogAnnounceInterval:   "LOG_ANNOUNCE_INTERVAL",
	IDAnnounceReceiptTO:     "ANNOUNCE_RECEIPT_TIMEOUT",
	IDLogSyncInterval:       "LOG_SYNC_INTERVAL",
	IDVersionNumber:         "VERSION_NUMBER",
	IDTime:                  "TIME",
	IDClockAccuracy:         "CLOCK_ACCURACY",
	IDUTCProperties:         "UTC_PROPERTIES",
	IDTraceabilityProps:     "TRACEABILITY_PROPERTIES",
	IDTimescaleProperties:   "TIMESCALE_PROPERTIES",
	IDDelayMechanism:        "DELAY_MECHANISM",
	IDLogMinPdelayReqIntvl:  "LOG_MIN_PDELAY_REQ_INTERVAL",
	IDTimeStatusNP:          "TIME_STATUS_NP",
	IDGrandmasterSettingsNP: "GRANDMASTER_SETTINGS_NP",
	IDPortDataSetNP:         "PORT_DATA_SET_NP",
	IDSubscribeEventsNP:     "SUBSCRIBE_EVENTS_NP",
	IDPortPropertiesNP:      "PORT_PROPERTIES_NP",
	IDPortStatsNP:           "PORT_STATS_NP",
	IDSyncUncertainNP:       "SYNCHRONIZATION_UNCERTAIN_NP",
	IDPortServiceStatsNP:    "PORT_SERVICE_STATS_NP",
}

// String returns the ID's name as pmc spells it, or the number in hex.
func (id ManagementID) String() string {
	if n, ok := managementIDs[id]; ok {
		return n
	}
	return fmt.Sprintf("ManagementID(0x%04x)", uint16(id))
}

// ManagementErrorID is the managementErrorId of a MANAGEMENT_ERROR_STATUS TLV.
type ManagementErrorID uint16

// Management error IDs (IEEE 1588-2008 table 72).
const (
	ErrResponseTooBig ManagementErrorID = 0x0001
	ErrNoSuchID       ManagementErrorID = 0x0002
	ErrWrongLength    ManagementErrorID = 0x0003
	ErrWrongValue     ManagementErrorID = 0x0004
	ErrNotSetable     ManagementErrorID = 0x0005
	ErrNotSupported   ManagementErrorID = 0x0006
	ErrGeneralError   ManagementErrorID = 0xFFFE
)

var managementErrorNames = map[ManagementErrorID]string{
	ErrResponseTooBig: "RESPONSE_TOO_BIG",
	ErrNoSuchID:       "NO_SUCH_ID",
	ErrWrongLength:    "WRONG_LENGTH",
	ErrWrongValue:     "WRONG_VALUE",
	ErrNotSetable:     "NOT_SETABLE",
	ErrNotSupported:   "NOT_SUPPORTED",
	ErrGeneralError:   "GENERAL_ERROR",
}

// String returns the error's 1588 name, e.g. "NO_SUCH_ID".
func (e ManagementErrorID) String() string {
	if n, ok := managementErrorNames[e]; ok {
		return n
	}
	return fmt.Sprintf("ManagementErrorID(0x%04x)", uint16(e))
}

// ManagementError is ptp4l's MANAGEMENT_ERROR_STATUS answer to a request.
type ManagementError struct {
	ManagementID ManagementID      // managementId the error is about
	ErrorID      ManagementErrorID // managementErrorId
	DisplayData  string            // displayData, usually empty
}

// Error names the TLV and the error, e.g. "GRANDMASTER_SETTINGS_NP: NO_SUCH_ID".
func (e *ManagementError) Error() string {
	s := e.ManagementID.String() + ": " + e.ErrorID.String()
	if e.DisplayData != "" {
		s += " (" + e.DisplayData + ")"
	}
	return s
}

// timestampingNames mirrors linuxptp's enum timestamp_type, which
// PORT_PROPERTIES_NP carries as a byte.
var timestampingNames = []string{"SOFTWARE", "HARDWARE", "LEGACY_HW", "ONESTEP", "P2P1STEP"}

// TimestampingName names a PORT_PROPERTIES_NP timestamping value as pmc does
// ("SOFTWARE", "HARDWARE", ...); pmc prints "???" for values it does not know.
func TimestampingName(ts uint8) string {
	if int(ts) < len(timestampingNames) {
		return timestampingNames[ts]
	}
	return "???"
}

package pmc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes on the wire (IEEE 1588-2008 13.3, 15.4, 15.5.2).
const (
	headerLen        = 34             // common message header
	managementLen    = headerLen + 14 // + targetPortIdentity, hops, action, reserved
	tlvHeaderLen     = 4              // tlvType, lengthField
	getMessageLength = managementLen + tlvHeaderLen + 2
)

const (
	messageTypeManagement = 0x0D
	ptpVersion            = 2    // versionPTP; ptp4l checks only the major nibble
	controlManagement     = 0x04 // controlField for management messages
	logIntervalNone       = 0x7F

	tlvManagement            = 0x0001
	tlvManagementErrorStatus = 0x0002
)

// Management actions (IEEE 1588-2008 table 38). The client can only encode
// GET; the others exist to recognise answers.
const (
	actionGet         = 0
	actionSet         = 1
	actionResponse    = 2
	actionCommand     = 3
	actionAcknowledge = 4
)

// errShort is wrapped by every length failure, so callers and tests can tell
// truncation from other decoding errors.
var errShort = errors.New("truncated")

// reader reads big-endian fields, checking the length before every read.
// After the first short read it returns zero values and remembers the error,
// so a decoder can read a whole struct and check err once.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: need %d bytes at offset %d, have %d", errShort, n, r.off, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if p := r.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (r *reader) clockIdentity() (c ClockIdentity) {
	if p := r.take(8); p != nil {
		copy(c[:], p)
	}
	return c
}

func (r *reader) portIdentity() PortIdentity {
	return PortIdentity{ClockIdentity: r.clockIdentity(), PortNumber: r.u16()}
}

func (r *reader) clockQuality() ClockQuality {
	return ClockQuality{ClockClass: r.u8(), ClockAccuracy: r.u8(), OffsetScaledLogVariance: r.u16()}
}

// ptpText reads a PTPText: a length octet and that many bytes.
func (r *reader) ptpText() string {
	n := int(r.u8())
	return string(r.take(n))
}

func appendPortIdentity(b []byte, p PortIdentity) []byte {
	b = append(b, p.ClockIdentity[:]...)
	return binary.BigEndian.AppendUint16(b, p.PortNumber)
}

func appendClockQuality(b []byte, q ClockQuality) []byte {
	b = append(b, q.ClockClass, q.ClockAccuracy)
	return binary.BigEndian.AppendUint16(b, q.OffsetScaledLogVariance)
}

// wildcardPort addresses every port of every clock reachable over the socket
// (with boundaryHops 0 that is only the ptp4l instance behind it).
var wildcardPort = PortIdentity{
	ClockIdentity: ClockIdentity{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	PortNumber:    0xffff,
}

// getRequest describes the only message this package can encode: a GET.
type getRequest struct {
	TransportSpecific uint8        // transportSpecific (upper nibble of octet 0)
	Domain            uint8        // domainNumber
	Source            PortIdentity // sourcePortIdentity
	SequenceID        uint16       // sequenceId
	ID                ManagementID // managementId
}

// appendGet appends a management GET with an empty management TLV (length 2,
// no dataset body), the form `pmc -z` sends. ptp4l 3.1.1 accepts an empty
// body for every GET (clock_manage: "management TLVs with empty bodies are
// also received successfully to support GETs"), and it saves building a
// zeroed dataset of the right size per ID.
//
// boundaryHops and startingBoundaryHops are 0 so ptp4l answers itself and
// never forwards the request out of its network ports.
func appendGet(b []byte, q getRequest) []byte {
	// Common header (13.3).
	b = append(b,
		(q.TransportSpecific&0x0f)<<4|messageTypeManagement, // transportSpecific | messageType
		ptpVersion, // reserved | versionPTP
	)
	b = binary.BigEndian.AppendUint16(b, getMessageLength) // messageLength
	b = append(b, q.Domain, 0)                             // domainNumber, reserved
	b = append(b, 0, 0)                                    // flagField
	b = binary.BigEndian.AppendUint64(b, 0)                // correctionField
	b = binary.BigEndian.AppendUint32(b, 0)                // reserved
	b = appendPortIdentity(b, q.Source)                    // sourcePortIdentity
	b = binary.BigEndian.AppendUint16(b, q.SequenceID)     // sequenceId
	b = append(b, controlManagement, logIntervalNone)      // controlField, logMessageInterval
	// Management message body (15.4.1).
	b = appendPortIdentity(b, wildcardPort) // targetPortIdentity
	b = append(b,
		0,         // startingBoundaryHops
		0,         // boundaryHops
		actionGet, // reserved | actionField
		0,         // reserved
	)
	// Management TLV (15.5.2) without dataField.
	b = binary.BigEndian.AppendUint16(b, tlvManagement) // tlvType
	b = binary.BigEndian.AppendUint16(b, 2)             // lengthField
	b = binary.BigEndian.AppendUint16(b, uint16(q.ID))  // managementId
	return b
}

// message is a decoded management message: header fields the client needs
// and the first TLV.
type message struct {
	TransportSpecific    uint8
	MessageType          uint8
	Version              uint8
	MessageLength        uint16
	Domain               uint8
	SourcePortIdentity   PortIdentity
	SequenceID           uint16
	TargetPortIdentity   PortIdentity
	StartingBoundaryHops uint8
	BoundaryHops         uint8
	Action               uint8

	TLVType uint16
	ID      ManagementID // managementId of the TLV (also for an error status)
	// Data is the dataField of a MANAGEMENT TLV; it aliases the input.
	Data []byte
	// Err is set when the TLV is a MANAGEMENT_ERROR_STATUS.
	Err *ManagementError
}

// decodeMessage decodes a management message. It checks every length before
// reading and never panics; the returned Data aliases b.
func decodeMessage(b []byte) (message, error) {
	var m message
	r := reader{b: b}
	tsmt := r.u8()
	m.TransportSpecific, m.MessageType = tsmt>>4, tsmt&0x0f
	m.Version = r.u8() & 0x0f
	m.MessageLength = r.u16()
	m.Domain = r.u8()
	r.take(1 + 2 + 8 + 4) // reserved, flagField, correctionField, reserved
	m.SourcePortIdentity = r.portIdentity()
	m.SequenceID = r.u16()
	r.take(2) // controlField, logMessageInterval
	if r.err != nil {
		return m, fmt.Errorf("management message header: %w", r.err)
	}
	if m.MessageType != messageTypeManagement {
		return m, fmt.Errorf("message type 0x%x is not management (0xd)", m.MessageType)
	}
	if m.Version != ptpVersion {
		return m, fmt.Errorf("PTP version %d, want %d", m.Version, ptpVersion)
	}
	if int(m.MessageLength) > len(b) {
		return m, fmt.Errorf("%w: messageLength %d but datagram has %d bytes", errShort, m.MessageLength, len(b))
	}
	if m.MessageLength < managementLen+tlvHeaderLen {
		return m, fmt.Errorf("messageLength %d too small for a management TLV", m.MessageLength)
	}
	// Bytes past messageLength are not part of the message (1588 13.3.2.4).
	r.b = b[:m.MessageLength]

	m.TargetPortIdentity = r.portIdentity()
	m.StartingBoundaryHops = r.u8()
	m.BoundaryHops = r.u8()
	m.Action = r.u8() & 0x0f
	r.take(1) // reserved
	m.TLVType = r.u16()
	tlvLen := int(r.u16())
	value := r.take(tlvLen)
	if r.err != nil {
		return m, fmt.Errorf("management TLV: %w", r.err)
	}
	if tlvLen%2 != 0 {
		return m, fmt.Errorf("management TLV length %d is odd", tlvLen)
	}
	v := reader{b: value}
	switch m.TLVType {
	case tlvManagement:
		m.ID = ManagementID(v.u16())
		if v.err != nil {
			return m, fmt.Errorf("management TLV: %w", v.err)
		}
		m.Data = value[2:]
	case tlvManagementErrorStatus:
		e := &ManagementError{ErrorID: ManagementErrorID(v.u16())}
		e.ManagementID = ManagementID(v.u16())
		v.take(4) // reserved
		if v.err != nil {
			return m, fmt.Errorf("management error status TLV: %w", v.err)
		}
		if v.off < len(value) { // optional displayData
			e.DisplayData = v.ptpText()
			if v.err != nil {
				return m, fmt.Errorf("management error status displayData: %w", v.err)
			}
		}
		m.ID, m.Err = e.ManagementID, e
	default:
		return m, fmt.Errorf("TLV type 0x%04x is not a management TLV", m.TLVType)
	}
	return m, nil
}

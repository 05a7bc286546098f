package camsim

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// GVCP wire format (GigE Vision 2.x, §15; UDP port 3956, big-endian).
//
// Command header: key 0x42, flags, command, length, req_id.
// Ack header:     status, answer (command+1), length, ack_id.

// GVCPPort is the UDP port of the GigE Vision control protocol.
const GVCPPort = 3956

// gvcpKey is the first byte of every GVCP command.
const gvcpKey = 0x42

// Command flags.
const (
	FlagAckRequired   = 0x01 // the sender wants an acknowledge
	FlagBroadcastAck  = 0x10 // DISCOVERY: the device may answer by broadcast
	FlagExtendedIDs   = 0x10 // PACKETRESEND: 64-bit block ids (GEV 2.0)
	FlagActionHasTime = 0x80 // ACTION_CMD: an action_time follows the mask
)

// GVCP commands; the acknowledge of each is the command plus one.
const (
	CmdDiscovery    uint16 = 0x0002
	CmdForceIP      uint16 = 0x0004
	CmdPacketResend uint16 = 0x0040
	CmdReadReg      uint16 = 0x0080
	CmdWriteReg     uint16 = 0x0082
	CmdReadMem      uint16 = 0x0084
	CmdWriteMem     uint16 = 0x0086
	CmdPendingAck   uint16 = 0x0089
	CmdAction       uint16 = 0x0100
)

// Status is a GVCP acknowledge status code.
type Status uint16

// Status codes of GigE Vision 2.x (Table 19-1).
const (
	StatusSuccess          Status = 0x0000
	StatusNotImplemented   Status = 0x8001
	StatusInvalidParameter Status = 0x8002
	StatusInvalidAddress   Status = 0x8003
	StatusWriteProtect     Status = 0x8004
	StatusBadAlignment     Status = 0x8005
	StatusAccessDenied     Status = 0x8006
	StatusBusy             Status = 0x8007
	StatusInvalidHeader    Status = 0x800E
	StatusOverflow         Status = 0x8015 // ACTION_CMD: the action queue is full
	StatusActionLate       Status = 0x8016
	StatusError            Status = 0x8FFF
)

func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "SUCCESS"
	case StatusNotImplemented:
		return "NOT_IMPLEMENTED"
	case StatusInvalidParameter:
		return "INVALID_PARAMETER"
	case StatusInvalidAddress:
		return "INVALID_ADDRESS"
	case StatusWriteProtect:
		return "WRITE_PROTECT"
	case StatusBadAlignment:
		return "BAD_ALIGNMENT"
	case StatusAccessDenied:
		return "ACCESS_DENIED"
	case StatusBusy:
		return "BUSY"
	case StatusInvalidHeader:
		return "INVALID_HEADER"
	case StatusOverflow:
		return "OVERFLOW"
	case StatusActionLate:
		return "ACTION_LATE"
	case StatusError:
		return "ERROR"
	}
	return fmt.Sprintf("0x%04x", uint16(s))
}

// maxMemData bounds READMEM/WRITEMEM payloads: 540 bytes of GVCP payload
// (GEV §16.3) minus the address.
const maxMemData = 536

// Command is a decoded GVCP command.
type Command struct {
	Flags   uint8
	Command uint16
	ReqID   uint16
	// Payload is the command specific data, exactly as long as the header's
	// length field says.
	Payload []byte
}

var (
	errShort  = errors.New("gvcp: packet shorter than its 8-byte header")
	errKey    = errors.New("gvcp: first byte is not the command key 0x42")
	errLength = errors.New("gvcp: length field exceeds the packet")
)

// ParseCommand decodes a GVCP command. It never panics; garbage gives an
// error and the server drops the packet, as devices do.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 8 {
		return Command{}, errShort
	}
	if b[0] != gvcpKey {
		return Command{}, errKey
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if 8+n > len(b) {
		return Command{}, fmt.Errorf("%w: length %d, %d bytes after the header", errLength, n, len(b)-8)
	}
	return Command{
		Flags:   b[1],
		Command: binary.BigEndian.Uint16(b[2:4]),
		ReqID:   binary.BigEndian.Uint16(b[6:8]),
		Payload: b[8 : 8+n],
	}, nil
}

// MarshalCommand encodes a GVCP command (used by tests and the ACTION_CMD sender).
func MarshalCommand(flags uint8, cmd, reqID uint16, payload []byte) []byte {
	return marshalGVCP(uint16(gvcpKey)<<8|uint16(flags), cmd, reqID, payload)
}

// marshalGVCP is a GVCP header (two words, the payload length, the id)
// and payload: key and flags then command for a command, status then
// answer for an acknowledge.
func marshalGVCP(w0, w1, id uint16, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], w0)
	binary.BigEndian.PutUint16(b[2:], w1)
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	binary.BigEndian.PutUint16(b[6:], id)
	copy(b[8:], payload)
	return b
}

// Ack is a decoded GVCP acknowledge.
type Ack struct {
	Status  Status
	Answer  uint16
	AckID   uint16
	Payload []byte
}

// ParseAck decodes a GVCP acknowledge.
func ParseAck(b []byte) (Ack, error) {
	if len(b) < 8 {
		return Ack{}, errShort
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if 8+n > len(b) {
		return Ack{}, fmt.Errorf("%w: length %d, %d bytes after the header", errLength, n, len(b)-8)
	}
	return Ack{
		Status:  Status(binary.BigEndian.Uint16(b[0:2])),
		Answer:  binary.BigEndian.Uint16(b[2:4]),
		AckID:   binary.BigEndian.Uint16(b[6:8]),
		Payload: b[8 : 8+n],
	}, nil
}

func marshalAck(st Status, answer, ackID uint16, payload []byte) []byte {
	return marshalGVCP(uint16(st), answer, ackID, payload)
}

// ActionCommand is the payload of ACTION_CMD.
type ActionCommand struct {
	DeviceKey uint32
	GroupKey  uint32
	GroupMask uint32
	// Time is the device-clock instant to act at, when HasTime.
	Time    uint64
	HasTime bool
}

// MarshalBinary encodes the payload (12 bytes, 20 with a time).
func (a ActionCommand) MarshalBinary() ([]byte, error) {
	n := 12
	if a.HasTime {
		n = 20
	}
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b[0:], a.DeviceKey)
	binary.BigEndian.PutUint32(b[4:], a.GroupKey)
	binary.BigEndian.PutUint32(b[8:], a.GroupMask)
	if a.HasTime {
		binary.BigEndian.PutUint64(b[12:], a.Time)
	}
	return b, nil
}

func parseAction(flags uint8, p []byte) (ActionCommand, error) {
	a := ActionCommand{HasTime: flags&FlagActionHasTime != 0}
	need := 12
	if a.HasTime {
		need = 20
	}
	if len(p) < need {
		return a, fmt.Errorf("gvcp: ACTION_CMD payload %d bytes, need %d", len(p), need)
	}
	a.DeviceKey = binary.BigEndian.Uint32(p[0:])
	a.GroupKey = binary.BigEndian.Uint32(p[4:])
	a.GroupMask = binary.BigEndian.Uint32(p[8:])
	if a.HasTime {
		a.Time = binary.BigEndian.Uint64(p[12:])
	}
	return a, nil
}

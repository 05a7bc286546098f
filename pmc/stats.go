package pmc

import (
	"context"
	"encoding/binary"
	"fmt"
)

// linuxptp's port statistics TLVs carry their counters in little-endian
// byte order (ptp4l writes them with cpu_to_le64), unlike every IEEE 1588
// field; only the portIdentity is big-endian.

// MessageType is the messageType nibble of a PTP header (IEEE 1588 table 36).
type MessageType uint8

// The message types ptp4l counts in PORT_STATS_NP.
const (
	MsgSync               MessageType = 0x0
	MsgDelayReq           MessageType = 0x1
	MsgPdelayReq          MessageType = 0x2
	MsgPdelayResp         MessageType = 0x3
	MsgFollowUp           MessageType = 0x8
	MsgDelayResp          MessageType = 0x9
	MsgPdelayRespFollowUp MessageType = 0xA
	MsgAnnounce           MessageType = 0xB
	MsgSignaling          MessageType = 0xC
	MsgManagement         MessageType = 0xD
)

var messageTypes = []struct {
	t    MessageType
	name string
}{
	{MsgSync, "sync"}, {MsgDelayReq, "delay_req"}, {MsgPdelayReq, "pdelay_req"}, {MsgPdelayResp, "pdelay_resp"},
	{MsgFollowUp, "follow_up"}, {MsgDelayResp, "delay_resp"}, {MsgPdelayRespFollowUp, "pdelay_resp_follow_up"},
	{MsgAnnounce, "announce"}, {MsgSignaling, "signaling"}, {MsgManagement, "management"},
}

// MessageTypes returns the defined message types, in numeric order.
func MessageTypes() []MessageType {
	out := make([]MessageType, len(messageTypes))
	for i, m := range messageTypes {
		out[i] = m.t
	}
	return out
}

// String returns the type in lower-case snake case (sync, follow_up, ...).
func (t MessageType) String() string {
	for _, m := range messageTypes {
		if m.t == t {
			return m.name
		}
	}
	return fmt.Sprintf("type_%d", uint8(t))
}

// maxMessageTypes is linuxptp's MAX_MESSAGE_TYPES: the counter arrays
// cover every value of the 4-bit messageType.
const maxMessageTypes = 16

// PortStatsNP is linuxptp's PORT_STATS_NP: messages received and sent by
// one port since ptp4l started, by messageType.
type PortStatsNP struct {
	PortIdentity PortIdentity            // portIdentity
	RxMsgType    [maxMessageTypes]uint64 // stats.rxMsgType
	TxMsgType    [maxMessageTypes]uint64 // stats.txMsgType
}

const portStatsLen = 10 + 2*maxMessageTypes*8

// UnmarshalBinary decodes the dataField of a PORT_STATS_NP TLV.
func (d *PortStatsNP) UnmarshalBinary(b []byte) error {
	if len(b) < portStatsLen {
		return datasetErr(IDPortStatsNP, fmt.Errorf("%w: need %d bytes, have %d", errShort, portStatsLen, len(b)))
	}
	r := reader{b: b}
	d.PortIdentity = r.portIdentity()
	for i := range d.RxMsgType {
		d.RxMsgType[i] = binary.LittleEndian.Uint64(b[10+8*i:])
		d.TxMsgType[i] = binary.LittleEndian.Uint64(b[10+8*(maxMessageTypes+i):])
	}
	return nil
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d PortStatsNP) MarshalBinary() ([]byte, error) {
	b := appendPortIdentity(make([]byte, 0, portStatsLen), d.PortIdentity)
	for _, v := range d.RxMsgType {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	for _, v := range d.TxMsgType {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b, nil
}

// PortServiceStatsNP is linuxptp's PORT_SERVICE_STATS_NP (management ID
// 0xC007, linuxptp 4.0 and later; 3.1 answers NO_SUCH_ID): how often the
// port's timers expired and how often Sync and Follow_Up did not match.
// The layout is tlv.h's packed struct port_service_stats_np: the
// portIdentity, then ddt.h's struct PortServiceStats, ten uint64 in this
// order, each little-endian (tlv.c's __cpu_to_le64).
type PortServiceStatsNP struct {
	PortIdentity          PortIdentity // portIdentity
	AnnounceTimeout       uint64       // stats.announce_timeout: announceReceiptTimeout expiries
	SyncTimeout           uint64       // stats.sync_timeout: no Sync within the sync receipt timeout
	DelayTimeout          uint64       // stats.delay_timeout
	UnicastServiceTimeout uint64       // stats.unicast_service_timeout: unicast service grant expiries
	UnicastRequestTimeout uint64       // stats.unicast_request_timeout
	MasterAnnounceTimeout uint64       // stats.master_announce_timeout
	MasterSyncTimeout     uint64       // stats.master_sync_timeout
	QualificationTimeout  uint64       // stats.qualification_timeout
	SyncMismatch          uint64       // stats.sync_mismatch
	FollowUpMismatch      uint64       // stats.followup_mismatch
}

func (d *PortServiceStatsNP) fields() []*uint64 {
	return []*uint64{&d.AnnounceTimeout, &d.SyncTimeout, &d.DelayTimeout, &d.UnicastServiceTimeout,
		&d.UnicastRequestTimeout, &d.MasterAnnounceTimeout, &d.MasterSyncTimeout, &d.QualificationTimeout,
		&d.SyncMismatch, &d.FollowUpMismatch}
}

const portServiceStatsLen = 10 + 10*8

// UnmarshalBinary decodes the dataField of a PORT_SERVICE_STATS_NP TLV.
func (d *PortServiceStatsNP) UnmarshalBinary(b []byte) error {
	if len(b) < portServiceStatsLen {
		return datasetErr(IDPortServiceStatsNP, fmt.Errorf("%w: need %d bytes, have %d", errShort, portServiceStatsLen, len(b)))
	}
	r := reader{b: b}
	d.PortIdentity = r.portIdentity()
	for i, f := range d.fields() {
		*f = binary.LittleEndian.Uint64(b[10+8*i:])
	}
	return nil
}

// MarshalBinary encodes the dataset as ptp4l sends it.
func (d PortServiceStatsNP) MarshalBinary() ([]byte, error) {
	b := appendPortIdentity(make([]byte, 0, portServiceStatsLen), d.PortIdentity)
	for _, f := range d.fields() {
		b = binary.LittleEndian.AppendUint64(b, *f)
	}
	return b, nil
}

// PortStatsNP is PortDataSets for PORT_STATS_NP.
func (c *Client) PortStatsNP(ctx context.Context, numberPorts int) ([]PortStatsNP, error) {
	return portsOf[PortStatsNP](ctx, c, IDPortStatsNP, numberPorts, func(p *PortStatsNP) uint16 { return p.PortIdentity.PortNumber })
}

// PortServiceStatsNP is PortDataSets for PORT_SERVICE_STATS_NP. ptp4l
// before 4.0 answers with a ManagementError of ErrNoSuchID.
func (c *Client) PortServiceStatsNP(ctx context.Context, numberPorts int) ([]PortServiceStatsNP, error) {
	return portsOf[PortServiceStatsNP](ctx, c, IDPortServiceStatsNP, numberPorts, func(p *PortServiceStatsNP) uint16 { return p.PortIdentity.PortNumber })
}

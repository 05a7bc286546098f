package genicam

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// GigE Vision ACTION_CMD (GVCP command 0x0100, acknowledge 0x0101), sent
// over plain UDP: Aravis 0.8 has no action-command sender.

const (
	gvcpPort          = 3956
	gvcpKey           = 0x42
	gvcpFlagAck       = 0x01
	gvcpFlagActTime   = 0x80
	gvcpCmdAction     = 0x0100
	gvcpAckAction     = 0x0101
	gvcpStatusLate    = 0x8016
	gvcpHeaderLen     = 8
	actionDefaultWait = 500 * time.Millisecond
)

// ActionCommand is one GigE Vision ACTION_CMD. A camera fires its action when
// DeviceKey equals its ActionDeviceKey, GroupKey its ActionGroupKey and
// GroupMask has a bit in common with its ActionGroupMask.
type ActionCommand struct {
	DeviceKey, GroupKey, GroupMask uint32
	// Time, when non-nil, is the camera time (ns; ticks on cameras not
	// counting ns) at which the action fires: a scheduled action.
	Time *uint64
	// Ack asks each camera for an acknowledge.
	Ack bool
	// Port is the GVCP port; 0 means 3956.
	Port uint16
}

// ActionAck is a camera's acknowledge of an ACTION_CMD.
type ActionAck struct {
	From   netip.Addr
	Status uint16
}

// ErrActionLate is the acknowledge status 0x8016: the scheduled time had
// passed when the camera got the command.
var ErrActionLate = errors.New("action late (status 0x8016)")

var actionReqID atomic.Uint32

// MarshalBinary encodes the command with request id 0 (SendActionCommand
// sets its own).
func (a ActionCommand) MarshalBinary() ([]byte, error) {
	return a.marshal(0), nil
}

func (a ActionCommand) marshal(reqID uint16) []byte {
	n := 12
	var flags byte
	if a.Time != nil {
		n = 20
		flags |= gvcpFlagActTime
	}
	if a.Ack {
		flags |= gvcpFlagAck
	}
	b := make([]byte, gvcpHeaderLen+n)
	b[0], b[1] = gvcpKey, flags
	binary.BigEndian.PutUint16(b[2:], gvcpCmdAction)
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	binary.BigEndian.PutUint16(b[6:], reqID)
	binary.BigEndian.PutUint32(b[8:], a.DeviceKey)
	binary.BigEndian.PutUint32(b[12:], a.GroupKey)
	binary.BigEndian.PutUint32(b[16:], a.GroupMask)
	if a.Time != nil {
		binary.BigEndian.PutUint64(b[20:], *a.Time)
	}
	return b
}

// parseActionAck decodes an ACTION_CMD acknowledge, checking lengths before
// every read. It returns the status and ack id.
func parseActionAck(b []byte) (status, ackID uint16, err error) {
	if len(b) < gvcpHeaderLen {
		return 0, 0, fmt.Errorf("action ack: %d bytes, want at least %d", len(b), gvcpHeaderLen)
	}
	if ans := binary.BigEndian.Uint16(b[2:]); ans != gvcpAckAction {
		return 0, 0, fmt.Errorf("action ack: answer 0x%04x, want 0x%04x", ans, gvcpAckAction)
	}
	if l := int(binary.BigEndian.Uint16(b[4:])); l > len(b)-gvcpHeaderLen {
		return 0, 0, fmt.Errorf("action ack: length field %d exceeds the %d payload bytes", l, len(b)-gvcpHeaderLen)
	}
	return binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[6:]), nil
}

// SendActionCommand sends cmd to every target (a camera address, or a
// broadcast address such as 255.255.255.255 or a subnet's) from one UDP
// socket. With cmd.Ack it waits, until ctx ends or 500 ms pass, for an
// acknowledge from each unicast target and gathers whatever answers a
// broadcast draws; a unicast target that did not answer, or answered with an
// error status, gives an error naming it. Acks are returned in arrival order.
func SendActionCommand(ctx context.Context, targets []netip.Addr, cmd ActionCommand) ([]ActionAck, error) {
	if len(targets) == 0 {
		return nil, errors.New("action command: no targets")
	}
	port := cmd.Port
	if port == 0 {
		port = gvcpPort
	}
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return nil, fmt.Errorf("action command: %w", err)
	}
	defer conn.Close()
	if err := setBroadcast(conn); err != nil {
		return nil, fmt.Errorf("action command: %w", err)
	}
	reqID := uint16(actionReqID.Add(1)%0xffff + 1) // 0 is not a valid req_id
	pkt := cmd.marshal(reqID)
	pending := map[netip.Addr]bool{}
	for _, t := range targets {
		if !t.Is4() {
			return nil, fmt.Errorf("action command: target %s: GVCP is IPv4 only", t)
		}
		if _, err := conn.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(t, port)); err != nil {
			return nil, fmt.Errorf("action command to %s: %w", t, err)
		}
		if !isBroadcast(t) {
			pending[t] = true
		}
	}
	if !cmd.Ack {
		return nil, nil
	}
	deadline := time.Now().Add(actionDefaultWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	_ = conn.SetReadDeadline(deadline)
	var acks []ActionAck
	var errs []error
	buf := make([]byte, 1500)
	for {
		if len(pending) == 0 && !anyBroadcast(targets) {
			break
		}
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			break // deadline or ctx: judged below
		}
		st, id, perr := parseActionAck(buf[:n])
		if perr != nil || id != reqID {
			continue // a stray or stale datagram
		}
		addr := from.Addr().Unmap()
		acks = append(acks, ActionAck{From: addr, Status: st})
		delete(pending, addr)
		switch {
		case st == gvcpStatusLate:
			errs = append(errs, fmt.Errorf("action command to %s: %w", addr, ErrActionLate))
		case st != 0:
			errs = append(errs, fmt.Errorf("action command to %s: ack status 0x%04x", addr, st))
		}
	}
	for t := range pending {
		errs = append(errs, fmt.Errorf("action command to %s: no acknowledge", t))
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("action command: %w", err))
	}
	return acks, errors.Join(errs...)
}

func isBroadcast(a netip.Addr) bool {
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, x := range addrs {
			n, ok := x.(*net.IPNet)
			if !ok || n.IP.To4() == nil {
				continue
			}
			ip4, mask := n.IP.To4(), net.IP(n.Mask).To4()
			if mask == nil {
				continue
			}
			var bc [4]byte
			for i := range bc {
				bc[i] = ip4[i] | ^mask[i]
			}
			if ones, _ := n.Mask.Size(); ones < 31 && netip.AddrFrom4(bc) == a {
				return true
			}
		}
	}
	return false
}

func anyBroadcast(ts []netip.Addr) bool {
	for _, t := range ts {
		if isBroadcast(t) {
			return true
		}
	}
	return false
}

package camsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// request is one GVCP command being answered.
type request struct {
	c   *camera
	cmd Command
	src netip.AddrPort
}

// ack is the acknowledge of r with st and payload; nil where the command
// asked for none (DISCOVERY is always answered).
func (r request) ack(st Status, payload []byte) []byte {
	if st != StatusSuccess {
		r.c.gvcpErrors.Add(1)
	}
	if r.cmd.Flags&FlagAckRequired == 0 && r.cmd.Command != CmdDiscovery {
		return nil
	}
	return marshalAck(st, r.cmd.Command+1, r.cmd.ReqID, payload)
}

// handle answers one GVCP datagram from src; nil means no answer.
func (c *camera) handle(pkt []byte, src netip.AddrPort) []byte {
	cmd, err := ParseCommand(pkt)
	if err != nil {
		c.gvcpDropped.Add(1)
		return nil
	}
	c.gvcpCommands.Add(1)
	r := request{c: c, cmd: cmd, src: src}
	switch cmd.Command {
	case CmdDiscovery:
		return r.ack(StatusSuccess, c.discoveryData())
	case CmdReadReg:
		return c.readRegs(r)
	case CmdWriteReg:
		return c.writeRegs(r)
	case CmdReadMem:
		return c.readMem(r)
	case CmdWriteMem:
		return c.writeMem(r)
	case CmdPacketResend:
		c.handleResend(cmd)
		return nil // GEV: PACKETRESEND is never acknowledged
	case CmdAction:
		return c.handleAction(cmd, r.ack)
	}
	return r.ack(StatusNotImplemented, nil)
}

// discoveryData is the DISCOVERY_ACK payload: the bootstrap's first bytes
// with the current user name.
func (c *camera) discoveryData() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	data := make([]byte, discoveryDataSize)
	copy(data, c.boot[:discoveryDataSize])
	for a := uint32(regUserName); a < regUserName+16; a += 4 {
		binary.BigEndian.PutUint32(data[a:], c.words[a])
	}
	return data
}

// runAfter runs the side effects writes returned, once mu is released.
func runAfter(after []func()) {
	for _, f := range after {
		f()
	}
}

func (c *camera) readRegs(r request) []byte {
	p, be := r.cmd.Payload, binary.BigEndian
	if len(p) == 0 || len(p)%4 != 0 || len(p) > maxMemData {
		return r.ack(StatusInvalidParameter, nil)
	}
	return c.readLocked(r, func() []byte {
		out := make([]byte, len(p))
		for i := 0; i < len(p); i += 4 {
			addr := be.Uint32(p[i:])
			if addr%4 != 0 {
				return r.ack(StatusBadAlignment, out[:i])
			}
			v, st := c.readRegLocked(addr)
			if st != StatusSuccess {
				return r.ack(st, out[:i])
			}
			be.PutUint32(out[i:], v)
		}
		return r.ack(StatusSuccess, out)
	})
}

// readLocked answers a read for r's sender under the camera's lock: read
// runs when the sender may read, with the live features sampled once for
// the whole request; otherwise the ack carries the privilege status.
func (c *camera) readLocked(r request, read func() []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.privilegeLocked(r.src, false); st != StatusSuccess {
		return r.ack(st, nil)
	}
	defer c.sampleOnceLocked()()
	return read()
}

// writeWordLocked writes one register for src: CCP through the privilege,
// the others through the register table.
func (c *camera) writeWordLocked(src netip.AddrPort, addr, v uint32) (Status, func()) {
	switch {
	case addr%4 != 0:
		return StatusBadAlignment, nil
	case addr == regCCP:
		return c.writeCCPLocked(src, v), nil
	}
	return c.writeRegLocked(addr, v)
}

func (c *camera) writeRegs(r request) []byte {
	p, be := r.cmd.Payload, binary.BigEndian
	if len(p) == 0 || len(p)%8 != 0 || len(p) > maxMemData {
		return r.ack(StatusInvalidParameter, make([]byte, 4))
	}
	var after []func()
	defer func() { runAfter(after) }()
	c.mu.Lock()
	defer c.mu.Unlock()
	// A lone CCP write gets its own answer from writeCCPLocked.
	if st := c.privilegeLocked(r.src, true); st != StatusSuccess && !(len(p) == 8 && be.Uint32(p) == regCCP) {
		return r.ack(st, make([]byte, 4))
	}
	idx := make([]byte, 4)
	for i := 0; i < len(p); i += 8 {
		st, f := c.writeWordLocked(r.src, be.Uint32(p[i:]), be.Uint32(p[i+4:]))
		if st != StatusSuccess {
			return r.ack(st, idx)
		}
		if f != nil {
			after = append(after, f)
		}
		be.PutUint16(idx[2:], uint16(i/8+1))
	}
	return r.ack(StatusSuccess, idx)
}

func (c *camera) readMem(r request) []byte {
	p, be := r.cmd.Payload, binary.BigEndian
	if len(p) < 8 {
		return r.ack(StatusInvalidParameter, nil)
	}
	addr, n := be.Uint32(p), uint32(be.Uint16(p[6:]))
	if addr%4 != 0 || n%4 != 0 {
		return r.ack(StatusBadAlignment, nil)
	}
	if n == 0 || n > maxMemData {
		return r.ack(StatusInvalidParameter, nil)
	}
	return c.readLocked(r, func() []byte {
		out := make([]byte, 4+n)
		be.PutUint32(out, addr)
		for i := uint32(0); i < n; i += 4 {
			v, st := c.readRegLocked(addr + i)
			if st != StatusSuccess {
				return r.ack(st, nil)
			}
			be.PutUint32(out[4+i:], v)
		}
		return r.ack(StatusSuccess, out)
	})
}

func (c *camera) writeMem(r request) []byte {
	p, be := r.cmd.Payload, binary.BigEndian
	if len(p) < 8 || (len(p)-4)%4 != 0 || len(p)-4 > maxMemData {
		return r.ack(StatusInvalidParameter, make([]byte, 4))
	}
	addr := be.Uint32(p)
	if addr%4 != 0 {
		return r.ack(StatusBadAlignment, make([]byte, 4))
	}
	var after []func()
	defer func() { runAfter(after) }()
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.privilegeLocked(r.src, true); st != StatusSuccess {
		return r.ack(st, make([]byte, 4))
	}
	res := make([]byte, 4)
	for i := 4; i < len(p); i += 4 {
		st, f := c.writeWordLocked(r.src, addr+uint32(i-4), be.Uint32(p[i:]))
		if st != StatusSuccess {
			be.PutUint16(res[2:], uint16(i-4))
			return r.ack(st, res)
		}
		if f != nil {
			after = append(after, f)
		}
	}
	be.PutUint16(res[2:], uint16(len(p)-4))
	return r.ack(StatusSuccess, res)
}

func (c *camera) handleResend(cmd Command) {
	p := cmd.Payload
	be := binary.BigEndian
	var block uint64
	var first, last uint32
	switch {
	case cmd.Flags&FlagExtendedIDs != 0 && len(p) >= 20:
		first, last = be.Uint32(p[4:]), be.Uint32(p[8:])
		block = be.Uint64(p[12:])
	case len(p) >= 12:
		block = uint64(be.Uint16(p[2:]))
		first, last = be.Uint32(p[4:])&0xFFFFFF, be.Uint32(p[8:])&0xFFFFFF
	default:
		c.gvcpDropped.Add(1)
		return
	}
	c.str.resend(uint16(block), first, last)
}

func (c *camera) handleAction(cmd Command, ack func(Status, []byte) []byte) []byte {
	a, err := parseAction(cmd.Flags, cmd.Payload)
	if err != nil {
		return ack(StatusInvalidParameter, nil)
	}
	c.mu.Lock()
	match := c.gc.actionMatchLocked(a.DeviceKey, a.GroupKey, a.GroupMask)
	c.mu.Unlock()
	if !match {
		// GEV: a device the action is not for stays silent.
		return nil
	}
	c.actionCmds.Add(1)
	if !a.HasTime {
		c.fireAction0(c.clock.Read())
		return ack(StatusSuccess, nil)
	}
	at := c.tickNS(a.Time) // action_time counts device ticks
	if now := c.clock.Exact(); at < now {
		c.actionsLate.Add(1)
		c.fireAction0(now)
		return ack(StatusActionLate, nil)
	}
	if !c.sched.onceBounded(at, c.actionQueueSize()) {
		c.actionsOverflow.Add(1)
		return ack(StatusOverflow, nil)
	}
	return ack(StatusSuccess, nil)
}

// serveGVCP answers GVCP arriving on conn, a broadcast address, until ctx
// ends or conn is closed.
func (c *camera) serveGVCP(ctx context.Context, conn *net.UDPConn, reply *rawSocket) error {
	buf := make([]byte, 2048)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return fmt.Errorf("gvcp: %w", err)
		}
		c.answerGVCP(buf[:n], netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), reply)
	}
}

// answerGVCP handles one GVCP datagram from src. Answers go out of reply,
// the socket bound to the camera's own address, so that they carry it as
// source even when the command came in as a broadcast.
func (c *camera) answerGVCP(pkt []byte, src netip.AddrPort, reply *rawSocket) {
	if c.unplugged.Load() {
		return
	}
	if out := c.handle(pkt, src); out != nil {
		if err := reply.send(out, src); err != nil {
			c.log.Debug("gvcp: answering", "err", err)
		}
	}
}

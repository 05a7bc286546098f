package camsim

import (
	"context"
	"encoding/binary"
	"net/netip"
	"time"
)

// controlPrivilege is the control channel privilege (CCP, 0x0A00): the
// bits granted and the primary application holding them.
type controlPrivilege struct {
	bits  uint32         // ccpControl, ccpExclusive; 0 while free
	owner netip.AddrPort // the primary application's address and UDP port
	seen  time.Time      // its last command: the heartbeat
}

func (p controlPrivilege) held() bool { return p.bits != 0 }

// primaryPort is Primary Application Port (0x0A04): 0 while free.
func (p controlPrivilege) primaryPort() uint32 {
	if !p.held() {
		return 0
	}
	return uint32(p.owner.Port())
}

// primaryIP is Primary Application IP Address (0x0A14): 0 while free.
func (p controlPrivilege) primaryIP() uint32 {
	if !p.held() || !p.owner.Addr().Is4() {
		return 0
	}
	a := p.owner.Addr().As4()
	return binary.BigEndian.Uint32(a[:])
}

// privilegeLocked checks the control channel privilege for a command from
// src and refreshes the heartbeat of its owner.
func (c *camera) privilegeLocked(src netip.AddrPort, write bool) Status {
	now := time.Now()
	c.expireLocked(now)
	if !c.ccp.held() {
		return StatusSuccess
	}
	if src == c.ccp.owner {
		c.ccp.seen = now
		return StatusSuccess
	}
	if write || c.ccp.bits&ccpExclusive != 0 {
		c.accessDenied.Add(1)
		return StatusAccessDenied
	}
	return StatusSuccess
}

// expireLocked drops the control privilege of a controller whose heartbeat
// stopped. Like real devices, camsim then stops acquisition and closes the
// stream channel, so a crashed client does not leave a camera streaming.
func (c *camera) expireLocked(now time.Time) {
	timeout := time.Duration(c.words[regHeartbeatTimeout]) * time.Millisecond
	if c.ccp.held() && now.Sub(c.ccp.seen) > timeout {
		c.log.Info("control privilege expired", "owner", c.ccp.owner)
		c.releaseLocked()
	}
}

func (c *camera) releaseLocked() {
	c.ccp = controlPrivilege{}
	c.stopAcquisitionLocked()
	c.words[regSCP0Port] = 0
}

// watchHeartbeat expires the privilege even when no command arrives.
func (c *camera) watchHeartbeat(ctx context.Context) {
	every(ctx, 100*time.Millisecond, func(now time.Time) {
		c.mu.Lock()
		c.expireLocked(now)
		c.mu.Unlock()
	})
}

// writeCCPLocked is a write of the CCP register by src.
func (c *camera) writeCCPLocked(src netip.AddrPort, v uint32) Status {
	if c.ccp.held() && src != c.ccp.owner {
		c.accessDenied.Add(1)
		return StatusAccessDenied
	}
	v &= ccpExclusive | ccpControl
	if v == 0 {
		if c.ccp.held() {
			c.log.Info("control privilege released", "owner", c.ccp.owner)
			c.releaseLocked()
		}
		return StatusSuccess
	}
	if !c.ccp.held() {
		c.log.Info("control privilege taken", "owner", src)
	}
	c.ccp = controlPrivilege{bits: v, owner: src, seen: time.Now()}
	return StatusSuccess
}

package camsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// PTPStatus is a PTP port state as SFNC's PtpStatus names it. The values are
// IEEE 1588 portState numbers (Table 20), which is also what the PtpStatus
// register holds.
type PTPStatus uint32

// Port states.
const (
	PTPInitializing PTPStatus = 1
	PTPFaulty       PTPStatus = 2
	PTPDisabled     PTPStatus = 3
	PTPListening    PTPStatus = 4
	PTPPreMaster    PTPStatus = 5
	PTPMaster       PTPStatus = 6
	PTPPassive      PTPStatus = 7
	PTPUncalibrated PTPStatus = 8
	PTPSlave        PTPStatus = 9
)

var ptpStatusNames = []string{"", "Initializing", "Faulty", "Disabled", "Listening", "PreMaster", "Master", "Passive", "Uncalibrated", "Slave"}

func (s PTPStatus) String() string {
	if int(s) < len(ptpStatusNames) && s > 0 {
		return ptpStatusNames[s]
	}
	return fmt.Sprintf("PTPStatus(%d)", uint32(s))
}

// ParsePTPStatus accepts the SFNC names, case-insensitively (also Pre_Master).
func ParsePTPStatus(s string) (PTPStatus, error) {
	n := strings.ReplaceAll(strings.ToLower(s), "_", "")
	for i, name := range ptpStatusNames {
		if i > 0 && strings.ToLower(name) == n {
			return PTPStatus(i), nil
		}
	}
	return 0, fmt.Errorf("camsim: unknown PTP status %q", s)
}

// ptpMulticast is the IEEE 1588 primary multicast group (Annex D).
var ptpMulticast = net.IPv4(224, 0, 1, 129)

// announce is what camsim takes from an IEEE 1588 Announce message.
type announce struct {
	Domain            uint8
	UTCOffset         int16
	UTCOffsetValid    bool
	PTPTimescale      bool
	GrandmasterID     uint64
	SourcePortClockID uint64
}

// parseAnnounce decodes an Announce (header 34 bytes, body 30: originTimestamp
// 10, currentUtcOffset 2, reserved 1, grandmasterPriority1 1,
// grandmasterClockQuality 4, grandmasterPriority2 1, grandmasterIdentity 8,
// stepsRemoved 2, timeSource 1).
func parseAnnounce(b []byte) (announce, error) {
	if len(b) < 64 {
		return announce{}, fmt.Errorf("ptp: message of %d bytes is no Announce (64)", len(b))
	}
	if b[0]&0x0F != 0x0B {
		return announce{}, fmt.Errorf("ptp: messageType %d is not Announce", b[0]&0x0F)
	}
	if b[1]&0x0F != 2 {
		return announce{}, fmt.Errorf("ptp: versionPTP %d", b[1]&0x0F)
	}
	return announce{
		Domain:            b[4],
		UTCOffsetValid:    b[7]&0x04 != 0,
		PTPTimescale:      b[7]&0x08 != 0,
		SourcePortClockID: binary.BigEndian.Uint64(b[20:28]),
		UTCOffset:         int16(binary.BigEndian.Uint16(b[44:46])),
		GrandmasterID:     binary.BigEndian.Uint64(b[53:61]),
	}, nil
}

// ptpPort is camsim's PTP behaviour: it only listens. A grandmaster heard in
// its domain makes it Uncalibrated, then Slave after the settle time; silence
// for the announce timeout makes it PreMaster, then Master of itself. It never
// sends PTP messages, so ptp4l never sees it.
type ptpPort struct {
	mu       sync.Mutex
	enabled  bool
	domain   uint8
	state    PTPStatus
	since    time.Time
	heardAt  time.Time
	gm       uint64
	forced   PTPStatus
	ownID    uint64
	settle   time.Duration
	timeout  time.Duration
	deaf     bool // unplugged: the link is down, nothing is heard
	heard    uint64
	now      func() time.Time
	onUTCOff func(announce)
	log      *slog.Logger
}

func newPTPPort(cfg *Config, onUTCOff func(announce), log *slog.Logger) *ptpPort {
	p := &ptpPort{domain: cfg.PTPDomain, ownID: cfg.ClockID(), settle: cfg.Settle, timeout: cfg.AnnounceTimeout,
		state: PTPDisabled, now: time.Now, onUTCOff: onUTCOff, log: log}
	p.since = p.now()
	p.setEnabled(cfg.PTPEnable)
	return p
}

func (p *ptpPort) setStateLocked(s PTPStatus) {
	if s != p.state {
		p.log.Info("ptp state", "from", p.state, "to", s)
		p.state = s
		p.since = p.now()
	}
}

func (p *ptpPort) setEnabled(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == p.enabled {
		return
	}
	p.enabled = on
	if on {
		p.setStateLocked(PTPInitializing)
	} else {
		p.setStateLocked(PTPDisabled)
	}
}

func (p *ptpPort) setDomain(d uint8) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.domain = d
	// What was heard in the old domain says nothing about the new one.
	p.heardAt = time.Time{}
	if p.enabled {
		p.setStateLocked(PTPListening)
	}
}

func (p *ptpPort) setDeaf(d bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deaf = d
}

func (p *ptpPort) force(s PTPStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forced = s
}

func (p *ptpPort) receive(a announce) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.enabled || p.deaf || a.Domain != p.domain || a.GrandmasterID == p.ownID {
		return
	}
	p.heard++
	if a.GrandmasterID != p.gm && (p.state == PTPSlave || p.state == PTPUncalibrated) {
		// A new grandmaster: servo starts over.
		p.setStateLocked(PTPUncalibrated)
	}
	p.gm = a.GrandmasterID
	p.heardAt = p.now()
	if p.onUTCOff != nil {
		p.onUTCOff(a)
	}
	p.stepLocked()
}

// preMasterTime is how long camsim qualifies as master before claiming it.
func (p *ptpPort) preMasterTime() time.Duration { return p.timeout / 3 }

// stepLocked advances the state machine.
func (p *ptpPort) stepLocked() {
	now := p.now()
	if !p.enabled {
		p.setStateLocked(PTPDisabled)
		return
	}
	heard := !p.heardAt.IsZero() && now.Sub(p.heardAt) < p.timeout
	in := now.Sub(p.since)
	switch p.state {
	case PTPDisabled, PTPInitializing, PTPFaulty, PTPPassive:
		p.setStateLocked(PTPListening)
	case PTPListening:
		if heard {
			p.setStateLocked(PTPUncalibrated)
		} else if in >= p.timeout {
			p.setStateLocked(PTPPreMaster)
		}
	case PTPPreMaster:
		if heard {
			p.setStateLocked(PTPUncalibrated)
		} else if in >= p.preMasterTime() {
			p.setStateLocked(PTPMaster)
		}
	case PTPMaster:
		if heard {
			p.setStateLocked(PTPUncalibrated)
		}
	case PTPUncalibrated:
		if !heard {
			p.setStateLocked(PTPPreMaster)
		} else if in >= p.settle {
			p.setStateLocked(PTPSlave)
		}
	case PTPSlave:
		if !heard {
			p.setStateLocked(PTPPreMaster)
		}
	}
}

type ptpSnapshot struct {
	Enabled bool
	Domain  uint8
	Status  PTPStatus
	Auto    PTPStatus // what the state machine says, forced or not
	Forced  bool
	GM      uint64
	Own     uint64
	Heard   uint64
}

func (p *ptpPort) snapshot() ptpSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stepLocked()
	s := ptpSnapshot{Enabled: p.enabled, Domain: p.domain, Status: p.state, Auto: p.state, GM: p.ownID, Own: p.ownID, Heard: p.heard}
	if p.forced != 0 {
		s.Status = p.forced
		s.Forced = true
	}
	if (s.Status == PTPSlave || s.Status == PTPUncalibrated) && p.gm != 0 {
		s.GM = p.gm
	}
	return s
}

// offsetFromMaster is what PtpOffsetFromMaster reads: the device clock's
// error against the host clock (the grandmaster's timebase in a rig) while
// slaved, a few ns of noise when that error is zero, and 0 otherwise.
func offsetFromMaster(st PTPStatus, clockErr time.Duration) int64 {
	if st != PTPSlave && st != PTPUncalibrated {
		return 0
	}
	if clockErr == 0 {
		return rand.Int64N(41) - 20
	}
	return int64(clockErr)
}

// run listens for Announce messages on ifName until ctx ends.
func (p *ptpPort) run(ctx context.Context, ifName string, port int) error {
	ifi, err := net.InterfaceByName(ifName)
	if err != nil {
		return fmt.Errorf("ptp: interface %s: %w", ifName, err)
	}
	conn, err := net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: ptpMulticast, Port: port})
	if err != nil {
		return fmt.Errorf("ptp: joining %s:%d on %s: %w", ptpMulticast, port, ifName, err)
	}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	go p.tickWithoutListener(ctx)
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("ptp: reading on %s: %w", ifName, err)
		}
		a, err := parseAnnounce(buf[:n])
		if err != nil {
			continue // Sync, Follow_Up, Delay_Req...: not for a listener
		}
		p.receive(a)
	}
}

// tickWithoutListener keeps the state machine moving (Listening → Master):
// beside the listener, and alone when no multicast socket could be opened.
func (p *ptpPort) tickWithoutListener(ctx context.Context) {
	every(ctx, 100*time.Millisecond, func(time.Time) {
		p.mu.Lock()
		p.stepLocked()
		p.mu.Unlock()
	})
}

// every calls f with the time every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func(time.Time)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			f(now)
		}
	}
}

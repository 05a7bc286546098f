package camsim

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// TestGenICamActionScheduler: an impersonated camera whose XML declares
// The Imaging Source's ActionScheduler* runs it: the commit command
// schedules Action0 from ActionSchedulerTime every ActionSchedulerInterval,
// the status reads 1 while it runs, the cancel command ends it. The XML is
// camsim's own sfnc one, served through the node-graph engine: it resolves
// every feature the engine simulates.
func TestGenICamActionScheduler(t *testing.T) {
	c := impersonate(t, GenICamXML(ProfileSFNC, "V", "M"))
	if len(c.gc.missing) != 0 {
		t.Errorf("own sfnc XML on the engine: unresolved %q", c.gc.missing)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c.ctx = ctx
	c.sched = newScheduler(ctx, c.clock, c.fireAction0)

	c.mu.Lock()
	start := c.clock.Exact() + uint64(50*time.Millisecond)
	if err := c.gc.g.SetInt(c.gc.f["schedTime"], int64(start)); err != nil {
		t.Fatal(err)
	}
	if err := c.gc.g.SetInt(c.gc.f["schedInterval"], 10_000); err != nil { // µs
		t.Fatal(err)
	}
	st, after := c.writeRegLocked(regSchedulerCommit, 1)
	c.mu.Unlock()
	if st != StatusSuccess || after == nil {
		t.Fatalf("ActionSchedulerCommit: %v, side effect %v", st, after != nil)
	}
	after()
	deadline := time.Now().Add(10 * time.Second)
	for c.actionsFired.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d actions fired 10 s after a 10 ms schedule started", c.actionsFired.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v := readReg(t, c, regSchedulerStatus); v != 1 {
		t.Errorf("ActionSchedulerStatus while running: %d, want 1", v)
	}

	c.mu.Lock()
	st, after = c.writeRegLocked(regSchedulerCancel, 1)
	c.mu.Unlock()
	if st != StatusSuccess || after == nil {
		t.Fatalf("ActionSchedulerCancel: %v, side effect %v", st, after != nil)
	}
	after()
	for c.sched.active() {
		if time.Now().After(deadline) {
			t.Fatal("scheduler still active after ActionSchedulerCancel")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v := readReg(t, c, regSchedulerStatus); v != 0 {
		t.Errorf("ActionSchedulerStatus after cancel: %d, want 0", v)
	}
}

func readReg(t *testing.T, c *camera, addr uint32) uint32 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	v, st := c.readRegLocked(addr)
	if st != StatusSuccess {
		t.Fatalf("read 0x%x: %v", addr, st)
	}
	return v
}

// TestGenICamOwnXMLs: camsim's own profiles' XML, impersonated, resolve
// every feature the engine simulates, and the engine finds them by the
// profile's names (a step towards serving the own profiles through it).
func TestGenICamOwnXMLs(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	for p, want := range map[Profile][]string{
		ProfileSFNC:  {"ptpEnable", "ptpStatus", "tsLatch", "tsValue", "schedCommit", "width", "trigSource", "chunkMode"},
		ProfileGEV:   {"ptpEnable", "ptpStatus", "tsLatch", "tsValue", "schedCommit", "width", "trigSource", "chunkMode"},
		ProfileNoPTP: {"width", "trigSource", "schedCommit", "chunkMode"},
	} {
		c := impersonate(t, GenICamXML(p, "V", "M"))
		if len(c.gc.missing) != 0 {
			t.Errorf("%s: unresolved %q", p, c.gc.missing)
		}
		for _, role := range want {
			if c.gc.f[role] == "" {
				t.Errorf("%s: no feature found for %s", p, role)
			}
		}
		if got := c.hasPTP(); got != (p != ProfileNoPTP) {
			t.Errorf("%s: hasPTP %v", p, got)
		}
	}
}

// TestGenICamMultiWordReadOneSample: an 8-byte live value (the PTP offset,
// noisy around 0 while Slave) read in one READMEM is one sample: its high
// and low words never come from two samples of different sign.
func TestGenICamMultiWordReadOneSample(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	c := impersonate(t, GenICamXML(ProfileSFNC, "V", "M"))
	c.ptp.setEnabled(true)
	c.ptp.force(PTPSlave)
	_, r, err := c.gc.g.registerOf(c.gc.f["offset"])
	if err != nil || r.length != 8 {
		t.Fatalf("offset register: %+v %v", r, err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	req := binary.BigEndian.AppendUint32(nil, uint32(r.addr))
	req = binary.BigEndian.AppendUint32(req, 8)
	signs := map[bool]int{}
	for i := range 400 {
		a, err := ParseAck(c.handle(MarshalCommand(FlagAckRequired, CmdReadMem, uint16(i+1), req), src))
		if err != nil || a.Status != StatusSuccess || len(a.Payload) != 12 {
			t.Fatalf("READMEM offset: %+v %v", a, err)
		}
		v := int64(binary.BigEndian.Uint64(a.Payload[4:]))
		if v < -20 || v > 20 {
			t.Fatalf("read %d: offset %d, want within ±20 ns (words of two samples)", i, v)
		}
		signs[v < 0]++
	}
	if signs[true] == 0 || signs[false] == 0 {
		t.Errorf("offsets of one sign only (%v): the check saw no sign change", signs)
	}
}

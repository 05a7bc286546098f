package camsim_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
)

func FuzzParseCommand(f *testing.F) {
	f.Add(camsim.MarshalCommand(camsim.FlagAckRequired, camsim.CmdReadReg, 1, be32(0x0944)))
	f.Add(camsim.MarshalCommand(camsim.FlagAckRequired, camsim.CmdDiscovery, 0xffff, nil))
	f.Add(camsim.MarshalCommand(camsim.FlagActionHasTime|camsim.FlagAckRequired, camsim.CmdAction, 7, make([]byte, 20)))
	f.Add([]byte{0x42, 0x01, 0x00, 0x80, 0xff, 0xff, 0x00, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := camsim.ParseCommand(b)
		if err != nil {
			return
		}
		if len(c.Payload) != int(binary.BigEndian.Uint16(b[4:6])) {
			t.Fatalf("payload %d bytes, length field %d", len(c.Payload), binary.BigEndian.Uint16(b[4:6]))
		}
		again := camsim.MarshalCommand(c.Flags, c.Command, c.ReqID, c.Payload)
		if !bytes.Equal(again, b[:8+len(c.Payload)]) {
			t.Fatalf("re-encoding differs: %x vs %x", again, b)
		}
	})
}

func TestParseCommandRejects(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter"},
		{"short", []byte{0x42, 0, 0, 0x80}, "shorter"},
		{"bad key", []byte{0x43, 1, 0, 0x80, 0, 0, 0, 1}, "key"},
		{"length overflow", []byte{0x42, 1, 0, 0x80, 0, 4, 0, 1, 0, 0}, "length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := camsim.ParseCommand(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseCommand(%x) = %v, want error with %q", tc.b, err, tc.want)
			}
		})
	}
}

// TestGVCPServer drives an in-process camsim (noptp, 127.0.0.1, a free port)
// with malformed and unusual commands and checks acknowledges and survival.
func TestGVCPServer(t *testing.T) {
	addr, cc := startInProcess(t, nil)
	g := newGVCPClient(t, addr)

	// Malformed datagrams get no answer, and the server keeps answering.
	for _, b := range [][]byte{
		{}, {0x42}, {0x00, 1, 0, 0x80, 0, 4, 0, 9, 0, 0, 0, 0},
		{0x42, 1, 0, 0x80, 0xff, 0xff, 0, 9},
		bytes.Repeat([]byte{0xff}, 1400),
	} {
		if ans := g.raw(b, 150*time.Millisecond); ans != nil {
			t.Errorf("malformed %x answered with %x", b, ans)
		}
	}
	if v := g.mustRead(0x0000); v>>16 != 2 {
		t.Errorf("version register 0x%08x, want major 2", v)
	}

	for _, tc := range []struct {
		name    string
		cmd     uint16
		payload []byte
		want    camsim.Status
	}{
		{"read unmapped", camsim.CmdReadReg, be32(0x00200000), camsim.StatusInvalidAddress},
		{"read unaligned", camsim.CmdReadReg, be32(0x0002), camsim.StatusBadAlignment},
		{"read odd length", camsim.CmdReadReg, []byte{0, 0, 0}, camsim.StatusInvalidParameter},
		{"write read-only bootstrap", camsim.CmdWriteReg, append(be32(0x0000), be32(1)...), camsim.StatusWriteProtect},
		{"write unmapped", camsim.CmdWriteReg, append(be32(0x00300000), be32(1)...), camsim.StatusInvalidAddress},
		{"write payload size", camsim.CmdWriteReg, append(be32(0x1000C), be32(1)...), camsim.StatusWriteProtect},
		{"width out of range", camsim.CmdWriteReg, append(be32(0x10000), be32(1)...), camsim.StatusInvalidParameter},
		{"readmem too long", camsim.CmdReadMem, append(be32(0), 0, 0, 0x10, 0), camsim.StatusInvalidParameter},
		{"readmem unmapped", camsim.CmdReadMem, append(be32(0x00300000), 0, 0, 0, 4), camsim.StatusInvalidAddress},
		{"unknown command", 0x0300, nil, camsim.StatusNotImplemented},
		{"FORCEIP not implemented", camsim.CmdForceIP, make([]byte, 56), camsim.StatusNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := g.mustAck(0, tc.cmd, tc.payload)
			if a.Status != tc.want {
				t.Errorf("status %v, want %v", a.Status, tc.want)
			}
		})
	}

	// Discovery by unicast carries the serial at 0xD8.
	d := g.mustAck(0, camsim.CmdDiscovery, nil)
	if len(d.Payload) != 0xF8 || !bytes.HasPrefix(d.Payload[0xD8:], []byte("INPROC1\x00")) {
		t.Errorf("discovery ack: %d bytes, serial field %q", len(d.Payload), d.Payload[0xD8:0xE8])
	}

	// The first URL points at the XML, which reads back through READMEM.
	url, st := g.readMem(0x200, 64)
	if st != camsim.StatusSuccess || !strings.HasPrefix(string(url), "Local:camsim.xml;100000;") {
		t.Fatalf("first URL %q (%v)", url, st)
	}
	head, _ := g.readMem(0x100000, 64)
	if !strings.HasPrefix(string(head), "<?xml") {
		t.Errorf("XML starts with %q", head)
	}

	st0, err := cc.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st0.GVCPDropped < 4 {
		t.Errorf("gvcp_dropped = %d, want the malformed datagrams counted", st0.GVCPDropped)
	}
}

// TestGVCPPrivilege checks the control channel privilege: a second
// controller is refused while the first holds it, and accepted once the first
// releases it or its heartbeat times out.
func TestGVCPPrivilege(t *testing.T) {
	addr, _ := startInProcess(t, nil)
	a, b := newGVCPClient(t, addr), newGVCPClient(t, addr)

	a.mustWrite(0x0A00, 2) // control
	a.mustWrite(0x0938, 600)
	if st := b.writeReg(0x10000, 320); st != camsim.StatusAccessDenied {
		t.Fatalf("second controller's write: %v, want ACCESS_DENIED", st)
	}
	if st := b.writeReg(0x0A00, 2); st != camsim.StatusAccessDenied {
		t.Fatalf("second controller taking control: %v, want ACCESS_DENIED", st)
	}
	if _, st := b.readReg(0x10000); st != camsim.StatusSuccess {
		t.Fatalf("second controller's read under non-exclusive control: %v", st)
	}
	a.mustWrite(0x0A00, 0) // release
	b.mustWrite(0x0A00, 3) // exclusive
	if _, st := a.readReg(0x10000); st != camsim.StatusAccessDenied {
		t.Fatalf("read under exclusive control of another: %v, want ACCESS_DENIED", st)
	}
	b.mustWrite(0x0938, 500)
	// b falls silent; keep a's attempts sparse so they do not count as b's.
	time.Sleep(900 * time.Millisecond)
	if st := a.writeReg(0x0A00, 2); st != camsim.StatusSuccess {
		t.Fatalf("taking control after the heartbeat timeout: %v", st)
	}
	if st := b.writeReg(0x10000, 320); st != camsim.StatusAccessDenied {
		t.Fatalf("former controller's write: %v, want ACCESS_DENIED", st)
	}
}

// TestActionCommand checks ACTION_CMD key matching, acknowledges and the late status.
func TestActionCommand(t *testing.T) {
	addr, cc := startInProcess(t, nil)
	g := newGVCPClient(t, addr)
	g.mustWrite(0x0A00, 2)
	g.mustWrite(0x090C, 0x1234) // device key
	g.mustWrite(0x9800, 0x1)    // group key
	g.mustWrite(0x9804, 0xff)   // group mask

	act := func(a camsim.ActionCommand) []byte {
		b, _ := a.MarshalBinary()
		return b
	}
	flags := func(a camsim.ActionCommand) uint8 {
		if a.HasTime {
			return camsim.FlagActionHasTime
		}
		return 0
	}
	for _, tc := range []struct {
		name   string
		a      camsim.ActionCommand
		answer bool
		want   camsim.Status
	}{
		{"match", camsim.ActionCommand{DeviceKey: 0x1234, GroupKey: 1, GroupMask: 0x1}, true, camsim.StatusSuccess},
		{"wrong device key", camsim.ActionCommand{DeviceKey: 0x1235, GroupKey: 1, GroupMask: 0x1}, false, 0},
		{"wrong group key", camsim.ActionCommand{DeviceKey: 0x1234, GroupKey: 2, GroupMask: 0x1}, false, 0},
		{"mask miss", camsim.ActionCommand{DeviceKey: 0x1234, GroupKey: 1, GroupMask: 0x100}, false, 0},
		{"late", camsim.ActionCommand{DeviceKey: 0x1234, GroupKey: 1, GroupMask: 0x2, HasTime: true, Time: 1000}, true, camsim.StatusActionLate},
		{"scheduled", camsim.ActionCommand{DeviceKey: 0x1234, GroupKey: 1, GroupMask: 0x2, HasTime: true, Time: 0 /* set below: now+200ms */}, true, camsim.StatusSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.a.HasTime && tc.a.Time == 0 {
				tc.a.Time = g.latch() + uint64(200*time.Millisecond)
			}
			g.id++
			b := g.raw(camsim.MarshalCommand(flags(tc.a)|camsim.FlagAckRequired, camsim.CmdAction, g.id, act(tc.a)), 300*time.Millisecond)
			if !tc.answer {
				if b != nil {
					t.Fatalf("answered %x, want silence", b)
				}
				return
			}
			if b == nil {
				t.Fatal("no answer")
			}
			ack, err := camsim.ParseAck(b)
			if err != nil || ack.Status != tc.want || ack.Answer != camsim.CmdAction+1 {
				t.Fatalf("ack %+v (%v), want status %v", ack, err, tc.want)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	s, err := cc.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.ActionCommands != 3 || s.ActionsFired != 3 || s.ActionsLate != 1 {
		t.Errorf("action_commands %d, actions_fired %d, actions_late %d; want 3, 3, 1", s.ActionCommands, s.ActionsFired, s.ActionsLate)
	}
}

// TestTimestampLatchAndReset: the bootstrap latch reads the TAI device clock;
// a reset restarts the counter at zero.
func TestTimestampLatchAndReset(t *testing.T) {
	addr, cc := startInProcess(t, nil)
	g := newGVCPClient(t, addr)
	before := time.Now()
	v := g.latch()
	after := time.Now()
	if lo, hi := uint64(before.Add(37*time.Second).UnixNano()), uint64(after.Add(37*time.Second).UnixNano()); v < lo || v > hi {
		t.Errorf("latched %d, want TAI within [%d, %d]", v, lo, hi)
	}
	if tf := g.read64(0x093C); tf != 1_000_000_000 {
		t.Errorf("tick frequency %d", tf)
	}
	g.mustWrite(0x0944, 1)
	if v := g.latch(); v > uint64(time.Second) {
		t.Errorf("latched %d after a reset, want a small count", v)
	}
	s, _ := cc.State(t.Context())
	if s.Latches != 2 || s.TimestampResets != 1 {
		t.Errorf("latches %d resets %d", s.Latches, s.TimestampResets)
	}
}

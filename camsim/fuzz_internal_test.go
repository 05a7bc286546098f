package camsim

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
)

// FuzzHandle feeds arbitrary datagrams to the GVCP dispatcher: it must never
// panic, whatever registers the input manages to write. The stream socket is
// connected to a discard address, so any send the input provokes fails
// locally instead of leaving the machine.
func FuzzHandle(f *testing.F) {
	f.Add(MarshalCommand(FlagAckRequired, CmdReadReg, 1, []byte{0, 0, 0x09, 0x44}))
	f.Add(MarshalCommand(FlagAckRequired, CmdWriteReg, 2, []byte{0, 0, 0x0A, 0, 0, 0, 0, 2}))
	f.Add(MarshalCommand(FlagAckRequired, CmdReadMem, 3, []byte{0, 0x10, 0, 0, 0, 0, 0x02, 0}))
	f.Add(MarshalCommand(FlagAckRequired, CmdWriteMem, 4, []byte{0, 1, 0, 0x90, 0, 0, 0, 1, 0, 0, 0, 2}))
	f.Add(MarshalCommand(FlagExtendedIDs, CmdPacketResend, 5, make([]byte, 20)))
	f.Add(MarshalCommand(FlagAckRequired|FlagActionHasTime, CmdAction, 6, make([]byte, 20)))
	f.Add(MarshalCommand(FlagAckRequired, CmdDiscovery, 7, nil))

	cfg := Config{Address: netip.MustParseAddr("127.0.0.1"), Profile: ProfileSFNC}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		f.Fatal(err)
	}
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	c, err := newCamera(cfg, log)
	if err != nil {
		f.Fatal(err)
	}
	c.ctx = ctx
	c.str = newStreamer(conn, c.unplugged.Load, log)
	c.sched = newScheduler(ctx, c.clock, c.fireAction0)
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	f.Fuzz(func(t *testing.T, b []byte) {
		out := c.handle(b, src)
		if out != nil {
			if _, err := ParseAck(out); err != nil {
				t.Fatalf("answer %x does not parse: %v", out, err)
			}
		}
	})
}

package camsim_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
)

// gvcpClient is a minimal GVCP controller for tests, speaking the same wire
// format as Aravis.
type gvcpClient struct {
	t         testing.TB
	conn      *net.UDPConn
	dst       netip.AddrPort
	id        uint16
	connected bool // conn is connected to dst (a socket of another namespace)
}

func newGVCPClient(t testing.TB, dst netip.AddrPort) *gvcpClient {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("gvcp client socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &gvcpClient{t: t, conn: conn, dst: dst, id: 1}
}

// raw sends b and returns the answer, or nil after a timeout.
func (g *gvcpClient) raw(b []byte, wait time.Duration) []byte {
	g.t.Helper()
	var err error
	if g.connected {
		_, err = g.conn.Write(b)
	} else {
		_, err = g.conn.WriteToUDPAddrPort(b, g.dst)
	}
	if err != nil {
		g.t.Fatalf("gvcp send: %v", err)
	}
	buf := make([]byte, 2048)
	_ = g.conn.SetReadDeadline(time.Now().Add(wait))
	n, _, err := g.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		g.t.Fatalf("gvcp receive: %v", err)
	}
	return buf[:n]
}

func (g *gvcpClient) cmd(flags uint8, cmd uint16, payload []byte) (camsim.Ack, bool) {
	g.t.Helper()
	g.id++
	for try := 0; try < 3; try++ {
		b := g.raw(camsim.MarshalCommand(flags|camsim.FlagAckRequired, cmd, g.id, payload), 500*time.Millisecond)
		if b == nil {
			continue
		}
		a, err := camsim.ParseAck(b)
		if err != nil {
			g.t.Fatalf("gvcp ack: %v", err)
		}
		if a.AckID != g.id || a.Answer != cmd+1 {
			g.t.Fatalf("gvcp ack id %d answer 0x%x, want %d 0x%x", a.AckID, a.Answer, g.id, cmd+1)
		}
		return a, true
	}
	return camsim.Ack{}, false
}

func (g *gvcpClient) mustAck(flags uint8, cmd uint16, payload []byte) camsim.Ack {
	g.t.Helper()
	a, ok := g.cmd(flags, cmd, payload)
	if !ok {
		g.t.Fatalf("gvcp command 0x%04x: no answer", cmd)
	}
	return a
}

func (g *gvcpClient) readReg(addr uint32) (uint32, camsim.Status) {
	g.t.Helper()
	a := g.mustAck(0, camsim.CmdReadReg, be32(addr))
	if a.Status != camsim.StatusSuccess || len(a.Payload) < 4 {
		return 0, a.Status
	}
	return binary.BigEndian.Uint32(a.Payload), a.Status
}

func (g *gvcpClient) mustRead(addr uint32) uint32 {
	g.t.Helper()
	v, st := g.readReg(addr)
	if st != camsim.StatusSuccess {
		g.t.Fatalf("READREG 0x%x: %v", addr, st)
	}
	return v
}

func (g *gvcpClient) writeReg(addr, v uint32) camsim.Status {
	g.t.Helper()
	return g.mustAck(0, camsim.CmdWriteReg, append(be32(addr), be32(v)...)).Status
}

func (g *gvcpClient) mustWrite(addr, v uint32) {
	g.t.Helper()
	if st := g.writeReg(addr, v); st != camsim.StatusSuccess {
		g.t.Fatalf("WRITEREG 0x%x=0x%x: %v", addr, v, st)
	}
}

func (g *gvcpClient) read64(addr uint32) uint64 {
	g.t.Helper()
	return uint64(g.mustRead(addr))<<32 | uint64(g.mustRead(addr+4))
}

func (g *gvcpClient) write64(addr uint32, v uint64) {
	g.t.Helper()
	a := g.mustAck(0, camsim.CmdWriteMem, append(be32(addr), append(be32(uint32(v>>32)), be32(uint32(v))...)...))
	if a.Status != camsim.StatusSuccess {
		g.t.Fatalf("WRITEMEM 0x%x: %v", addr, a.Status)
	}
}

func (g *gvcpClient) readMem(addr uint32, n uint16) ([]byte, camsim.Status) {
	g.t.Helper()
	p := append(be32(addr), 0, 0, byte(n>>8), byte(n))
	a := g.mustAck(0, camsim.CmdReadMem, p)
	if a.Status != camsim.StatusSuccess {
		return nil, a.Status
	}
	return a.Payload[4:], a.Status
}

// latch reads the device clock through the timestamp latch.
func (g *gvcpClient) latch() uint64 {
	g.t.Helper()
	g.mustWrite(0x0944, 2)
	return g.read64(0x0948)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// freeUDPPort finds a free UDP port on 127.0.0.1.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startInProcess runs camsim in this process on 127.0.0.1 at a free GVCP
// port, with the noptp profile so that it joins no multicast group in the
// machine's namespace. It returns the GVCP address and a control client.
func startInProcess(t testing.TB, mod func(*camsim.Config)) (netip.AddrPort, *camsim.ControlClient) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "control.sock")
	cfg := camsim.Config{
		Address:        netip.MustParseAddr("127.0.0.1"),
		Serial:         "INPROC1",
		Profile:        camsim.ProfileNoPTP,
		GVCPPort:       freeUDPPort(t),
		ControlAddress: "unix:" + sock,
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- camsim.Run(ctx, cfg, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("camsim.Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("camsim.Run did not return")
		}
	})
	cc := camsim.DialControl(cfg.ControlAddress)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := cc.State(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("camsim did not come up: %v", err)
		}
		select {
		case err := <-done:
			t.Fatalf("camsim.Run returned early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return netip.AddrPortFrom(cfg.Address, uint16(cfg.GVCPPort)), cc
}

// gvspFrame is one frame reassembled by gvspReceiver.
type gvspFrame struct {
	Block       uint16
	Timestamp   uint64
	PixelFormat uint32
	Width       uint32
	Height      uint32
	Pixels      []byte
	Missing     int // payload packets that never arrived
	stride      int
}

// gvspReceiver reassembles GVSP frames sent by camsim to a UDP socket.
type gvspReceiver struct {
	conn *net.UDPConn
}

func newGVSPReceiver(t testing.TB) *gvspReceiver {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	t.Cleanup(func() { conn.Close() })
	return &gvspReceiver{conn: conn}
}

func (r *gvspReceiver) port() uint32 { return uint32(r.conn.LocalAddr().(*net.UDPAddr).Port) }

// next returns the next frame whose trailer arrives, within timeout.
func (r *gvspReceiver) next(timeout time.Duration) (*gvspFrame, error) {
	buf := make([]byte, 20000)
	deadline := time.Now().Add(timeout)
	var cur *gvspFrame
	var got map[uint32]bool
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil, err
		}
		b := buf[:n]
		if n < 8 {
			return nil, fmt.Errorf("gvsp packet of %d bytes", n)
		}
		block := binary.BigEndian.Uint16(b[2:])
		infos := binary.BigEndian.Uint32(b[4:])
		format, id := infos>>24, infos&0xFFFFFF
		switch format {
		case 1:
			if n < 8+36 {
				return nil, fmt.Errorf("short leader")
			}
			l := b[8:]
			cur = &gvspFrame{Block: block, Timestamp: binary.BigEndian.Uint64(l[4:]), PixelFormat: binary.BigEndian.Uint32(l[12:]),
				Width: binary.BigEndian.Uint32(l[16:]), Height: binary.BigEndian.Uint32(l[20:])}
			cur.Pixels = make([]byte, int(cur.Width*cur.Height))
			got = map[uint32]bool{}
		case 3:
			if cur == nil || cur.Block != block {
				continue
			}
			data := b[8:]
			// Every payload packet but the last is full: the first one
			// seen gives the stride.
			if cur.stride == 0 {
				cur.stride = len(data)
			}
			got[id] = true
			off := int(id-1) * cur.stride
			if off+len(data) <= len(cur.Pixels) {
				copy(cur.Pixels[off:], data)
			}
		case 2:
			if cur == nil || cur.Block != block {
				continue
			}
			want := int(id) - 1
			have := len(got)
			cur.Missing = want - have
			return cur, nil
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func mustAddrPort(a string, port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(a), uint16(port))
}

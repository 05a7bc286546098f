package camsim_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// GigE Vision 2.0 bootstrap registers of the control channel.
const (
	regGVCPCapability = 0x0934
	regHeartbeat      = 0x0938
	regCCP            = 0x0A00
	regPrimaryPort    = 0x0A04
	regPrimaryIP      = 0x0A14
	capPrimaryAppRegs = 1 << 27 // bit 4 (CAP), bit 0 the most significant
)

func ip4(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

// localAddr is the address and port the camera sees g's commands come from.
func (g *gvcpClient) localAddr() netip.AddrPort {
	ap := g.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// waitFreed waits until a non-controlling reader sees the primary
// application registers cleared.
func waitFreed(t *testing.T, reader *gvcpClient, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		port, ip := reader.mustRead(regPrimaryPort), reader.mustRead(regPrimaryIP)
		if port == 0 && ip == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("primary application still port %d ip %08x %v after the holder fell silent", port, ip, within)
		}
		time.Sleep(50 * time.Millisecond) // a poll interval, the deadline is above
	}
}

// TestPrimaryApplicationRegisters: the bootstrap registers 0x0A04/0x0A14
// name the controlling application (port, IPv4) to any reader, read 0 when
// nobody controls, are read-only, and clear when the holder's heartbeat
// stops; the GVCP capability register advertises them. Own profile and
// an impersonated camera alike.
func TestPrimaryApplicationRegisters(t *testing.T) {
	t.Run("own", func(t *testing.T) { checkPrimaryApplication(t, nil) })
	// Baumer's TXG08c has no PTP: in this process's namespace the camera
	// must send no PTP multicast.
	file := filepath.Join(testenv.VendorXMLDir(t), "Baumer_TXG08c.xml")
	t.Run("Baumer_TXG08c", func(t *testing.T) {
		x, err := camsim.LoadGenICam(file)
		if err != nil {
			t.Fatal(err)
		}
		checkPrimaryApplication(t, func(c *camsim.Config) { c.GenICam = x })
	})
}

func checkPrimaryApplication(t *testing.T, mod func(*camsim.Config)) {
	addr, _ := startInProcess(t, mod)
	a, b := newGVCPClient(t, addr), newGVCPClient(t, addr)

	if c := b.mustRead(regGVCPCapability); c&capPrimaryAppRegs == 0 {
		t.Errorf("GVCP capability 0x%08x lacks the primary application registers bit (CAP)", c)
	}
	if p, ip := b.mustRead(regPrimaryPort), b.mustRead(regPrimaryIP); p != 0 || ip != 0 {
		t.Fatalf("free camera: primary port %d ip %08x, want 0 0", p, ip)
	}
	a.mustWrite(regCCP, 2)
	a.mustWrite(regHeartbeat, 500)
	holder := a.localAddr()
	if p, ip := b.mustRead(regPrimaryPort), b.mustRead(regPrimaryIP); p != uint32(holder.Port()) || ip != ip4(holder.Addr()) {
		t.Errorf("read by another client: primary port %d ip %08x, want %d %08x (%v)", p, ip, holder.Port(), ip4(holder.Addr()), holder)
	}
	if st := b.writeReg(0x10000, 320); st != camsim.StatusAccessDenied {
		t.Errorf("write by another client: %v, want ACCESS_DENIED", st)
	}
	if st := a.writeReg(regPrimaryPort, 1234); st != camsim.StatusWriteProtect {
		t.Errorf("holder writing 0x0A04: %v, want WRITE_PROTECT", st)
	}
	a.mustWrite(regCCP, 0)
	if p := b.mustRead(regPrimaryPort); p != 0 {
		t.Errorf("after release: primary port %d, want 0", p)
	}
	a.mustWrite(regCCP, 2)
	if p := b.mustRead(regPrimaryPort); p != uint32(holder.Port()) {
		t.Fatalf("retaken: primary port %d, want %d", p, holder.Port())
	}
	waitFreed(t, b, 10*time.Second) // a sends nothing more: its 500 ms heartbeat ends
	if st := b.writeReg(regCCP, 2); st != camsim.StatusSuccess {
		t.Errorf("taking control once freed: %v", st)
	}
	if p := a.mustRead(regPrimaryPort); p != uint32(b.localAddr().Port()) {
		t.Errorf("new holder's port %d, want %d", p, b.localAddr().Port())
	}
}

// newNetnsGVCPClient is a gvcpClient in ns talking to the camera at addr.
func newNetnsGVCPClient(t *testing.T, ns *rig.Netns, addr string) *gvcpClient {
	t.Helper()
	conn := dialNetnsUDP(t, ns, net.JoinHostPort(addr, "3956"))
	dst := netip.AddrPortFrom(netip.MustParseAddr(addr), 3956)
	return &gvcpClient{t: t, conn: conn.(*net.UDPConn), dst: dst, id: 1, connected: true}
}

var arvRegister = regexp.MustCompile(`R\[0x0*a(04|14)\] = 0x([0-9a-fA-F]+)`)

// arvRegisters reads 0x0A04 and 0x0A14 with arv-tool-0.8.
func arvRegisters(t *testing.T, ns *rig.Netns, addr string) (port, ip uint32, out string) {
	t.Helper()
	out = arv(t, ns, "-a", addr, "control", "R[0x0A04]", "R[0x0A14]")
	got := map[string]uint32{}
	for _, m := range arvRegister.FindAllStringSubmatch(out, -1) {
		v, err := strconv.ParseUint(m[2], 16, 32)
		if err != nil {
			t.Fatalf("arv-tool register value %q: %v", m[0], err)
		}
		got[strings.ToLower(m[1])] = uint32(v)
	}
	if len(got) != 2 {
		t.Fatalf("arv-tool-0.8 control R[0x0A04] R[0x0A14]: no register values in\n%s", out)
	}
	return got["04"], got["14"], out
}

// TestPrimaryApplicationAravis: on a rig of a camsim camera and one
// impersonating Baumer's TXG08c (whose XML maps GevPrimaryApplicationSocket
// and GevPrimaryApplicationIPAddress onto 0x0A04/0x0A14), while one client
// in the rig's host namespace holds the control privilege, Aravis'
// arv-tool-0.8 reads the camera by monitor access — a feature, the primary
// application registers and features, which name the holder — and another
// client's write is refused; once the holder's heartbeat stops, control is
// freed, the registers read 0, and arv-tool can take control and write.
func TestPrimaryApplicationAravis(t *testing.T) {
	testenv.RequireTool(t, "arv-tool-0.8")
	baumer := filepath.Join(testenv.VendorXMLDir(t), "Baumer_TXG08c.xml")
	cams := rig.DefaultCameras(1, 0)
	cams = append(cams, rig.Camera{Serial: "BAUMER01", Profile: "sfnc", GenICam: baumer, Args: []string{"--genicam=" + baumer}})
	r := testenv.UpRig(t, rig.Config{Cameras: cams, NoPTP4L: true})
	for _, cam := range r.Cameras {
		t.Run(cam.Serial, func(t *testing.T) { checkMonitorAccess(t, r.Host(), cam) })
	}
}

func checkMonitorAccess(t *testing.T, host *rig.Netns, cam rig.Camera) {
	holder, other := newNetnsGVCPClient(t, host, cam.Address), newNetnsGVCPClient(t, host, cam.Address)
	holder.mustWrite(regCCP, 2)
	holder.mustWrite(regHeartbeat, 30000) // long enough for arv-tool runs on a slow machine
	hp := holder.localAddr()

	f := features(t, host, cam.Address, "DeviceModelName", "GevPrimaryApplicationSocket", "GevPrimaryApplicationIPAddress")
	if f["DeviceModelName"] == "" || f["DeviceModelName"] == "<not found>" {
		t.Errorf("arv-tool-0.8 reading DeviceModelName under another's control: %v", f)
	}
	sock, err1 := strconv.ParseUint(f["GevPrimaryApplicationSocket"], 0, 32)
	ip, err2 := strconv.ParseUint(f["GevPrimaryApplicationIPAddress"], 0, 32)
	if err1 != nil || err2 != nil || sock != uint64(hp.Port()) || uint32(ip) != ip4(hp.Addr()) {
		t.Errorf("arv-tool-0.8 reads GevPrimaryApplicationSocket %q GevPrimaryApplicationIPAddress %q, want the holder's %v (%d, %d)",
			f["GevPrimaryApplicationSocket"], f["GevPrimaryApplicationIPAddress"], hp, hp.Port(), ip4(hp.Addr()))
	}
	port, rip, out := arvRegisters(t, host, cam.Address)
	if port != uint32(hp.Port()) || rip != ip4(hp.Addr()) {
		t.Errorf("arv-tool-0.8 reads primary port %d ip %08x, want the holder's %v:\n%s", port, rip, hp, out)
	}
	if st := other.writeReg(0x10000, 320); st != camsim.StatusAccessDenied {
		t.Errorf("another client's write under control: %v, want ACCESS_DENIED", st)
	}
	if s, err := camsim.DialControl(cam.Control).State(context.Background()); err != nil || s.Controller != hp.String() {
		t.Errorf("camsim state controller %q (%v), want %v", s.Controller, err, hp)
	}

	holder.mustWrite(regHeartbeat, 500) // then silence: the privilege expires
	waitFreed(t, other, 15*time.Second)
	features(t, host, cam.Address, "Width=320")
	if w := features(t, host, cam.Address, "Width")["Width"]; w != "320" {
		t.Errorf("Width after arv-tool took the freed camera and wrote 320: %q", w)
	}
}

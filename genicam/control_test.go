package genicam

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseProcAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"0100007F:0277", "127.0.0.1:631", true},
		{"0A01D60A:C822", "10.214.1.10:51234", true},
		{"00000000:0F3C", "0.0.0.0:3900", true},
		{"00000000000000000000000001000000:0035", "[::1]:53", true},
		{"0000000000000000FFFF00000100007F:0277", "[::ffff:127.0.0.1]:631", true},
		{"0100007F", "", false}, {"zz00007F:0277", "", false}, {"0100007F:1FFFF", "", false}, {"01007F:0277", "", false},
	} {
		got, ok := parseProcAddr(tc.in)
		if ok != tc.ok || (ok && got.String() != tc.want) {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestUDPOwner finds this test process as the owner of a socket it binds,
// on its address and through a wildcard bind, and nobody on a free port.
func TestUDPOwner(t *testing.T) {
	if _, err := os.Stat("/proc/net/udp"); err != nil {
		t.Fatalf("/proc/net/udp: %v", err) // Linux only, as the product
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, bind := range []string{"127.0.0.1:0", "0.0.0.0:0", "[::1]:0"} {
		conn, err := net.ListenPacket("udp", bind)
		if err != nil {
			t.Fatalf("listen %s: %v", bind, err)
		}
		port := uint16(conn.LocalAddr().(*net.UDPAddr).Port)
		ip := netip.MustParseAddr("127.0.0.1")
		if strings.HasPrefix(bind, "[") {
			ip = netip.IPv6Loopback()
		}
		pid, name, ok := udpOwner(netip.AddrPortFrom(ip, port))
		if !ok || pid != os.Getpid() || name != filepath.Base(exe) {
			t.Errorf("bound %s (port %d): owner %d %q %v; want %d %q", bind, port, pid, name, ok, os.Getpid(), filepath.Base(exe))
		}
		var oc ownerCache
		ctl := describeHolder(Controller{Addr: netip.AddrPortFrom(ip, port)}, &oc)
		want := fmt.Sprintf("%s (this host: %s pid %d)", netip.AddrPortFrom(ip, port), filepath.Base(exe), os.Getpid())
		if !ctl.ThisHost || ctl.PID != os.Getpid() || ctl.String() != want {
			t.Errorf("describeHolder: %+v %q; want %q", ctl, ctl.String(), want)
		}
		if pid, _, ok := oc.lookup(netip.AddrPortFrom(ip, port)); !ok || pid != os.Getpid() || !oc.valid {
			t.Errorf("bound %s, asked again: owner %d %v (cached %v)", bind, pid, ok, oc.valid)
		}
		conn.Close()
		for _, lookup := range []func(netip.AddrPort) (int, string, bool){udpOwner, oc.lookup} {
			if pid, _, ok := lookup(netip.AddrPortFrom(ip, port)); ok {
				t.Errorf("closed %s: still owned by pid %d", bind, pid)
			}
		}
	}
}

func TestHeldError(t *testing.T) {
	t.Parallel()
	denied := &AravisError{Domain: "arv-device-error-quark", Code: 17, Message: "GigEVision write_memory error (access-denied)"}
	for _, tc := range []struct {
		err  *HeldError
		want string
	}{
		{&HeldError{Serial: "05520125", Holder: Controller{Addr: netip.MustParseAddrPort("10.0.0.1:51234"), ThisHost: true,
			Process: "ptpcam_exporter (pid 1234)", PID: 1234}},
			"camera 05520125 is controlled by another application at 10.0.0.1:51234 (this host: ptpcam_exporter pid 1234)"},
		{&HeldError{Serial: "05520125", Holder: Controller{Addr: netip.MustParseAddrPort("10.0.0.9:3956")}, Op: "feature PtpEnable", Err: denied},
			"camera 05520125 is controlled by another application at 10.0.0.9:3956: feature PtpEnable refused"},
		{&HeldError{Serial: "A", Holder: Controller{Addr: netip.MustParseAddrPort("10.0.0.2:1"), ThisHost: true}},
			"camera A is controlled by another application at 10.0.0.2:1 (this host)"},
		{&HeldError{Serial: "A"}, "camera A is controlled by another application at unknown address"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q\nwant      %q", got, tc.want)
		}
		wrapped := fmt.Errorf("preflight: %w", tc.err)
		var he *HeldError
		if !errors.As(wrapped, &he) || he != tc.err || !errors.Is(wrapped, ErrHeld) {
			t.Errorf("errors.As/Is through a wrap: %v", wrapped)
		}
		if tc.err.Err != nil && !errors.Is(wrapped, denied) {
			t.Errorf("Aravis' error not unwrapped: %v", wrapped)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	if c := newOpenConfig(nil); c.monitor || c.controlWait != DefaultControlWait {
		t.Errorf("default: %+v", c)
	}
	if c := newOpenConfig([]OpenOption{Monitor(), ControlWait(-1)}); !c.monitor || c.controlWait != 0 {
		t.Errorf("Monitor, ControlWait(-1): %+v", c)
	}
}

// BenchmarkUDPOwner is the /proc lookup of a holder on this host (a socket
// of this process) asked again, as the exporter does each sample, against a
// first lookup, which scans every process, as the baseline.
func BenchmarkUDPOwner(b *testing.B) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(conn.LocalAddr().(*net.UDPAddr).Port))
	start := time.Now()
	const n = 20
	for range n {
		if pid, _, ok := udpOwner(addr); !ok || pid != os.Getpid() {
			b.Fatalf("owner %d %v", pid, ok)
		}
	}
	first := time.Since(start) / n
	var oc ownerCache
	b.ResetTimer()
	for b.Loop() {
		if pid, _, ok := oc.lookup(addr); !ok || pid != os.Getpid() {
			b.Fatalf("owner %d %v", pid, ok)
		}
	}
	b.ReportMetric(float64(first.Microseconds()), "first_µs")
	b.ReportMetric(float64(first)*float64(b.N)/float64(b.Elapsed()), "first/again")
	procs, _ := filepath.Glob("/proc/[0-9]*")
	b.ReportMetric(float64(len(procs)), "processes")
}

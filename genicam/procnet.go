package genicam

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// udpOwner finds the local process whose UDP socket is bound to addr (or to
// the wildcard address on addr's port), the way ss -p does: the socket's
// inode from /proc/net/udp{,6} (this network namespace's), then the process
// holding an fd on "socket:[inode]". Processes of other users are visible to
// root only; ok is false when none is found.
func udpOwner(addr netip.AddrPort) (pid int, name string, ok bool) {
	var oc ownerCache
	return oc.lookup(addr)
}

// ownerCache remembers the last owner found, so that asking again about the
// same socket (the exporter each sample while another application holds a
// camera) reads the UDP tables and one process's fds, not every process's
// (BenchmarkUDPOwner: 20 times faster among 100 processes).
type ownerCache struct {
	mu    sync.Mutex
	sock  string // "socket:[inode]"
	pid   int
	name  string
	valid bool
}

func (oc *ownerCache) lookup(addr netip.AddrPort) (pid int, name string, ok bool) {
	var inodes []string
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		inodes = append(inodes, udpInodes(f, addr)...)
	}
	if len(inodes) == 0 {
		return 0, "", false
	}
	want := make(map[string]bool, len(inodes))
	for _, in := range inodes {
		want["socket:["+in+"]"] = true
	}
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.valid && want[oc.sock] && fdOwns("/proc/"+strconv.Itoa(oc.pid), map[string]bool{oc.sock: true}) {
		return oc.pid, oc.name, true
	}
	oc.valid = false
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if sock, found := fdOwnsWhich(p, want); found {
			pid, _ := strconv.Atoi(filepath.Base(p))
			oc.sock, oc.pid, oc.name, oc.valid = sock, pid, processName(pid), true
			return oc.pid, oc.name, true
		}
	}
	return 0, "", false
}

// fdOwns reports whether the process directory p has an fd on one of want.
func fdOwns(p string, want map[string]bool) bool {
	_, ok := fdOwnsWhich(p, want)
	return ok
}

// fdOwnsWhich is fdOwns that also says which of want.
func fdOwnsWhich(p string, want map[string]bool) (string, bool) {
	fds, err := os.ReadDir(filepath.Join(p, "fd"))
	if err != nil {
		return "", false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(p, "fd", fd.Name())); err == nil && want[l] {
			return l, true
		}
	}
	return "", false
}

// udpInodes lists the inodes of the sockets in a /proc/net/udp{,6} table
// whose local address is addr, or the wildcard address on addr's port.
func udpInodes(file string, addr netip.AddrPort) []string {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		local, ok := parseProcAddr(fields[1])
		if !ok || local.Port() != addr.Port() {
			continue
		}
		if l := local.Addr().Unmap(); l == addr.Addr().Unmap() || l.IsUnspecified() {
			out = append(out, fields[9])
		}
	}
	return out
}

// parseProcAddr parses a /proc/net/udp{,6} address, "0100007F:0277": the
// address as 32-bit words in host byte order (little endian here), in hex,
// then the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a, uint16(port)), true
}

// processName is the program a process runs: the base name of its argv[0],
// or its comm.
func processName(pid int) string {
	dir := "/proc/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(dir + "/cmdline"); err == nil && len(b) > 0 {
		if argv0, _, _ := bytes.Cut(b, []byte{0}); len(argv0) > 0 {
			return filepath.Base(string(argv0))
		}
	}
	if b, err := os.ReadFile(dir + "/comm"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "pid " + strconv.Itoa(pid)
}

package rig

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpSegmentationFeature is ethtool's name of NETIF_F_GSO_UDP_L4.
const udpSegmentationFeature = "tx-udp-segmentation"

// From linux/ethtool.h.
const (
	ethSSFeatures = 4  // ETH_SS_FEATURES
	ethGstringLen = 32 // ETH_GSTRING_LEN
)

// SegmentUDPInSoftware turns off UDP segmentation offload
// (`ethtool -K ifc tx-udp-segmentation off`, done here with the SIOCETHTOOL
// ioctl) on interface ifc of namespace ns, so that the kernel cuts a UDP GSO
// datagram (camsim's UDP_SEGMENT batches) into its packets when it leaves
// ifc, as a real camera's NIC puts single packets on the wire. With the
// offload on, a veth hands the 64 KiB super-packet on whole, and a packet
// socket behind it (Aravis' receive path as root) sees one datagram instead
// of 44 GVSP packets. It fails unless the feature is off afterwards.
func SegmentUDPInSoftware(ns *Netns, ifc string) error {
	fd, err := nsSocket(ns)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", ns.Name, ifc, err)
	}
	defer unix.Close(fd)
	if err := setFeature(fd, ifc, udpSegmentationFeature, false); err != nil {
		return fmt.Errorf("%s: %s: %w", ns.Name, ifc, err)
	}
	return nil
}

// nsSocket opens an AF_INET socket in ns, whose ioctls name ns's
// interfaces. The thread enters ns for the socket() call and goes back to
// its own namespace; one that cannot stays locked and ends with its
// goroutine (a thread left in ns would be one of ns's processes, which
// Close kills).
func nsSocket(ns *Netns) (int, error) {
	path := filepath.Join("/var/run/netns", ns.Name)
	if ns.PID != 0 {
		path = filepath.Join("/proc", strconv.Itoa(ns.PID), "ns", "net")
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, back, err := socketIn(path)
		if back {
			runtime.UnlockOSThread()
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// socketIn opens the socket in the namespace at path on the calling
// (locked) thread, and says whether the thread is back in its own.
func socketIn(path string) (fd int, back bool, err error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return -1, true, err
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return -1, true, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return -1, true, fmt.Errorf("setns %s: %w", path, err)
	}
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if e := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); e != nil {
		return fd, false, err
	}
	return fd, true, err
}

// ethtool runs SIOCETHTOOL on ifc with the command buffer data.
func ethtool(fd int, ifc string, data []byte) error {
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte
	}
	if len(ifc) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q longer than %d bytes", ifc, unix.IFNAMSIZ-1)
	}
	copy(ifr.name[:], ifc)
	ifr.data = unsafe.Pointer(&data[0])
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(data)
	if e != 0 {
		return fmt.Errorf("SIOCETHTOOL %#x: %w", binary.NativeEndian.Uint32(data), e)
	}
	return nil
}

// featureIndex is the bit of feature name in ETH_SS_FEATURES, and the
// number of features.
func featureIndex(fd int, ifc, name string) (int, int, error) {
	ne := binary.NativeEndian
	info := make([]byte, 20) // ethtool_sset_info with one data word
	ne.PutUint32(info, unix.ETHTOOL_GSSET_INFO)
	ne.PutUint64(info[8:], 1<<ethSSFeatures)
	if err := ethtool(fd, ifc, info); err != nil {
		return 0, 0, err
	}
	n := int(ne.Uint32(info[16:]))
	strs := make([]byte, 12+n*ethGstringLen) // ethtool_gstrings
	ne.PutUint32(strs, unix.ETHTOOL_GSTRINGS)
	ne.PutUint32(strs[4:], ethSSFeatures)
	ne.PutUint32(strs[8:], uint32(n))
	if err := ethtool(fd, ifc, strs); err != nil {
		return 0, 0, err
	}
	for i := range n {
		s := strs[12+i*ethGstringLen:][:ethGstringLen]
		if string(s[:max(bytes.IndexByte(s, 0), 0)]) == name {
			return i, n, nil
		}
	}
	return 0, 0, fmt.Errorf("no feature %q", name)
}

// setFeature sets feature name of ifc on or off (ETHTOOL_SFEATURES) and
// checks with ETHTOOL_GFEATURES that it is active as asked.
func setFeature(fd int, ifc, name string, on bool) error {
	ne := binary.NativeEndian
	i, n, err := featureIndex(fd, ifc, name)
	if err != nil {
		return err
	}
	words := (n + 31) / 32
	word, bit := i/32, uint32(1)<<(i%32)
	set := make([]byte, 8+words*8) // ethtool_sfeatures: valid, requested per word
	ne.PutUint32(set, unix.ETHTOOL_SFEATURES)
	ne.PutUint32(set[4:], uint32(words))
	ne.PutUint32(set[8+word*8:], bit)
	if on {
		ne.PutUint32(set[12+word*8:], bit)
	}
	if err := ethtool(fd, ifc, set); err != nil {
		return fmt.Errorf("%s %v: %w", name, on, err)
	}
	get := make([]byte, 8+words*16) // ethtool_gfeatures: available, requested, active, never_changed
	ne.PutUint32(get, unix.ETHTOOL_GFEATURES)
	ne.PutUint32(get[4:], uint32(words))
	if err := ethtool(fd, ifc, get); err != nil {
		return err
	}
	if active := ne.Uint32(get[8+word*16+8:])&bit != 0; active != on {
		return fmt.Errorf("%s: asked %v, still %v", name, on, active)
	}
	return nil
}

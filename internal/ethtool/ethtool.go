// Package ethtool reads and sets a network interface's features (what
// `ethtool -k` and `ethtool -K` show and change) with the SIOCETHTOOL ioctl
// on an AF_INET socket, whose network namespace names the interfaces: camsim
// reads tx-udp-segmentation to choose its GVSP send path, rig turns it off on
// the camera veths.
package ethtool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPSegmentation is ethtool's name of NETIF_F_GSO_UDP_L4, UDP segmentation
// offload.
const UDPSegmentation = "tx-udp-segmentation"

// From linux/ethtool.h.
const (
	ssFeatures = 4  // ETH_SS_FEATURES
	gstringLen = 32 // ETH_GSTRING_LEN
)

// Socket opens an AF_INET socket for the ioctls, in the calling thread's
// network namespace.
func Socket() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
}

// Active says whether feature name of interface ifc is on, in the calling
// thread's network namespace.
func Active(ifc, name string) (bool, error) {
	fd, err := Socket()
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	return Feature(fd, ifc, name)
}

// Feature says whether feature name of ifc is active (ETHTOOL_GFEATURES), on
// socket fd (Socket).
func Feature(fd int, ifc, name string) (bool, error) {
	i, n, err := featureIndex(fd, ifc, name)
	if err != nil {
		return false, err
	}
	active, err := activeWord(fd, ifc, n, i/32)
	if err != nil {
		return false, err
	}
	return active&(1<<(i%32)) != 0, nil
}

// SetFeature turns feature name of ifc on or off (ETHTOOL_SFEATURES) on
// socket fd, and checks with ETHTOOL_GFEATURES that it is active as asked
// (a fixed feature stays as it is).
func SetFeature(fd int, ifc, name string, on bool) error {
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
	if err := Ioctl(fd, ifc, set); err != nil {
		return fmt.Errorf("%s %s %v: %w", ifc, name, on, err)
	}
	active, err := activeWord(fd, ifc, n, word)
	if err != nil {
		return err
	}
	if got := active&bit != 0; got != on {
		return fmt.Errorf("%s: %s: asked %v, still %v", ifc, name, on, got)
	}
	return nil
}

// activeWord is word w of ifc's active features (n features in all).
func activeWord(fd int, ifc string, n, w int) (uint32, error) {
	ne := binary.NativeEndian
	words := (n + 31) / 32
	get := make([]byte, 8+words*16) // ethtool_gfeatures: available, requested, active, never_changed
	ne.PutUint32(get, unix.ETHTOOL_GFEATURES)
	ne.PutUint32(get[4:], uint32(words))
	if err := Ioctl(fd, ifc, get); err != nil {
		return 0, err
	}
	return ne.Uint32(get[8+w*16+8:]), nil
}

// featureIndex is the bit of feature name in ETH_SS_FEATURES, and the
// number of features.
func featureIndex(fd int, ifc, name string) (int, int, error) {
	ne := binary.NativeEndian
	info := make([]byte, 20) // ethtool_sset_info with one data word
	ne.PutUint32(info, unix.ETHTOOL_GSSET_INFO)
	ne.PutUint64(info[8:], 1<<ssFeatures)
	if err := Ioctl(fd, ifc, info); err != nil {
		return 0, 0, err
	}
	n := int(ne.Uint32(info[16:]))
	strs := make([]byte, 12+n*gstringLen) // ethtool_gstrings
	ne.PutUint32(strs, unix.ETHTOOL_GSTRINGS)
	ne.PutUint32(strs[4:], ssFeatures)
	ne.PutUint32(strs[8:], uint32(n))
	if err := Ioctl(fd, ifc, strs); err != nil {
		return 0, 0, err
	}
	for i := range n {
		s := strs[12+i*gstringLen:][:gstringLen]
		if string(bytes.TrimRight(s, "\x00")) == name {
			return i, n, nil
		}
	}
	return 0, 0, fmt.Errorf("%s: no feature %q", ifc, name)
}

// Ioctl runs SIOCETHTOOL on ifc with the command buffer data (its first
// word is the ETHTOOL_* command).
func Ioctl(fd int, ifc string, data []byte) error {
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte
	}
	if len(ifc) == 0 || len(ifc) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q: want 1 to %d bytes", ifc, unix.IFNAMSIZ-1)
	}
	if len(data) < 4 {
		return fmt.Errorf("%s: SIOCETHTOOL buffer of %d bytes, want at least the 4 of its command", ifc, len(data))
	}
	copy(ifr.name[:], ifc)
	ifr.data = unsafe.Pointer(&data[0])
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(data)
	if e != 0 {
		return fmt.Errorf("%s: SIOCETHTOOL %#x: %w", ifc, binary.NativeEndian.Uint32(data), e)
	}
	return nil
}

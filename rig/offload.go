package rig

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ptpcam/ptpcam/internal/ethtool"
)

// SegmentUDPInSoftware turns off UDP segmentation offload
// (`ethtool -K ifc tx-udp-segmentation off`, done here with the SIOCETHTOOL
// ioctl: internal/ethtool) on interface ifc of namespace ns, so that the
// kernel cuts a UDP GSO datagram (camsim's UDP_SEGMENT batches) into its
// packets when it leaves ifc, as a real camera's NIC puts single packets on
// the wire. With the
// offload on, a veth hands the 64 KiB super-packet on whole, and a packet
// socket behind it (Aravis' receive path as root) sees one datagram instead
// of 44 GVSP packets. It fails unless the feature is off afterwards.
func SegmentUDPInSoftware(ns *Netns, ifc string) error {
	fd, err := nsSocket(ns)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", ns.Name, ifc, err)
	}
	defer unix.Close(fd)
	if err := ethtool.SetFeature(fd, ifc, ethtool.UDPSegmentation, false); err != nil {
		return fmt.Errorf("%s: %w", ns.Name, err)
	}
	return nil
}

// UDPSegmentation says whether UDP segmentation offload is on for interface
// ifc of namespace ns.
func UDPSegmentation(ns *Netns, ifc string) (bool, error) {
	fd, err := nsSocket(ns)
	if err != nil {
		return false, fmt.Errorf("%s: %s: %w", ns.Name, ifc, err)
	}
	defer unix.Close(fd)
	on, err := ethtool.Feature(fd, ifc, ethtool.UDPSegmentation)
	if err != nil {
		return false, fmt.Errorf("%s: %w", ns.Name, err)
	}
	return on, nil
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

package camsim

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// A camera answers GVCP in firmware within microseconds. A goroutine reading
// a UDP socket does not: whether it waits in the netpoller or in a blocking
// read(2), coming back to Go code hands its P back and forth and wakes other
// runtime threads (sysmon, a spinning M). Where waking an idle CPU is dear,
// as on a VM that halts idle vCPUs without polling, that is most of the time.
// Measured on the project's 2-vCPU CI machine (Firecracker, halt polling off),
// with a C client sending a datagram every 100 µs: a C echo server answers in
// 6 µs, a Go one in 50 µs (p50), and this loop in 7 µs. It was most of
// genicam's latch bracket (BenchmarkLatch8: p50 35 µs before, 8 µs after).
//
// So the camera's own-address GVCP socket is served by one goroutine that
// blocks in recvfrom(2) through syscall.RawSyscall6: the thread keeps its P
// while it waits and wakes no other thread to answer. Holding a P has two
// costs, both bounded: cmd/camsim adds that P to GOMAXPROCS (ResponderProcs),
// so the rest of the process keeps its share — camsim.Run does not change
// the process-wide setting —; and a stop-the-world or
// a preemption request waits until the goroutine is back in Go code: the
// runtime's signal (SIGURG) ends the wait in recvfrom(2), and the socket's
// receive timeout (rawRecvTimeout) bounds it when the signal came just before.
// The goroutine is not locked to its thread: a locked one costs two thread
// hand-overs at each preemption, which sysmon asks for every 10 ms.

// rawRecvTimeout bounds how long the responder stays in one
// recvfrom(2) when a preemption signal came just before it blocked, and so
// how long a GC stop-the-world may wait for it at worst.
const rawRecvTimeout = 20 * time.Millisecond

// rawSocket is a blocking IPv4 UDP socket driven by raw system calls.
type rawSocket struct{ fd int }

func openRawSocket(ap netip.AddrPort) (*rawSocket, error) {
	if !ap.Addr().Is4() {
		return nil, fmt.Errorf("listen %v: not an IPv4 address", ap)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("listen %v: %w", ap, err)
	}
	tv := syscall.NsecToTimeval(rawRecvTimeout.Nanoseconds())
	for _, o := range []struct {
		name string
		set  func() error
	}{
		{"SO_REUSEADDR", func() error { return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1) }},
		{"SO_BROADCAST", func() error { return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1) }},
		{"SO_RCVTIMEO", func() error { return syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv) }},
	} {
		if err := o.set(); err != nil {
			syscall.Close(fd)
			return nil, fmt.Errorf("listen %v: %s: %w", ap, o.name, err)
		}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("listen %v: %w", ap, err)
	}
	return &rawSocket{fd: fd}, nil
}

// sockaddrIn is struct sockaddr_in.
type sockaddrIn struct {
	family uint16
	port   [2]byte // network order
	addr   [4]byte
	_      [8]byte
}

func (s *rawSocket) recv(buf []byte) (int, netip.AddrPort, syscall.Errno) {
	var sa sockaddrIn
	salen := uint32(unsafe.Sizeof(sa))
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(s.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
		0, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
	if e != 0 {
		return 0, netip.AddrPort{}, e
	}
	return int(n), netip.AddrPortFrom(netip.AddrFrom4(sa.addr), uint16(sa.port[0])<<8|uint16(sa.port[1])), 0
}

// send never blocks (MSG_DONTWAIT): a full send buffer drops the answer, as
// a camera's would, and the controller retries.
func (s *rawSocket) send(b []byte, dst netip.AddrPort) error {
	if !dst.Addr().Is4() {
		return fmt.Errorf("send to %v: not an IPv4 address", dst)
	}
	sa := sockaddrIn{family: syscall.AF_INET, port: [2]byte{byte(dst.Port() >> 8), byte(dst.Port())}, addr: dst.Addr().As4()}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(s.fd), uintptr(p), uintptr(len(b)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	runtime.KeepAlive(b)
	if e != 0 {
		return fmt.Errorf("send to %v: %w", dst, e)
	}
	return nil
}

// closeUnserved closes a socket serve was never called on; serve closes its
// socket when it returns.
func (s *rawSocket) closeUnserved() { syscall.Close(s.fd) }

// ResponderProcs is the number of Ps one camera's GVCP responder holds
// while it waits in recvfrom(2): a program running cameras adds it to
// GOMAXPROCS per camera, as cmd/camsim does, so that the rest of it keeps
// its share. Run itself leaves the process-wide GOMAXPROCS alone.
const ResponderProcs = 1

// serve calls answer for every datagram on the socket until ctx ends, then
// closes the socket. It holds a P of its own while it waits (see
// ResponderProcs).
func (s *rawSocket) serve(ctx context.Context, answer func(pkt []byte, src netip.AddrPort)) error {
	defer syscall.Close(s.fd)
	buf := make([]byte, 2048)
	for {
		if ctx.Err() != nil {
			return nil
		}
		n, src, e := s.recv(buf)
		switch {
		case e == 0:
			answer(buf[:n], src)
		case errors.Is(e, syscall.EAGAIN), errors.Is(e, syscall.EINTR):
			// The receive timeout, or a signal: the runtime's preemption
			// and stop-the-world requests arrive as SIGURG, which ends
			// recvfrom(2) on a socket with SO_RCVTIMEO, and the loop's
			// next call yields.
		default:
			return fmt.Errorf("gvcp: recvfrom: %w", e)
		}
	}
}

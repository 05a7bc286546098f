package camsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gvspSend selects the GVSP send path when camsim is built: "gso" (UDP GSO,
// falling back to one packet per syscall where the kernel refuses it) or
// "per-packet" (one sendto per packet, the path before GSO and the
// benchmarks' baseline), set with
// -ldflags "-X github.com/ptpcam/ptpcam/camsim.gvspSend=per-packet".
var gvspSend = sendGSO

const (
	sendGSO       = "gso"
	sendPerPacket = "per-packet"
)

func init() {
	if gvspSend != sendGSO && gvspSend != sendPerPacket {
		panic(fmt.Sprintf("camsim: gvspSend %q (set at build time with -X), want %q or %q", gvspSend, sendGSO, sendPerPacket))
	}
}

const (
	// gsoMaxBytes is the UDP payload of one datagram, which a GSO send
	// shares among its segments (65535 less the IPv4 and UDP headers).
	gsoMaxBytes = 65535 - ipUDPOverhead
	// gsoMaxSegments is UDP_MAX_SEGMENTS of the oldest kernels with GSO.
	gsoMaxSegments = 64
	// perPacketBurst is how many packets go back to back between two
	// pacing sleeps on the per-packet path, and at most with SCPD set.
	perPacketBurst = 16
	// scpdBurst bounds a burst's length in SCPD time: a delay of 10 µs
	// allows bursts of 10 packets, one of 100 µs or more single packets.
	scpdBurst = 100 * time.Microsecond
	// gsoMinSleep: the GSO path sleeps only when at least this far ahead of
	// its schedule. Go's timers sleep ≥ 1.1 ms on our machines however
	// short the request, so shorter sleeps only add context switches (the
	// per-packet path keeps its 50 µs, as before).
	gsoMinSleep       = time.Millisecond
	perPacketMinSleep = 50 * time.Microsecond
)

// maxBurst is the number of packets sent back to back (one GSO send)
// between two pacing points.
func maxBurst(p streamParams, perPacket bool) int {
	n := perPacketBurst
	if !perPacket {
		n = min(gsoMaxSegments, gsoMaxBytes/(dataPerPacket(p.packetSize)+gvspHeader))
	}
	if p.delay > 0 {
		n = min(n, perPacketBurst, int(scpdBurst/p.delay))
	}
	return max(n, 1)
}

// pacer spreads a frame's packets over 60% of its period, or one SCPD
// delay apart on average when that is longer: the k-th packet does not leave
// before start + k·max(period·0.6/packets, SCPD). A late wake-up is caught up
// in bursts of at most maxBurst packets.
type pacer struct {
	start time.Time
	per   time.Duration
	least time.Duration // shortest sleep worth taking
	burst int
}

func newPacer(p streamParams, total int, perPacket bool) pacer {
	pc := pacer{start: time.Now(), per: max(p.period*6/10/time.Duration(total), p.delay),
		least: gsoMinSleep, burst: maxBurst(p, perPacket)}
	if perPacket {
		pc.least = perPacketMinSleep
	}
	if p.delay > 0 {
		pc.least = 0
	}
	return pc
}

// due says whether the first sent packets of the frame end a burst.
func (pc *pacer) due(sent int) bool { return sent%pc.burst == 0 }

// wait sleeps until the next burst may start.
func (pc *pacer) wait(sent int) {
	if ahead := time.Until(pc.start.Add(pc.per * time.Duration(sent))); ahead > pc.least {
		time.Sleep(ahead)
	}
}

// batcher collects consecutive packets of one frame back to back in one
// buffer and hands them to the kernel in one sendmsg with a UDP_SEGMENT
// control message: the kernel (or the NIC) cuts it into datagrams of the
// first packet's length, the last one may be shorter. A packet longer than
// the first, or any after a shorter one, starts the next batch.
type batcher struct {
	s      *streamer
	f      *frame
	np     uint32
	single bool   // one packet per syscall
	buf    []byte // the packets
	seg    int    // length of the first packet in buf
	n      int    // packets in buf
	short  bool   // the last packet in buf is shorter than seg
	oob    []byte // the UDP_SEGMENT control message

	// The sendmsg of a GSO send, made with RawSyscall inside rc.Write: a
	// send of 64 segments runs long enough that with Syscall the runtime
	// would hand the P to another thread each time, which costs more
	// context switches than the send. The socket is non-blocking, and
	// EAGAIN waits in the netpoller.
	rc    syscall.RawConn
	msg   unix.Msghdr
	iov   unix.Iovec
	sa    unix.RawSockaddrInet4
	write func(fd uintptr) bool
	errno syscall.Errno
}

func newBatcher(s *streamer) *batcher {
	b := &batcher{s: s, oob: make([]byte, unix.CmsgSpace(2)), buf: make([]byte, 0, gsoMaxBytes+9000)}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b.oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	if s.conn != nil {
		b.rc, _ = s.conn.SyscallConn()
	}
	b.write = func(fd uintptr) bool {
		_, _, b.errno = unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&b.msg)), 0)
		return b.errno != unix.EAGAIN
	}
	return b
}

// sendmsg sends buf with the UDP_SEGMENT control message to an IPv4 dst.
func (b *batcher) sendmsg(dst netip.AddrPort) error {
	if b.rc == nil || !dst.Addr().Is4() {
		_, _, err := b.s.conn.WriteMsgUDPAddrPort(b.buf, b.oob, dst)
		return err
	}
	b.sa.Family = unix.AF_INET
	port := (*[2]byte)(unsafe.Pointer(&b.sa.Port))
	port[0], port[1] = byte(dst.Port()>>8), byte(dst.Port())
	b.sa.Addr = dst.Addr().As4()
	b.iov.Base = &b.buf[0]
	b.iov.SetLen(len(b.buf))
	b.msg.Name = (*byte)(unsafe.Pointer(&b.sa))
	b.msg.Namelen = unix.SizeofSockaddrInet4
	b.msg.Iov = &b.iov
	b.msg.SetIovlen(1)
	b.msg.Control = &b.oob[0]
	b.msg.SetControllen(len(b.oob))
	if err := b.rc.Write(b.write); err != nil {
		return err
	}
	if b.errno != 0 {
		return b.errno
	}
	return nil
}

// start begins the packets of frame f (np payload packets).
func (b *batcher) start(f *frame, np uint32) {
	b.f, b.np, b.single = f, np, b.s.perPacket
	b.buf, b.n, b.short = b.buf[:0], 0, false
}

// add queues packet id, sending what is queued first when id cannot join it.
func (b *batcher) add(id uint32) {
	l := packetLen(b.f, id, b.np)
	if b.n > 0 && (b.short || l > b.seg || len(b.buf)+l > gsoMaxBytes || b.n == gsoMaxSegments) {
		b.flush()
	}
	if b.n == 0 {
		b.seg = l
	}
	b.short = l < b.seg
	b.buf = appendPacket(b.buf, b.f, id, b.np)
	b.n++
	if b.single {
		b.flush()
	}
}

// flush sends the queued packets.
func (b *batcher) flush() {
	if b.n == 0 {
		return
	}
	dst := b.f.p.dst
	if b.n == 1 || b.single || b.s.noGSO.Load() {
		b.sendEach(dst)
	} else {
		b.sendGSO(dst)
	}
	b.buf, b.n, b.short = b.buf[:0], 0, false
}

func (b *batcher) sendGSO(dst netip.AddrPort) {
	binary.NativeEndian.PutUint16(b.oob[unix.CmsgLen(0):], uint16(b.seg))
	err := b.sendmsg(dst)
	if err == nil {
		b.s.gsoSends.Add(1)
		b.s.packetsSent.Add(uint64(b.n))
		return
	}
	// EIO: the route's device cannot checksum for GSO; EINVAL: a kernel
	// without UDP_SEGMENT, or segments longer than the MTU (which one
	// packet per syscall may still send, in IP fragments).
	if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOPROTOOPT) ||
		errors.Is(err, syscall.EMSGSIZE) {
		if b.s.noGSO.CompareAndSwap(false, true) {
			b.s.log.Warn("gvsp: UDP GSO refused, sending one packet per syscall from now on",
				"err", err, "segment_bytes", b.seg, "segments", b.n, "destination", dst)
		}
		b.sendEach(dst)
		return
	}
	b.s.sendFailed(err, b.n)
}

// sendEach sends the queued packets one per syscall.
func (b *batcher) sendEach(dst netip.AddrPort) {
	for off := 0; off < len(b.buf); off += b.seg {
		if _, err := b.s.conn.WriteToUDPAddrPort(b.buf[off:min(off+b.seg, len(b.buf))], dst); err != nil {
			b.s.sendFailed(err, 1)
			continue
		}
		b.s.packetsSent.Add(1)
	}
}

func (s *streamer) sendFailed(err error, packets int) {
	s.sendErrors.Add(uint64(packets))
	s.lastError.Store(err.Error())
}

package camsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ptpcam/ptpcam/internal/ethtool"
)

// GVSP send paths. A frame's packets leave in batches of up to 64 KiB:
//
//   - mmsg (the default): one sendmmsg(2) per batch, one datagram per packet.
//   - auto: gso where the kernel cuts a batch into packets before the
//     interface the destination is reached by (its tx-udp-segmentation
//     offload is off, as the rig sets its camera veths, or it has none, as
//     most physical NICs), mmsg elsewhere: on loopback, veth and bridges
//     with the offload on, the GSO super-packet travels whole up to the
//     receiving socket, so a packet socket there (Aravis' receive path as
//     root) sees one datagram of 64 KiB instead of 44 GVSP packets. A GSO
//     batch the kernel refuses moves the stream to mmsg, a refused mmsg
//     batch to one packet per syscall. Not the default yet: across the
//     rig's veth Aravis completes its frames with either socket, but
//     TestStreamAravisBatched with a packet-socket case failed 1 of 3 runs
//     on a loaded machine. Those first-session losses, on the mmsg path
//     too, were at least partly the test's: the host's bridge answered ARP for the
//     receiver's address, so the stream went to br0 and not to the veth
//     Aravis' packet socket reads, and Aravis' 20 ms packet timeout asked
//     for frames a sender waiting for the CPU was still sending, and
//     others were the pacer's stall under a garbage collection (fineSleep).
//     Since both fixes, TestStreamAravisBatched with auto as the default
//     (gso across the veth, mmsg on loopback) had 40 of 40 sessions clean
//     with one core kept busy.
//   - gso: one sendmsg(2) per batch of equal-size packets with UDP_SEGMENT,
//     whatever the interface.
//   - per-packet: one sendto(2) per packet, the path before batching and
//     the benchmarks' baseline.
//
// GSO datagrams leave with DF (IP_PMTUDISC_DO), which the kernel would
// otherwise leave off them and their segments, being longer than the MTU.
// Across the rig's veth, Aravis' packet socket completed 149 of 150 1080p
// frames at 1500 and 9000 bytes with DF, and few without it (2 of 30 at
// 10 fps, half the packets resent; 58 of 150 at 50 fps and 9000 bytes).
//
// Where the kernel refuses a batch (EIO: no checksum offload for GSO;
// EINVAL or EMSGSIZE: segments longer than the MTU, or a kernel without
// UDP_SEGMENT; ENOSYS) the streamer logs it once and, on the paths other
// than auto, sends one packet per syscall from then on.
const (
	sendAuto      = "auto"
	sendMmsg      = "mmsg"
	sendGSO       = "gso"
	sendPerPacket = "per-packet"
)

// gvspSend is the send path, chosen when camsim is built:
// -ldflags "-X github.com/ptpcam/ptpcam/camsim.gvspSend=per-packet".
var gvspSend = sendMmsg

func init() {
	if err := checkSendMode(gvspSend); err != nil {
		panic(err)
	}
}

func checkSendMode(m string) error {
	switch m {
	case sendAuto, sendMmsg, sendGSO, sendPerPacket:
		return nil
	}
	return fmt.Errorf("camsim: GVSP send path %q (gvspSend, set at build time with -X), want %q, %q, %q or %q",
		m, sendAuto, sendMmsg, sendGSO, sendPerPacket)
}

const (
	// batchMaxBytes is the UDP payload of one datagram, which a GSO send
	// shares among its segments (65535 less the IPv4 and UDP headers); a
	// sendmmsg batch keeps to the same size.
	batchMaxBytes = 65535 - ipUDPOverhead
	// batchMaxPackets is UDP_MAX_SEGMENTS of the oldest kernels with GSO.
	batchMaxPackets = 64
	// perPacketBurst is how many packets go back to back between two
	// pacing points on the per-packet path, and at most with SCPD set.
	perPacketBurst = 16
	// scpdBurst bounds a burst's length in SCPD time: a delay of 10 µs
	// allows bursts of 10 packets, one of 100 µs or more single packets.
	scpdBurst = 100 * time.Microsecond
	// perPacketMinSleep: the per-packet path sleeps only when this far
	// ahead of its schedule, as before batching.
	perPacketMinSleep = 50 * time.Microsecond
	// batchMinSleep: batches are paced one by one, so that a receiver
	// with the default socket buffer (208 KiB, some 90 packets of 1500
	// bytes) keeps up; fineSleepMax: shorter sleeps are clock_nanosleep(2) on
	// the thread, since Go's timers sleep ≥ 1.1 ms on our machines however
	// short the request.
	batchMinSleep = 20 * time.Microsecond
	// maxLagBursts: how many batches a late frame catches up back to back.
	maxLagBursts = 4
	fineSleepMax = 2 * time.Millisecond
)

// maxBurst is the number of packets sent back to back (one batch) between
// two pacing points.
func maxBurst(p streamParams, mode string) int {
	n := perPacketBurst
	if mode != sendPerPacket {
		n = min(batchMaxPackets, batchMaxBytes/(dataPerPacket(p.packetSize)+gvspHeader))
	}
	if p.delay > 0 {
		n = min(n, perPacketBurst, int(scpdBurst/p.delay))
	}
	return max(n, 1)
}

// pacer spreads a frame's packets over 60% of its period, or one SCPD
// delay apart on average when that is longer: the k-th packet does not leave
// before start + k·max(period·0.6/packets, SCPD). Batches fall behind that
// schedule when camsim did not get the CPU in time; they catch up by at most
// maxLagBursts batches back to back, and the schedule moves on by the rest:
// a long run of batches overflows a receiver that lost the CPU at the same
// moment, and a frame that ends later than planned still has the 40% of its
// period left. The per-packet path catches up all, as before batching.
type pacer struct {
	start   time.Time
	per     time.Duration
	least   time.Duration // shortest sleep worth taking
	fine    bool          // short sleeps in nanosleep(2)
	catchUp bool
	burst   int
}

func newPacer(p streamParams, total int, mode string) pacer {
	pc := pacer{start: time.Now(), per: max(p.period*6/10/time.Duration(total), p.delay),
		least: batchMinSleep, fine: true, burst: maxBurst(p, mode)}
	if mode == sendPerPacket {
		pc.least, pc.fine, pc.catchUp = perPacketMinSleep, false, true
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
	ahead := time.Until(pc.start.Add(pc.per * time.Duration(sent)))
	maxLag := pc.per * time.Duration(pc.burst*maxLagBursts)
	switch {
	case !pc.catchUp && ahead < -maxLag:
		pc.start = pc.start.Add(-ahead - maxLag)
	case ahead <= pc.least:
	case pc.fine && ahead < fineSleepMax:
		fineSleep(ahead)
	default:
		time.Sleep(ahead)
	}
}

// fineSleep sleeps d (well under fineSleepMax) in clock_nanosleep(2)
// through RawSyscall: the goroutine keeps its P and thread, and no other
// thread wakes. A signal ends the sleep early (EINTR); the sleep goes on to
// the same absolute deadline (TIMER_ABSTIME), so however many signals come,
// it ends at d. It once slept the rest that nanosleep(2) reported, which
// counts the timer slack (50 µs) on top of the time left: each signal moved
// the end 50 µs later. The garbage collector, to scan the goroutine's stack,
// asks it to stop every 5 µs or so until it does, and each request is a
// signal, so the sleep ran on for as long as a collection waited on it: 0.2
// to 40 s (TestFineSleepUnderSignals). camsim allocates the frames of its
// ring (2 MB each at 1080p) in its first frames, so collections came then,
// and Aravis lost the rest of the frame whose pacing sleep it was, asked for
// it again, and saw a few frames more in 3 s.
func fineSleep(d time.Duration) {
	var ts unix.Timespec
	if _, _, e := unix.RawSyscall(unix.SYS_CLOCK_GETTIME, unix.CLOCK_MONOTONIC, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return
	}
	ts = unix.NsecToTimespec(ts.Nano() + d.Nanoseconds())
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != unix.EINTR {
			return
		}
	}
}

// batcher collects consecutive packets of one frame back to back in one
// buffer, and sends them in one system call (see sendMmsg, sendGSO). For
// GSO every packet but the last must have the first one's length: a longer
// packet, or any after a shorter one, starts the next batch.
type batcher struct {
	s    *streamer
	f    *frame
	np   uint32
	mode string
	// autoDst, autoMode: the path auto chose for the last destination
	autoDst  netip.AddrPort
	autoMode string
	buf      []byte // the packets
	offs     []int  // where each packet in buf starts
	seg      int    // length of the first packet in buf
	// short: the last packet in buf is shorter than seg
	short bool
	oob   []byte // the UDP_SEGMENT control message

	// The system call of a batch, made with RawSyscall: a batch of 44
	// packets runs long enough that with Syscall the runtime would hand
	// the P to another thread each time, which costs more context switches
	// than the send. rc (the stream socket, non-blocking, EAGAIN waits in
	// the netpoller) serves where the batches' own socket could not be
	// opened (sendSocketLocked).
	rc      syscall.RawConn
	iov     []unix.Iovec
	mmsg    []unix.Mmsghdr
	sa      unix.RawSockaddrInet4
	write   func(fd uintptr) bool
	n       int // messages sent of the first mmsgEnd
	mmsgEnd int
	errno   syscall.Errno
}

func newBatcher(s *streamer) *batcher {
	b := &batcher{s: s, oob: make([]byte, unix.CmsgSpace(2)), buf: make([]byte, 0, batchMaxBytes+9000),
		iov: make([]unix.Iovec, batchMaxPackets), mmsg: make([]unix.Mmsghdr, batchMaxPackets)}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b.oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	if s.conn != nil {
		b.rc, _ = s.conn.SyscallConn()
	}
	b.write = b.syscall
	return b
}

// start begins the packets of frame f (np payload packets).
func (b *batcher) start(f *frame, np uint32) {
	b.f, b.np, b.mode = f, np, b.s.mode
	if b.mode == sendAuto {
		if f.p.dst != b.autoDst {
			b.autoDst, b.autoMode = f.p.dst, autoPath(f.p.dst)
			b.s.log.Info("gvsp: send path", "mode", b.autoMode, "destination", f.p.dst)
		}
		b.mode = b.autoMode
		if b.mode == sendGSO && b.s.noGSO.Load() {
			b.mode = sendMmsg
		}
	}
	b.reset()
}

func (b *batcher) reset() { b.buf, b.offs, b.short = b.buf[:0], b.offs[:0], false }

// add queues packet id, sending what is queued first when id cannot join it.
func (b *batcher) add(id uint32) {
	l := packetLen(b.f, id, b.np)
	n := len(b.offs)
	if n > 0 && (len(b.buf)+l > batchMaxBytes || n == batchMaxPackets ||
		b.mode == sendGSO && (b.short || l > b.seg)) {
		b.flush()
		n = 0
	}
	if n == 0 {
		b.seg = l
	}
	b.short = l < b.seg
	b.offs = append(b.offs, len(b.buf))
	b.buf = appendPacket(b.buf, b.f, id, b.np)
	if b.mode == sendPerPacket {
		b.flush()
	}
}

// flush sends the queued packets.
func (b *batcher) flush() {
	n := len(b.offs)
	if n == 0 {
		return
	}
	dst := b.f.p.dst
	var err error
	switch {
	case n == 1 || b.mode == sendPerPacket || b.s.noBatch.Load() || b.rc == nil || !dst.Addr().Is4():
		b.sendEach(dst, 0)
	case b.mode == sendGSO:
		err = b.sendGSO(dst)
	default:
		err = b.sendMmsg(dst)
	}
	if err != nil {
		b.refused(err, dst)
	}
	b.reset()
}

// refused handles a batch the kernel did not take: packets from b.n on.
func (b *batcher) refused(err error, dst netip.AddrPort) {
	if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EMSGSIZE) ||
		errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.ENOSYS) {
		if b.mode == sendGSO && b.s.mode == sendAuto && b.n == 0 {
			if b.s.noGSO.CompareAndSwap(false, true) {
				b.s.log.Warn("gvsp: GSO send refused, sending in sendmmsg batches from now on",
					"err", err, "packet_bytes", b.seg, "packets", len(b.offs), "destination", dst)
			}
			b.mode = sendMmsg
			if err := b.sendMmsg(dst); err != nil {
				b.refused(err, dst)
			}
			return
		}
		if b.s.noBatch.CompareAndSwap(false, true) {
			b.s.log.Warn("gvsp: batched send refused, sending one packet per syscall from now on",
				"mode", b.mode, "err", err, "packet_bytes", b.seg, "packets", len(b.offs), "destination", dst)
		}
		b.sendEach(dst, b.n)
		return
	}
	b.s.sendFailed(err, len(b.offs)-b.n)
}

// packetAt is queued packet i.
func (b *batcher) packetAt(i int) []byte {
	end := len(b.buf)
	if i+1 < len(b.offs) {
		end = b.offs[i+1]
	}
	return b.buf[b.offs[i]:end]
}

// sendEach sends queued packets from the first on, one per syscall.
func (b *batcher) sendEach(dst netip.AddrPort, first int) {
	for i := first; i < len(b.offs); i++ {
		if _, err := b.s.conn.WriteToUDPAddrPort(b.packetAt(i), dst); err != nil {
			b.s.sendFailed(err, 1)
			continue
		}
		b.s.packetsSent.Add(1)
	}
}

// sent counts a batch the kernel took, logging the first one.
func (b *batcher) sent(dst netip.AddrPort) {
	if b.s.batches.Add(1) == 1 {
		b.s.log.Info("gvsp: frames leave in batches", "mode", b.mode, "packets", len(b.offs), "destination", dst)
	}
	b.s.packetsSent.Add(uint64(len(b.offs)))
}

// sendGSO sends the queued packets as one datagram cut into segments of
// b.seg bytes.
func (b *batcher) sendGSO(dst netip.AddrPort) error {
	binary.NativeEndian.PutUint16(b.oob[unix.CmsgLen(0):], uint16(b.seg))
	b.setAddr(dst)
	b.iov[0].Base = &b.buf[0]
	b.iov[0].SetLen(len(b.buf))
	b.mmsg[0] = unix.Mmsghdr{Hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.sa)), Namelen: unix.SizeofSockaddrInet4,
		Iov: &b.iov[0], Control: &b.oob[0]}}
	b.mmsg[0].Hdr.SetIovlen(1)
	b.mmsg[0].Hdr.SetControllen(len(b.oob))
	if err := b.call(1); err != nil {
		return err
	}
	b.sent(dst)
	return nil
}

// sendMmsg sends the queued packets as one datagram each in sendmmsg(2).
func (b *batcher) sendMmsg(dst netip.AddrPort) error {
	b.setAddr(dst)
	for i := range b.offs {
		p := b.packetAt(i)
		b.iov[i].Base = &p[0]
		b.iov[i].SetLen(len(p))
		b.mmsg[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.sa)),
			Namelen: unix.SizeofSockaddrInet4, Iov: &b.iov[i]}}
		b.mmsg[i].Hdr.SetIovlen(1)
	}
	if err := b.call(len(b.offs)); err != nil {
		return err
	}
	b.sent(dst)
	return nil
}

func (b *batcher) setAddr(dst netip.AddrPort) {
	b.sa.Family = unix.AF_INET
	port := (*[2]byte)(unsafe.Pointer(&b.sa.Port))
	port[0], port[1] = byte(dst.Port()>>8), byte(dst.Port())
	b.sa.Addr = dst.Addr().As4()
}

// call runs sendmmsg(2) on the first n of b.mmsg (for GSO the one message)
// until all are sent. On an error b.n says how many were sent before it.
func (b *batcher) call(n int) error {
	b.n, b.errno, b.mmsgEnd = 0, 0, n
	s := b.s
	s.fdMu.Lock()
	if fd := s.sendFD; fd >= 0 {
		// MSG_DONTWAIT in RawSyscall; when the socket buffer is full,
		// a blocking call that lets the runtime hand the P on.
		for b.n < n && b.errno == 0 {
			if !b.sendmmsg(uintptr(fd), unix.MSG_DONTWAIT, unix.RawSyscall6) {
				b.sendmmsg(uintptr(fd), 0, unix.Syscall6)
			}
		}
		s.fdMu.Unlock()
	} else {
		s.fdMu.Unlock()
		for b.n < n && b.errno == 0 {
			if err := b.rc.Write(b.write); err != nil {
				return err
			}
		}
	}
	if b.errno != 0 {
		return b.errno
	}
	return nil
}

// syscall is rc.Write's callback: false (wait until writable) on EAGAIN.
func (b *batcher) syscall(fd uintptr) bool {
	return b.sendmmsg(fd, 0, unix.RawSyscall6)
}

// sendmmsg sends messages b.n … b.mmsgEnd-1 with call, and says false when
// it stopped at EAGAIN.
func (b *batcher) sendmmsg(fd, flags uintptr, call func(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)) bool {
	for b.n < b.mmsgEnd {
		r, _, e := call(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.mmsg[b.n])), uintptr(b.mmsgEnd-b.n), flags, 0, 0)
		switch e {
		case 0:
			b.n += int(r)
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			b.errno = e
			return true
		}
	}
	return true
}

// openSendSocket gives the streamer the socket batches leave from: a
// blocking socket bound to the stream socket's address and port (both have
// SO_REUSEADDR) that the netpoller does not watch. On the netpoller's socket
// each datagram the kernel frees wakes the netpoller's thread through the
// socket's write-space callback, which costs more than the send itself;
// here nobody waits on the socket, so nobody is woken. It is opened with the
// streamer, in the network namespace of the calling thread (the stream
// socket's). Without it (sendFD -1) batches go through the stream socket.
func (s *streamer) openSendSocket() {
	if s.conn == nil || s.mode == sendPerPacket {
		return
	}
	fd, err := openSendSocket(s.conn.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		s.log.Warn("gvsp: no socket of its own for batches, sending through the stream socket", "err", err)
		return
	}
	// A GSO datagram is longer than the MTU, so the kernel leaves DF off it
	// and its segments unless told to set it always; the per-packet and
	// sendmmsg datagrams, within the MTU, have it, as a camera's packets.
	if s.mode == sendGSO || s.mode == sendAuto {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO); err != nil {
			s.log.Warn("gvsp: GSO segments leave without DF", "err", err)
		}
	}
	s.sendFD = fd
}

// closeSendSocket closes the batches' socket for good.
func (s *streamer) closeSendSocket() {
	s.fdMu.Lock()
	defer s.fdMu.Unlock()
	if s.sendFD >= 0 {
		unix.Close(s.sendFD)
		s.sendFD = -1
	}
}

func openSendSocket(ap netip.AddrPort) (int, error) {
	if !ap.Addr().Is4() {
		return -1, fmt.Errorf("%v: not IPv4", ap)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, err
	}
	for _, o := range [][2]int{{unix.SO_REUSEADDR, 1}, {unix.SO_BROADCAST, 1}, {unix.SO_SNDBUF, 4 << 20}, {unix.SO_RCVBUF, 4096}} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], o[1]); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setsockopt %d: %w", o[0], err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %v: %w", ap, err)
	}
	return fd, nil
}

func (s *streamer) sendFailed(err error, packets int) {
	s.sendErrors.Add(uint64(packets))
	s.lastError.Store(err.Error())
}

// autoPath is the auto send path to dst: gso where the interface holding
// the source address of the route to dst has UDP segmentation offload off
// (the kernel then cuts a batch into packets before the interface), mmsg
// where it is on (loopback, veth, bridges), where dst is an address of this
// namespace (the packets go by loopback), and where that cannot be told.
func autoPath(dst netip.AddrPort) string {
	if !dst.Addr().Is4() || dst.Addr().IsLoopback() {
		return sendMmsg
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst)) // a route lookup: nothing is sent
	if err != nil {
		return sendMmsg
	}
	src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	c.Close()
	if src == dst.Addr().Unmap() {
		return sendMmsg
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return sendMmsg
	}
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(src.AsSlice()) {
				if on, err := ethtool.Active(ifc.Name, ethtool.UDPSegmentation); err == nil && !on {
					return sendGSO
				}
				return sendMmsg
			}
		}
	}
	return sendMmsg
}

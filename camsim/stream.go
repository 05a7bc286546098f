package camsim

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// GVSP (GigE Vision 1.x packets with 16-bit block ids, as Aravis expects
// without extended ids): every packet starts with status u16, block_id u16,
// packet_format u8 (leader 1, trailer 2, payload 3) and packet_id u24.
const (
	gvspLeader  = 1
	gvspTrailer = 2
	gvspPayload = 3
	gvspHeader  = 8
	// ipUDPOverhead is what SCPS counts beyond the UDP payload.
	ipUDPOverhead = 28
	// payloadTypeImage is GVSP payload type 0x0001.
	payloadTypeImage = 1
)

// Frame header in the pixels: camsim writes into the first 24 bytes of every
// frame the frame counter (big-endian uint64, 1 for the first frame of the
// run), the device timestamp (big-endian uint64, equal to the leader's) and
// the magic "camsimFR"; byte i ≥ 24 holds byte(i*7) so receivers can check
// that the payload was reassembled in order.
const (
	frameHeaderSize = 24
	frameMagic      = "camsimFR"
)

// FrameCounter reads the frame counter camsim encodes at the start of a
// frame's pixels. ok is false when pixels is too short or not a camsim frame.
// Consecutive frames carry consecutive counters; a gap is a lost frame, a
// counter lower than its predecessor a reordering.
func FrameCounter(pixels []byte) (counter uint64, ok bool) {
	if len(pixels) < frameHeaderSize || string(pixels[16:24]) != frameMagic {
		return 0, false
	}
	return binary.BigEndian.Uint64(pixels), true
}

// FrameTimestamp reads the device timestamp camsim encodes in a frame's
// pixels (the same value as the GVSP leader's timestamp).
func FrameTimestamp(pixels []byte) (ts uint64, ok bool) {
	if _, ok := FrameCounter(pixels); !ok {
		return 0, false
	}
	return binary.BigEndian.Uint64(pixels[8:]), true
}

// BlockID is the 16-bit GVSP block id of frame counter n: 1, 2, … 65535, 1, …
// (GigE Vision 1.x never uses block id 0).
func BlockID(n uint64) uint16 { return uint16((n-1)%65535 + 1) }

type frame struct {
	counter uint64
	block   uint16
	ts      uint64
	p       streamParams
	pixels  []byte
	// patterned is len(pixels) when pixels past the frame header hold
	// the pattern already.
	patterned int
}

type frameReq struct {
	ts uint64
	p  streamParams
}

// ringSize is how many recent frames PACKETRESEND can be served from.
const ringSize = 8

// streamer sends frames as GVSP from one socket bound to the camera's
// address, paced over part of the frame period so that loopback and veth
// receive queues are not overrun.
type streamer struct {
	conn    *net.UDPConn
	log     *slog.Logger
	queue   chan frameReq
	counter uint64

	mu   sync.Mutex // ring
	ring [ringSize]*frame
	pat  []byte

	dropPermille atomic.Int64
	paused       func() bool

	// mode is the send path (stream_batch.go); noBatch is set when the
	// kernel refused a batch, and every packet goes alone from then on;
	// noGSO when it refused a GSO batch of the auto path.
	mode      string
	noBatch   atomic.Bool
	noGSO     atomic.Bool
	batches   atomic.Uint64 // system calls that sent more than one packet
	frameOut  *batcher      // the streaming goroutine's
	resendOut *batcher      // under mu

	fdMu   sync.Mutex // sendFD, held while a batch is sent
	sendFD int        // the batches' socket (openSendSocket), or -1

	framesSent     atomic.Uint64
	framesOverrun  atomic.Uint64
	packetsSent    atomic.Uint64
	packetsDropped atomic.Uint64
	packetsResent  atomic.Uint64
	resendRequests atomic.Uint64
	// resendsUnanswered: requests for a block or packets not held
	resendsUnanswered atomic.Uint64
	sendErrors        atomic.Uint64
	lastError         atomic.Value
}

func newStreamer(conn *net.UDPConn, paused func() bool, log *slog.Logger) *streamer {
	s := &streamer{conn: conn, log: log, queue: make(chan frameReq, 64), paused: paused,
		mode: gvspSend, sendFD: -1}
	s.frameOut, s.resendOut = newBatcher(s), newBatcher(s)
	s.openSendSocket()
	return s
}

func (s *streamer) sourcePort() uint16 {
	if s == nil || s.conn == nil {
		return 0
	}
	return uint16(s.conn.LocalAddr().(*net.UDPAddr).Port)
}

// enqueue asks for one frame stamped ts. A full queue drops the frame (and
// its counter stays unused, so receivers do not see a gap for it).
func (s *streamer) enqueue(ts uint64, p streamParams) {
	select {
	case s.queue <- frameReq{ts: ts, p: p}:
	default:
		s.framesOverrun.Add(1)
	}
}

func (s *streamer) setDropPercent(p float64) {
	s.dropPermille.Store(int64(p * 10))
}

func (s *streamer) drop() bool {
	pm := s.dropPermille.Load()
	return pm > 0 && rand.Int64N(1000) < pm
}

// pattern returns the pixel pattern for n bytes.
func (s *streamer) pattern(n int) []byte {
	if len(s.pat) < n {
		s.pat = make([]byte, n)
		for i := range s.pat {
			s.pat[i] = byte(i * 7)
		}
	}
	return s.pat[:n]
}

func (s *streamer) run(done <-chan struct{}) {
	defer s.closeSendSocket()
	for {
		var r frameReq
		select {
		case <-done:
			return
		case r = <-s.queue:
		}
		if s.paused() {
			continue
		}
		if !r.p.dst.IsValid() || r.p.dst.Port() == 0 || r.p.dst.Addr().IsUnspecified() {
			continue // no receiver configured: a real camera sends nothing either
		}
		s.sendFrame(s.nextFrame(r))
		s.framesSent.Add(1)
	}
}

// nextFrame numbers the frame r asks for and fills its ring slot.
func (s *streamer) nextFrame(r frameReq) *frame {
	s.counter++
	n := int(r.p.width * r.p.height)
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.counter % ringSize
	f := s.ring[slot]
	if f == nil {
		f = &frame{}
		s.ring[slot] = f
	}
	f.counter, f.block, f.ts, f.p = s.counter, BlockID(s.counter), r.ts, r.p
	if cap(f.pixels) < n {
		f.pixels = make([]byte, n)
	}
	f.pixels = f.pixels[:n]
	if f.patterned != n { // the slot's pixels past the header are the same for every frame of n bytes
		copy(f.pixels, s.pattern(n))
		f.patterned = n
	}
	binary.BigEndian.PutUint64(f.pixels, f.counter)
	binary.BigEndian.PutUint64(f.pixels[8:], f.ts)
	copy(f.pixels[16:], frameMagic)
	if r.p.chunks != nil {
		f.pixels = r.p.chunks.appendChunks(f.pixels, f.counter, f.ts)
	}
	return f
}
func dataPerPacket(packetSize int) int {
	d := packetSize - ipUDPOverhead - gvspHeader
	if d < 64 {
		d = 64
	}
	return d
}

func (s *streamer) nPackets(f *frame) uint32 {
	d := dataPerPacket(f.p.packetSize)
	return uint32((len(f.pixels) + d - 1) / d)
}

// GVSP leader and trailer lengths after the 8-byte header (image payload).
const (
	leaderData  = 36
	trailerData = 8
)

// packetLen is the UDP payload length of packet id of frame f, as packet
// builds it.
func packetLen(f *frame, id, np uint32) int {
	switch {
	case id == 0:
		return gvspHeader + leaderData
	case id == np+1:
		return gvspHeader + trailerData
	}
	d := dataPerPacket(f.p.packetSize)
	off := int(id-1) * d
	return gvspHeader + min(off+d, len(f.pixels)) - off
}

// packet builds packet id of frame f into buf.
func (s *streamer) packet(f *frame, id uint32, buf []byte) []byte {
	return appendPacket(buf[:0], f, id, s.nPackets(f))
}

// appendPacket appends packet id (of np payload packets) of frame f to buf:
// the leader (0), payload packets 1 … np, the trailer (np+1). Sending is
// separate (batch.go), so it sees only finished packets.
func appendPacket(buf []byte, f *frame, id, np uint32) []byte {
	d := dataPerPacket(f.p.packetSize)
	var h [gvspHeader]byte
	binary.BigEndian.PutUint16(h[2:], f.block)
	be := binary.BigEndian
	switch {
	case id == 0:
		be.PutUint32(h[4:], gvspLeader<<24)
		buf = append(buf, h[:]...)
		var l [leaderData]byte
		be.PutUint16(l[2:], f.p.payloadType())
		be.PutUint64(l[4:], f.ts)
		be.PutUint32(l[12:], f.p.pixelFormat)
		be.PutUint32(l[16:], f.p.width)
		be.PutUint32(l[20:], f.p.height)
		buf = append(buf, l[:]...)
	case id == np+1:
		be.PutUint32(h[4:], gvspTrailer<<24|id)
		buf = append(buf, h[:]...)
		var t [trailerData]byte
		be.PutUint16(t[2:], f.p.payloadType())
		be.PutUint32(t[4:], f.p.height)
		buf = append(buf, t[:]...)
	default:
		be.PutUint32(h[4:], gvspPayload<<24|id)
		buf = append(buf, h[:]...)
		off := int(id-1) * d
		end := min(off+d, len(f.pixels))
		buf = append(buf, f.pixels[off:end]...)
	}
	return buf
}

// sendFrame sends leader, payload and trailer, spread over 60% of the frame
// period, and at most one packet per SCPD inter-packet delay on average.
// Only this goroutine rewrites ring frames, so f is read without s.mu.
func (s *streamer) sendFrame(f *frame) {
	np := s.nPackets(f)
	total := np + 2
	pc := newPacer(f.p, int(total), s.mode)
	b := s.frameOut
	b.start(f, np)
	for id := uint32(0); id < total; id++ {
		// Each GSO segment is a whole GVSP packet, so a dropped one is
		// left out of the batch and its neighbours still arrive.
		if s.drop() {
			s.packetsDropped.Add(1)
		} else {
			b.add(id)
		}
		if pc.due(int(id) + 1) {
			b.flush()
			pc.wait(int(id) + 1)
		}
	}
	b.flush()
}

// resend sends packets first..last of block again, when still in the ring,
// in bursts as long as the frame's. A lossy link loses resent packets too.
func (s *streamer) resend(block uint16, first, last uint32) {
	s.resendRequests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	var f *frame
	for _, r := range s.ring {
		if r != nil && r.block == block {
			f = r
		}
	}
	if f == nil {
		s.unanswered(block, first, last, "block not in the ring")
		return
	}
	np := s.nPackets(f)
	if last > np+1 {
		last = np + 1
	}
	if first > last || last-first > 100000 {
		s.unanswered(block, first, last, "packet ids out of the frame's range")
		return
	}
	burst := uint32(maxBurst(f.p, s.mode))
	b := s.resendOut
	b.start(f, np)
	for id := first; id <= last; id++ {
		if s.drop() {
			s.packetsDropped.Add(1)
		} else {
			s.packetsResent.Add(1)
			b.add(id)
		}
		if (id-first+1)%burst == 0 {
			b.flush()
		}
	}
	b.flush()
}

// unanswered logs the first few resend requests camsim could not answer,
// whose frames the receiver then waits for until it gives them up.
func (s *streamer) unanswered(block uint16, first, last uint32, why string) {
	if s.resendsUnanswered.Add(1) <= 3 {
		s.log.Warn("gvsp: resend request not answered", "why", why, "block", block, "first", first, "last", last)
	}
}

// sendTestPacket answers GevSCPSFireTestPacket: one datagram of the packet
// size (minus IP and UDP headers) with the do-not-fragment idea kept simple.
func (s *streamer) sendTestPacket(dst netip.AddrPort, size int) {
	if !dst.IsValid() || dst.Port() == 0 {
		return
	}
	b := bytes.Repeat([]byte{0}, max(size-ipUDPOverhead, gvspHeader))
	binary.BigEndian.PutUint32(b[4:], gvspPayload<<24)
	_, _ = s.conn.WriteToUDPAddrPort(b, dst)
}

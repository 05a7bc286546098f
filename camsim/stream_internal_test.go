package camsim

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// rxPacket is one GVSP datagram as a test receiver got it.
type rxPacket struct {
	id   uint32
	data []byte
	at   time.Time // kernel receive time (SO_TIMESTAMPNS)
}

// packetRx collects the datagrams sent to one UDP socket, with the kernel's
// receive timestamps, in a goroutine started before anything is sent.
type packetRx struct {
	conn *net.UDPConn
	c    chan rxPacket
}

func newPacketRx(t *testing.T, conn *net.UDPConn) *packetRx {
	t.Helper()
	_ = conn.SetReadBuffer(4 << 20)
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		t.Fatalf("SO_TIMESTAMPNS: %v %v", err, serr)
	}
	r := &packetRx{conn: conn, c: make(chan rxPacket, 100000)}
	t.Cleanup(func() { conn.Close() })
	go r.loop()
	return r
}

func (r *packetRx) loop() {
	buf, oob := make([]byte, 65536), make([]byte, 128)
	for {
		n, oobn, _, _, err := r.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			close(r.c)
			return
		}
		p := rxPacket{data: bytes.Clone(buf[:n])}
		if n >= gvspHeader {
			p.id = binary.BigEndian.Uint32(buf[4:]) & 0xFFFFFF
		}
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
					ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
					p.at = time.Unix(ts.Unix())
				}
			}
		}
		r.c <- p
	}
}

// take returns the next n datagrams, failing the test when they do not
// all come within a deadline.
func (r *packetRx) take(t *testing.T, n int) []rxPacket {
	t.Helper()
	return r.takeWithin(t, n, 10*time.Second)
}

// takeWithin is take with deadline d.
func (r *packetRx) takeWithin(t *testing.T, n int, d time.Duration) []rxPacket {
	t.Helper()
	out := make([]rxPacket, 0, n)
	deadline := time.After(d)
	for len(out) < n {
		select {
		case p, ok := <-r.c:
			if !ok {
				t.Fatalf("receiver closed after %d of %d packets", len(out), n)
			}
			out = append(out, p)
		case <-deadline:
			t.Fatalf("%d of %d packets within %v", len(out), n, d)
		}
	}
	return out
}

// none asserts that nothing more arrives right after what was taken: the
// sender's counters said everything was in already.
func (r *packetRx) none(t *testing.T) {
	t.Helper()
	select {
	case p := <-r.c:
		t.Errorf("unexpected extra packet id %d of %d bytes", p.id, len(p.data))
	case <-time.After(50 * time.Millisecond):
	}
}

// testStreamer is a streamer on 127.0.0.1 sending to a packetRx.
func testStreamer(t *testing.T, mode string) (*streamer, *packetRx) {
	t.Helper()
	send, err := listenStream()
	if err != nil {
		t.Fatal(err)
	}
	recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { send.Close() })
	return streamerOn(t, send, mode), newPacketRx(t, recv)
}

// listenStream opens a stream socket on 127.0.0.1 as camsim.Run does
// (listenUDP: SO_REUSEADDR, which the batches' own socket needs as well).
func listenStream() (*net.UDPConn, error) {
	return listenUDP(context.Background(), netip.MustParseAddrPort("127.0.0.1:0"))
}

func streamerOn(t *testing.T, conn *net.UDPConn, mode string) *streamer {
	if err := checkSendMode(mode); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := newStreamer(conn, func() bool { return false }, log)
	s.mode = mode
	t.Cleanup(s.closeSendSocket)
	if s.sendFD < 0 {
		t.Fatal("no socket of its own for batches")
	}
	return s
}

var allModes = []string{sendMmsg, sendGSO, sendPerPacket}

func params(rx *packetRx, w, h uint32, packetSize int) streamParams {
	return streamParams{dst: rx.conn.LocalAddr().(*net.UDPAddr).AddrPort(), packetSize: packetSize,
		width: w, height: h, pixelFormat: PixelFormatBayerGR8, period: 20 * time.Millisecond}
}

// checkPackets asserts that got holds each packet of f listed in ids exactly
// once, byte for byte as packet builds it.
func checkPackets(t *testing.T, s *streamer, f *frame, got []rxPacket, ids []uint32) {
	t.Helper()
	byID := map[uint32][]byte{}
	for _, p := range got {
		if _, dup := byID[p.id]; dup {
			t.Errorf("packet %d received twice", p.id)
		}
		byID[p.id] = p.data
	}
	for _, id := range ids {
		want := s.packet(f, id, nil)
		if g, ok := byID[id]; !ok {
			t.Errorf("packet %d missing", id)
		} else if !bytes.Equal(g, want) {
			t.Errorf("packet %d: %d bytes, want %d (content equal %v)", id, len(g), len(want), bytes.Equal(g[:min(len(g), 8)], want[:8]))
		}
	}
	if len(byID) != len(ids) {
		t.Errorf("%d distinct packets, want %d", len(byID), len(ids))
	}
}

func allIDs(np uint32) []uint32 {
	ids := make([]uint32, np+2)
	for i := range ids {
		ids[i] = uint32(i)
	}
	return ids
}

// TestStreamBatchedFrames: batched (sendmmsg, GSO) and alone, every packet
// of a frame arrives once and intact on loopback, for 1500- and 9000-byte
// packets and a size whose last payload packet is short, the batched paths
// in one system call per burst.
func TestStreamBatchedFrames(t *testing.T) {
	for _, mode := range allModes {
		for _, tc := range []struct {
			w, h       uint32
			packetSize int
		}{{320, 240, 1500}, {640, 480, 9000}, {333, 101, 1000}} {
			t.Run(fmt.Sprintf("%s/packet%d", mode, tc.packetSize), func(t *testing.T) {
				s, rx := testStreamer(t, mode)
				for i := range 3 {
					f := s.nextFrame(frameReq{ts: uint64(i + 1), p: params(rx, tc.w, tc.h, tc.packetSize)})
					before, batchesBefore := s.packetsSent.Load(), s.batches.Load()
					s.sendFrame(f)
					np := s.nPackets(f)
					sent, batches := s.packetsSent.Load()-before, s.batches.Load()-batchesBefore
					if sent != uint64(np+2) || s.sendErrors.Load() != 0 {
						t.Fatalf("frame %d: %d packets sent, %d errors, want %d, 0", i, sent, s.sendErrors.Load(), np+2)
					}
					checkPackets(t, s, f, rx.take(t, int(sent)), allIDs(np))
					burst := uint64(maxBurst(f.p, mode))
					switch {
					case mode == sendPerPacket && batches != 0:
						t.Errorf("per-packet path made %d batched sends", batches)
					case mode != sendPerPacket && (batches == 0 || batches > uint64(np)/burst+3 || s.noBatch.Load()):
						t.Errorf("%d batched sends for %d packets (bursts of %d), fallen back %v", batches, np+2, burst, s.noBatch.Load())
					}
				}
				rx.none(t)
			})
		}
	}
}

// TestStreamDropSinglePackets: drop-percent loses single packets out of
// batches (the lost ids are exactly as many as the dropped counter says),
// and PACKETRESEND recovers each of them from the ring.
func TestStreamDropSinglePackets(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			s, rx := testStreamer(t, mode)
			s.setDropPercent(20)
			f := s.nextFrame(frameReq{ts: 7, p: params(rx, 640, 240, 1500)})
			s.sendFrame(f)
			np := s.nPackets(f)
			sent, dropped := s.packetsSent.Load(), s.packetsDropped.Load()
			if sent+dropped != uint64(np+2) || dropped == 0 || sent == 0 {
				t.Fatalf("sent %d + dropped %d, want %d with some of each", sent, dropped, np+2)
			}
			got := rx.take(t, int(sent))
			have := map[uint32]bool{}
			for _, p := range got {
				have[p.id] = true
			}
			var lost, kept []uint32
			for id := range np + 2 {
				if have[id] {
					kept = append(kept, id)
				} else {
					lost = append(lost, id)
				}
			}
			checkPackets(t, s, f, got, kept)
			if uint64(len(lost)) != dropped {
				t.Fatalf("%d packet ids lost, dropped counter %d", len(lost), dropped)
			}

			s.setDropPercent(0)
			for _, id := range lost {
				s.resend(f.block, id, id)
			}
			if s.packetsResent.Load() != dropped || s.resendRequests.Load() != dropped {
				t.Errorf("packets_resent %d resend_requests %d, want %d", s.packetsResent.Load(), s.resendRequests.Load(), dropped)
			}
			checkPackets(t, s, f, rx.take(t, len(lost)), lost)

			// A range resend goes out in batches too, whole.
			s.resend(f.block, 0, np+1)
			checkPackets(t, s, f, rx.take(t, int(np+2)), allIDs(np))
			rx.none(t)
		})
	}
}

// TestStreamSCPDPacing: with GevSCPD set, packet k of a frame leaves no
// earlier than k SCPD delays after the frame began, less the packets before
// it in its burst (bursts of 100 µs of SCPD, at most 16 packets). The kernel's
// receive timestamps show it; a slower machine only makes them later.
func TestStreamSCPDPacing(t *testing.T) {
	for _, tc := range []struct {
		delay time.Duration
		mode  string
		burst int
	}{
		{200 * time.Microsecond, sendMmsg, 1},
		{20 * time.Microsecond, sendMmsg, 5},
		{20 * time.Microsecond, sendGSO, 5},
		{20 * time.Microsecond, sendPerPacket, 5},
		{2 * time.Microsecond, sendMmsg, 16},
	} {
		t.Run(fmt.Sprintf("%v/%s", tc.delay, tc.mode), func(t *testing.T) {
			s, rx := testStreamer(t, tc.mode)
			p := params(rx, 1464, 60, 1500) // 60 full payload packets
			p.delay, p.period = tc.delay, time.Millisecond
			if b := maxBurst(p, tc.mode); b != tc.burst {
				t.Fatalf("burst %d packets for SCPD %v, want %d", b, tc.delay, tc.burst)
			}
			f := s.nextFrame(frameReq{ts: 1, p: p})
			t0 := time.Now()
			s.sendFrame(f)
			np := s.nPackets(f)
			got := rx.take(t, int(np+2))
			checkPackets(t, s, f, got, allIDs(np))
			var last time.Time
			for _, pk := range got {
				if pk.at.IsZero() {
					t.Fatalf("packet %d without a kernel timestamp", pk.id)
				}
				k := int(pk.id)
				if earliest := t0.Add(tc.delay * time.Duration(k-k%tc.burst)); pk.at.Before(earliest) {
					t.Errorf("packet %d left %v after the frame began, want ≥ %v", k, pk.at.Sub(t0), earliest.Sub(t0))
				}
				if pk.at.After(last) {
					last = pk.at
				}
			}
			k := int(np + 1)
			if span, want := last.Sub(t0), tc.delay*time.Duration(k-k%tc.burst); span < want {
				t.Errorf("frame of %d packets spread over %v, want ≥ %v", np+2, span, want)
			}
		})
	}
}

// TestStreamGSOFallback: where the kernel refuses a GSO send (here
// EMSGSIZE: 9000-byte segments on a loopback of MTU 1500, in a namespace of
// the test's), the streamer falls back to one packet per syscall for good,
// and the frame still arrives whole (in IP fragments, reassembled).
func TestStreamGSOFallback(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ip")
	ns, err := rig.NewNetns(t.Context(), rig.UniqueName("camsimgso"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	if err := ns.IP(t.Context(), "link", "set", "lo", "mtu", "1500"); err != nil {
		t.Fatal(err)
	}
	var send, recv *net.UDPConn
	var s *streamer
	inNetns(t, ns.Name, func() (err error) {
		if send, err = listenStream(); err != nil {
			return err
		}
		if recv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		// The streamer's own socket opens in the namespace too.
		s = newStreamer(send, func() bool { return false }, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		return nil
	})
	t.Cleanup(func() { s.closeSendSocket(); send.Close() })
	s.mode = sendGSO
	if s.sendFD < 0 {
		t.Fatal("no socket of its own for batches")
	}
	rx := newPacketRx(t, recv)

	for i, size := range []int{9000, 1500} {
		f := s.nextFrame(frameReq{ts: uint64(i + 1), p: params(rx, 640, 480, size)})
		before := s.packetsSent.Load()
		s.sendFrame(f)
		np := s.nPackets(f)
		if sent := s.packetsSent.Load() - before; sent != uint64(np+2) || s.sendErrors.Load() != 0 {
			t.Fatalf("%d-byte packets: sent %d, errors %d (%v), want %d, 0", size, sent, s.sendErrors.Load(), s.lastError.Load(), np+2)
		}
		checkPackets(t, s, f, rx.take(t, int(np+2)), allIDs(np))
		if !s.noBatch.Load() || s.batches.Load() != 0 {
			t.Errorf("%d-byte packets: fallen back %v, batched sends %d; want true, 0", size, s.noBatch.Load(), s.batches.Load())
		}
	}
	rx.none(t)
}

// inNetns runs fn on a thread switched into the named namespace: sockets it
// opens stay there.
func inNetns(t *testing.T, name string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err) // the thread stays locked and ends with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

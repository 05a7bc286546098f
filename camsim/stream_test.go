package camsim_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// Register addresses of camsim's map (regs.go), as a client reads them from
// the GenICam XML.
const (
	rWidth, rHeight, rPixelFormat           = 0x10000, 0x10004, 0x10008
	rAcqStart, rAcqStop, rFrameRate         = 0x10014, 0x10018, 0x10020
	rTriggerMode, rTriggerSource, rTrigSoft = 0x1002C, 0x10030, 0x10034
	rSchedTime, rSchedInterval              = 0x10090, 0x10098
	rSchedCommit, rSchedCancel              = 0x1009C, 0x100A0
	rSCPort, rSCPS, rSCDA                   = 0x0D00, 0x0D04, 0x0D18
)

// setupStream points the stream channel at r and takes control.
func setupStream(t *testing.T, g *gvcpClient, r *gvspReceiver, packetSize uint32) {
	t.Helper()
	g.mustWrite(0x0A00, 2)
	g.mustWrite(rSCDA, 127<<24|1)
	g.mustWrite(rSCPort, r.port())
	g.mustWrite(rSCPS, packetSize)
	g.mustWrite(rWidth, 320)
	g.mustWrite(rHeight, 240)
}

// triggeredStream starts an in-process camera streaming to a receiver of
// the test's with packetSize, TriggerMode On from source (0 Software,
// 1 Action0) and the acquisition started.
func triggeredStream(t *testing.T, packetSize, source uint32) (*gvcpClient, *gvspReceiver, *camsim.ControlClient) {
	t.Helper()
	addr, cc := startInProcess(t, nil)
	g := newGVCPClient(t, addr)
	r := newGVSPReceiver(t)
	setupStream(t, g, r, packetSize)
	g.mustWrite(rTriggerMode, 1)
	g.mustWrite(rTriggerSource, source)
	g.mustWrite(rAcqStart, 1)
	return g, r, cc
}

// TestStreamActionScheduleGrid: with TriggerSource=Action0, every firing of a
// committed ActionSchedulerTime/Interval yields one frame stamped exactly on
// the grid, frame counters consecutive, pixels intact.
func TestStreamActionScheduleGrid(t *testing.T) {
	g, r, cc := triggeredStream(t, 1400, 1) // Action0

	const interval = 40 * time.Millisecond
	t0 := g.latch() + uint64(300*time.Millisecond)
	g.write64(rSchedTime, t0)
	g.mustWrite(rSchedInterval, uint32(interval/time.Microsecond))
	g.mustWrite(rSchedCommit, 1)

	var last uint64
	for i := 0; i < 10; i++ {
		f, err := r.next(2 * time.Second)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		want := t0 + uint64(i)*uint64(interval)
		if f.Timestamp != want {
			t.Errorf("frame %d: timestamp %d, want %d (off by %d ns)", i, f.Timestamp, want, int64(f.Timestamp-want))
		}
		n, ok := camsim.FrameCounter(f.Pixels)
		if !ok {
			t.Fatalf("frame %d: no camsim frame header", i)
		}
		if ts, _ := camsim.FrameTimestamp(f.Pixels); ts != f.Timestamp {
			t.Errorf("frame %d: pixel timestamp %d, leader %d", i, ts, f.Timestamp)
		}
		if i > 0 && n != last+1 {
			t.Errorf("frame counter %d after %d", n, last)
		}
		if f.Block != camsim.BlockID(n) {
			t.Errorf("block id %d for counter %d", f.Block, n)
		}
		if f.Missing != 0 || f.PixelFormat != camsim.PixelFormatBayerGR8 || f.Width != 320 || f.Height != 240 {
			t.Errorf("frame %d: missing %d packets, format 0x%x %dx%d", i, f.Missing, f.PixelFormat, f.Width, f.Height)
		}
		for j := 24; j < len(f.Pixels); j += 997 {
			if f.Pixels[j] != byte(j*7) {
				t.Fatalf("frame %d: pixel %d = %d, want %d", i, j, f.Pixels[j], byte(j*7))
			}
		}
		last = n
	}
	g.mustWrite(rSchedCancel, 1)
	s, err := cc.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.ActionsFired < 10 {
		t.Errorf("actions_fired %d, want ≥ 10", s.ActionsFired)
	}
}

// TestStreamSoftwareTriggerAndResend: TriggerSoftware produces one frame per
// trigger; a frame whose packets were all dropped (drop-percent=100) is
// recovered whole by PACKETRESEND from the ring.
func TestStreamSoftwareTriggerAndResend(t *testing.T) {
	g, r, cc := triggeredStream(t, 1000, 0) // Software

	before := g.latch()
	g.mustWrite(rTrigSoft, 1)
	f, err := r.next(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := camsim.FrameCounter(f.Pixels); n != 1 || f.Timestamp < before || f.Missing != 0 {
		t.Errorf("software-triggered frame: counter %d, stamped %d (trigger at %d), missing %d", n, f.Timestamp, before, f.Missing)
	}

	if err := cc.Set(t.Context(), "drop-percent", "100"); err != nil {
		t.Fatal(err)
	}
	g.mustWrite(rTrigSoft, 1)
	if f, err := r.next(500 * time.Millisecond); err == nil {
		t.Fatalf("drop-percent=100 let frame %d through", f.Block)
	}
	s, _ := cc.State(t.Context())
	if s.PacketsDropped == 0 || s.FramesSent != 2 {
		t.Fatalf("packets_dropped %d frames_sent %d; want >0, 2", s.PacketsDropped, s.FramesSent)
	}
	if err := cc.Set(t.Context(), "drop-percent", "0"); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 12)
	binary.BigEndian.PutUint16(p[2:], camsim.BlockID(2))
	binary.BigEndian.PutUint32(p[8:], 0xFFFFFF) // packets 0 … last
	if ans := g.raw(camsim.MarshalCommand(camsim.FlagAckRequired, camsim.CmdPacketResend, 99, p), 10*time.Millisecond); ans != nil {
		t.Errorf("PACKETRESEND answered %x; GigE Vision never acknowledges it", ans)
	}
	f2, err := r.next(2 * time.Second)
	if err != nil {
		t.Fatalf("resent frame: %v", err)
	}
	if n, ok := camsim.FrameCounter(f2.Pixels); !ok || n != 2 || f2.Missing != 0 || f2.Block != camsim.BlockID(2) {
		t.Fatalf("resent frame: counter %d (%v), block %d, missing %d; want 2, complete", n, ok, f2.Block, f2.Missing)
	}
	s, _ = cc.State(t.Context())
	if s.ResendRequests != 1 || s.PacketsResent == 0 || s.SoftTriggers != 2 {
		t.Errorf("resend_requests %d packets_resent %d software_triggers %d", s.ResendRequests, s.PacketsResent, s.SoftTriggers)
	}
}

// TestStreamFreeRun: trigger mode off streams at AcquisitionFrameRate with
// consecutive counters.
func TestStreamFreeRun(t *testing.T) {
	addr, cc := startInProcess(t, nil)
	g := newGVCPClient(t, addr)
	r := newGVSPReceiver(t)
	setupStream(t, g, r, 8192)
	g.write64(rFrameRate, 0x4049000000000000) // 50.0
	g.mustWrite(rAcqStart, 1)
	var last uint64
	const n = 25
	for i := 0; i < n; i++ {
		f, err := r.next(2 * time.Second)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		c, ok := camsim.FrameCounter(f.Pixels)
		if !ok || f.Missing != 0 {
			t.Fatalf("frame %d: header %v, missing %d", i, ok, f.Missing)
		}
		if i > 0 && c != last+1 {
			t.Errorf("counter %d after %d", c, last)
		}
		last = c
	}
	g.mustWrite(rAcqStop, 1)
	if s, _ := cc.State(t.Context()); s.FrameRate != 50 || s.Acquiring {
		t.Errorf("frame_rate %g acquiring %v after AcquisitionStop, want 50, false", s.FrameRate, s.Acquiring)
	}
}

// TestStreamAravisBatched: real Aravis (arv-camera-test-0.8) receives
// camsim's batched 1080p stream whole at 1500- and 9000-byte packets, both
// across the rig's layout (camsim alone in a namespace on a veth whose peer
// is a bridge port, Aravis behind another veth on the same bridge) and on a
// namespace's loopback: Aravis counts no missing packets, errors or
// failures, and camsim logged that its frames left in sendmmsg batches (the
// default) and never fell back. The veth's UDP segmentation offload is off
// as in the rig (rig.SegmentUDPInSoftware). On loopback Aravis reads with
// its packet socket (its default as root), which sees each datagram as the
// sender made it. Across the veth it reads both with its packet socket on
// vh0 (which saw no packet while br0 answered ARP for vh0's address: see
// bridgedCamera) and with a UDP socket sized to the payload (-a). 10 fps, resend requests allowed for every packet of a frame (-q 2:
// a receiver that loses the CPU for a few milliseconds loses a run of
// packets, batched or not) and 2 s for a frame to complete (-m 2000, not
// 200 ms) leave the slower and busier machines of our kind their margin.
// Every session must be clean at its first try, with at least 20 of its
// some 29 frames: sessions used to stall after a frame's first batch (the
// pacer's sleep ran on for as long as a garbage collection asked the
// streamer to stop: fineSleep, TestFineSleepUnderSignals), and Aravis then
// asked for the whole frame again and completed 2–12 frames in 3 s.
func TestStreamAravisBatched(t *testing.T) {
	host := newNetns(t)
	testenv.RequireTool(t, "arv-camera-test-0.8")
	camNS := bridgedCamera(t, host)
	loNS := newNetns(t)
	args := []string{"--profile", "noptp", "--width", "1920", "--height", "1080", "--log.level", "info"}
	for _, tc := range []struct {
		name     string
		camNS    *rig.Netns
		address  string // "" for eth0's
		aravisNS *rig.Netns
		aravis   []string
	}{
		{"veth", camNS, "", host, []string{"-a", "--no-packet-socket"}},
		{"veth-packet", camNS, "", host, nil},
		{"loopback", loNS, "127.0.0.2", loNS, nil},
		{"loopback-udp", loNS, "127.0.0.2", loNS, []string{"-a", "--no-packet-socket"}},
	} {
		for _, ps := range []int{1500, 9000} {
			t.Run(fmt.Sprintf("%s/packet%d", tc.name, ps), func(t *testing.T) {
				// A camsim per session: frames queued for the last one
				// are not this one's to count.
				a := append([]string{"--interface", "eth0"}, args...)
				if tc.address != "" {
					a = args
				}
				cam := startCamsim(t, tc.camNS, tc.address, "05520140", a...)
				stats := aravisStream(t, tc.aravisNS, cam.Serial, ps, tc.aravis...)
				_ = cam.cmd.Process.Signal(os.Interrupt)
				<-cam.done
				log := cam.out.String()
				if stats["n_completed_buffers"] < 20 || stats["n_failures"] != 0 || stats["n_missing_packets"] != 0 ||
					stats["n_error_packets"] != 0 || stats["n_missing_frames"] != 0 || stats["n_size_mismatch_errors"] != 0 {
					t.Errorf("arv-camera-test statistics %v", stats)
				}
				if !strings.Contains(log, "gvsp: frames leave in batches") || strings.Contains(log, "send refused") {
					t.Errorf("camsim did not stream in batches throughout:\n%s", log)
				}
				if want := `msg="gvsp: frames leave in batches" serial=05520140 mode=mmsg `; !strings.Contains(log, want) {
					t.Errorf("camsim's log lacks %q:\n%s", want, log)
				}
			})
		}
	}
}

// bridgedCamera makes the rig's layout in small: a camera namespace whose
// eth0 (10.89.0.2, MTU 9000) is a veth to a port of bridge br0 in host, and
// host's vh0 (10.89.0.1) a veth to another port.
func bridgedCamera(t testing.TB, host *rig.Netns) *rig.Netns {
	t.Helper()
	ctx := t.Context()
	camNS, err := rig.NewNetns(ctx, rig.UniqueName("camsimb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { camNS.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(host.IP(ctx, "link", "add", "br0", "type", "bridge"))
	must(host.IP(ctx, "link", "set", "br0", "up"))
	// br0 has no address, yet by default (arp_ignore 0) it answers ARP
	// for vh0's too: the camera's neighbour entry for 10.89.0.1 then held
	// br0's MAC (9 runs of 9), so its stream went to the bridge's own
	// stack instead of across vh0p to vh0, where a receiver bound to vh0
	// (Aravis' packet socket) never sees it. arp_ignore 1: only vh0 answers.
	if out, err := host.Command(ctx, "sysctl", "-qw", "net.ipv4.conf.br0.arp_ignore=1").CombinedOutput(); err != nil {
		t.Fatalf("br0 arp_ignore: %v: %s", err, out)
	}
	must(rig.VethPair(ctx, host, "vh0", "10.89.0.1/24", host, "vh0p", ""))
	must(rig.VethPair(ctx, camNS, "eth0", "10.89.0.2/24", host, "cam0", ""))
	must(rig.SegmentUDPInSoftware(camNS, "eth0"))
	for _, dev := range []string{"vh0", "vh0p", "cam0"} {
		must(host.IP(ctx, "link", "set", dev, "mtu", "9000"))
	}
	must(camNS.IP(ctx, "link", "set", "eth0", "mtu", "9000"))
	must(host.IP(ctx, "link", "set", "vh0p", "master", "br0"))
	must(host.IP(ctx, "link", "set", "cam0", "master", "br0"))
	return camNS
}

// aravisStream runs arv-camera-test-0.8 in ns on camera serial for 3 s at
// 10 fps with packets of packetSize bytes, and returns its n_* statistics.
// A packet timeout of 200 ms (-p), not Aravis' 20 ms: on a loaded 2-core
// machine camsim's sender waits that long for a CPU, mostly in a session's
// first frame, and Aravis then asked for the rest of the frame (1375 of
// 1419 packets at 1500 bytes), whose originals came next and completed it:
// every resent packet was ignored (n_ignored_packets = n_resend_requests,
// no receive buffer errors), and the burst of resends overflowed the
// receiver in one run of 9 (26 frames, 11819 packets resent).
func aravisStream(t *testing.T, ns *rig.Netns, serial string, packetSize int, extra ...string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	args := append([]string{"-n", "ptpcam-camsim-" + serial, "--duration", "3", "-f", "10",
		"-i", strconv.Itoa(packetSize), "-j", "never", "-q", "2", "-p", "200", "-m", "2000"}, extra...)
	out, err := ns.Command(ctx, "arv-camera-test-0.8", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("arv-camera-test-0.8: %v\n%s", err, out)
	}
	stats := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^(n_\w+)\s+=\s+(\d+)`).FindAllStringSubmatch(string(out), -1) {
		stats[m[1]], _ = strconv.Atoi(m[2])
	}
	if len(stats) == 0 {
		t.Fatalf("arv-camera-test-0.8 printed no statistics:\n%s", out)
	}
	t.Logf("arv-camera-test-0.8: %d frames, %d resend requests, %d packets ignored", stats["n_completed_buffers"],
		stats["n_resend_requests"], stats["n_ignored_packets"])
	return stats
}

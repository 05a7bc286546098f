package camsim_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
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

// TestStreamActionScheduleGrid: with TriggerSource=Action0, every firing of a
// committed ActionSchedulerTime/Interval yields one frame stamped exactly on
// the grid, frame counters consecutive, pixels intact.
func TestStreamActionScheduleGrid(t *testing.T) {
	addr, cc := startInProcess(t, nil)
	g := newGVCPClient(t, addr)
	r := newGVSPReceiver(t)
	setupStream(t, g, r, 1400)
	g.mustWrite(rTriggerMode, 1)
	g.mustWrite(rTriggerSource, 1) // Action0
	g.mustWrite(rAcqStart, 1)

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
	addr, cc := startInProcess(t, nil)
	g := newGVCPClient(t, addr)
	r := newGVSPReceiver(t)
	setupStream(t, g, r, 1000)
	g.mustWrite(rTriggerMode, 1)
	g.mustWrite(rTriggerSource, 0) // Software
	g.mustWrite(rAcqStart, 1)

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

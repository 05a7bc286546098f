package camsim_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
)

// procCPU returns the user+system CPU time pid has used (/proc/PID/stat,
// the counters getrusage reports).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which may hold spaces: state is field 3.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// BenchmarkStream1080p streams 1920x1080 BayerGR8 at 50 fps from a camsim
// process (noptp: it sends no broadcast or multicast, so it runs on
// 127.0.0.1 here) to a Go GVSP receiver on loopback, and reports achieved
// frames per second, missing frames and packets, and camsim's CPU per frame.
// Run with -benchtime=250x (5 s of video) or more.
func BenchmarkStream1080p(b *testing.B) {
	for _, ps := range []int{1500, 9000} {
		b.Run(fmt.Sprintf("packet%d", ps), func(b *testing.B) { benchStream(b, ps) })
	}
}

func benchStream(b *testing.B, packetSize int) {
	port := freeUDPPort(b)
	sock := filepath.Join(b.TempDir(), "control.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, camsimBinary(b), "--address", "127.0.0.1", "--gvcp-port", strconv.Itoa(port),
		"--profile", "noptp", "--width", "1920", "--height", "1080", "--frame-rate", "50", "--control-address", "unix:"+sock,
		"--log.level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	cc := camsim.DialControl("unix:" + sock)
	for i := 0; ; i++ {
		if _, err := cc.State(ctx); err == nil {
			break
		} else if i > 200 {
			b.Fatal(err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	g := newGVCPClient(b, mustAddrPort("127.0.0.1", port))
	r := newGVSPReceiver(b)
	g.mustWrite(0x0A00, 2)
	g.mustWrite(rSCDA, 127<<24|1)
	g.mustWrite(rSCPort, r.port())
	g.mustWrite(rSCPS, uint32(packetSize))
	g.mustWrite(rAcqStart, 1)

	// Warm up one frame, then measure.
	if _, err := r.next(2 * time.Second); err != nil {
		b.Fatal(err)
	}
	cpu0 := procCPU(b, cmd.Process.Pid)
	start := time.Now()
	b.ResetTimer()
	var last uint64
	var missingFrames, missingPackets, got int
	for i := 0; i < b.N; i++ {
		f, err := r.next(2 * time.Second)
		if err != nil {
			b.Fatalf("frame %d: %v", i, err)
		}
		got++
		missingPackets += f.Missing
		n, ok := camsim.FrameCounter(f.Pixels)
		if !ok {
			missingFrames++ // a frame without its first payload packet
			continue
		}
		if last != 0 && n > last+1 {
			missingFrames += int(n - last - 1)
		}
		last = n
	}
	el := time.Since(start)
	b.StopTimer()
	cpu := procCPU(b, cmd.Process.Pid) - cpu0
	g.mustWrite(rAcqStop, 1)
	b.ReportMetric(float64(got)/el.Seconds(), "fps")
	b.ReportMetric(float64(missingFrames), "missing-frames")
	b.ReportMetric(float64(missingPackets), "missing-packets")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(got), "camsim-cpu-ms/frame")
}

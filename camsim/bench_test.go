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
	"sync"
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

var (
	flavorMu   sync.Mutex
	flavorBins = map[string]string{}
)

// camsimFlavor builds cmd/camsim with GVSP send path mode ("gso" or
// "per-packet", the path before batching; see camsim/stream_batch.go), once
// per test run; the default path ("mmsg") is camsimBinary.
func camsimFlavor(b *testing.B, mode string) string {
	b.Helper()
	flavorMu.Lock()
	defer flavorMu.Unlock()
	if bin, ok := flavorBins[mode]; ok {
		return bin
	}
	bin := filepath.Join(filepath.Dir(camsimBinary(b)), "camsim-"+mode)
	out, err := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/ptpcam/ptpcam/camsim.gvspSend="+mode, "../cmd/camsim").CombinedOutput()
	if err != nil {
		b.Fatalf("go build ./cmd/camsim (%s): %v: %s", mode, err, out)
	}
	flavorBins[mode] = bin
	return bin
}

// streamResult is what one camsim process did for a run of frames.
type streamResult struct {
	fps, cpuMsPerFrame            float64
	missingFrames, missingPackets int
}

// BenchmarkStream1080p streams 1920x1080 BayerGR8 at 50 fps from a camsim
// process (noptp: it sends no broadcast or multicast, so it runs on
// 127.0.0.1 here) to a Go GVSP receiver on loopback: b.N frames from the
// default build (sendmmsg batches), then b.N from a build with UDP GSO
// batches and b.N from one with one packet per syscall (the baseline, the
// path before batching). It reports achieved frames per second, missing
// frames and packets and camsim's CPU per frame of the default path, the
// CPU of the other two, and the baseline's CPU over the default's.
// Run with -benchtime=150x (3 s of video per path) or more.
func BenchmarkStream1080p(b *testing.B) {
	for _, ps := range []int{1500, 9000} {
		b.Run(fmt.Sprintf("packet%d", ps), func(b *testing.B) {
			gsoBin, baseBin := camsimFlavor(b, "gso"), camsimFlavor(b, "per-packet")
			mmsg := streamFrames(b, camsimBinary(b), ps)
			gso := streamFrames(b, gsoBin, ps)
			old := streamFrames(b, baseBin, ps)
			b.ReportMetric(mmsg.fps, "fps")
			b.ReportMetric(float64(mmsg.missingFrames), "missing-frames")
			b.ReportMetric(float64(mmsg.missingPackets), "missing-packets")
			b.ReportMetric(mmsg.cpuMsPerFrame, "camsim-cpu-ms/frame")
			b.ReportMetric(gso.cpuMsPerFrame, "gso-cpu-ms/frame")
			b.ReportMetric(float64(gso.missingFrames+gso.missingPackets), "gso-missing")
			b.ReportMetric(old.fps, "per-packet-fps")
			b.ReportMetric(float64(old.missingFrames+old.missingPackets), "per-packet-missing")
			b.ReportMetric(old.cpuMsPerFrame, "per-packet-cpu-ms/frame")
			b.ReportMetric(old.cpuMsPerFrame/mmsg.cpuMsPerFrame, "per-packet/batched-cpu")
		})
	}
}

// streamFrames starts the camsim binary bin and receives b.N frames of
// packetSize-byte packets from it.
func streamFrames(b *testing.B, bin string, packetSize int) streamResult {
	b.Helper()
	port := freeUDPPort(b)
	sock := filepath.Join(b.TempDir(), "control.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--address", "127.0.0.1", "--gvcp-port", strconv.Itoa(port),
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
	g.mustWrite(0x0938, 600000) // heartbeat timeout: this client sends no heartbeats while it counts frames
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
	var res streamResult
	var last uint64
	got := 0
	for i := 0; i < b.N; i++ {
		f, err := r.next(2 * time.Second)
		if err != nil {
			b.Fatalf("%s: frame %d: %v", filepath.Base(bin), i, err)
		}
		got++
		res.missingPackets += f.Missing
		n, ok := camsim.FrameCounter(f.Pixels)
		if !ok {
			res.missingFrames++ // a frame without its first payload packet
			continue
		}
		if last != 0 && n > last+1 {
			res.missingFrames += int(n - last - 1)
		}
		last = n
	}
	el := time.Since(start)
	cpu := procCPU(b, cmd.Process.Pid) - cpu0
	g.mustWrite(rAcqStop, 1)
	res.fps = float64(got) / el.Seconds()
	res.cpuMsPerFrame = float64(cpu.Microseconds()) / 1000 / float64(got)
	return res
}

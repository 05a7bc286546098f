package camsim_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// procUserSys returns the user and the system CPU time pid has used
// (/proc/PID/stat, the counters getrusage reports).
func procUserSys(b *testing.B, pid int) (user, sys time.Duration) {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which may hold spaces: state is field 3.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut) * time.Second / 100, time.Duration(st) * time.Second / 100 // USER_HZ
}

// camsimFlavor builds cmd/camsim with GVSP send path mode ("auto", "gso"
// or "per-packet", the path before batching; see camsim/stream_batch.go),
// once per test run (testenv.BuildWith); the default path ("mmsg") is
// camsimBinary.
func camsimFlavor(b *testing.B, mode string) string {
	b.Helper()
	return testenv.BuildWith(b, "camsim-"+mode, "camsim",
		"-ldflags", "-X github.com/ptpcam/ptpcam/camsim.gvspSend="+mode)
}

// streamResult is what one camsim process did for a run of frames.
type streamResult struct {
	fps, cpuMsPerFrame            float64
	userMsPerFrame                float64 // of cpuMsPerFrame, in camsim's own code (the rest in the kernel)
	missingFrames, missingPackets int
}

// BenchmarkStream1080p streams 1920x1080 BayerGR8 at 50 fps from a camsim
// process to a Go GVSP receiver across the rig's layout (bridgedCamera:
// camsim alone in a namespace on a veth to a bridge, whose UDP segmentation
// offload is off as in the rig, the receiver in the bridge's namespace):
// b.N frames from the default build (sendmmsg batches), then b.N from a
// build with the auto path (GSO batches there, which the kernel cuts into
// packets before they leave the camera's namespace) and b.N from one with
// one packet per syscall (the baseline, the path before batching). It
// reports achieved frames per second, missing frames and packets and
// camsim's CPU per frame of the default path (and the part of it in camsim's
// own code, user time: the rest is the kernel's, the sending stack and, run
// in camsim's context, much of the receiving one), the CPU of the other two, and
// the baseline's CPU over the default's and over GSO's. Run with
// -benchtime=150x (3 s of video per path) or more.
func BenchmarkStream1080p(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireTool(b, "ip")
	for _, ps := range []int{1500, 9000} {
		b.Run(fmt.Sprintf("packet%d", ps), func(b *testing.B) {
			host, err := rig.NewNetns(b.Context(), rig.UniqueName("camsimbench"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { host.Close() })
			camNS := bridgedCamera(b, host)
			gsoBin, baseBin := camsimFlavor(b, "auto"), camsimFlavor(b, "per-packet")
			def := streamFrames(b, camsimBinary(b), host, camNS, ps)
			gso := streamFrames(b, gsoBin, host, camNS, ps)
			old := streamFrames(b, baseBin, host, camNS, ps)
			b.ReportMetric(def.fps, "fps")
			b.ReportMetric(float64(def.missingFrames), "missing-frames")
			b.ReportMetric(float64(def.missingPackets), "missing-packets")
			b.ReportMetric(def.cpuMsPerFrame, "camsim-cpu-ms/frame")
			b.ReportMetric(def.userMsPerFrame, "camsim-user-ms/frame")
			b.ReportMetric(gso.cpuMsPerFrame, "gso-cpu-ms/frame")
			b.ReportMetric(gso.userMsPerFrame, "gso-user-ms/frame")
			b.ReportMetric(float64(gso.missingFrames+gso.missingPackets), "gso-missing")
			b.ReportMetric(old.fps, "per-packet-fps")
			b.ReportMetric(float64(old.missingFrames+old.missingPackets), "per-packet-missing")
			b.ReportMetric(old.cpuMsPerFrame, "per-packet-cpu-ms/frame")
			b.ReportMetric(old.cpuMsPerFrame/def.cpuMsPerFrame, "per-packet/default-cpu")
			b.ReportMetric(old.cpuMsPerFrame/gso.cpuMsPerFrame, "per-packet/gso-cpu")
		})
	}
}

// Addresses of bridgedCamera's layout.
var (
	benchHostIP = net.IPv4(10, 89, 0, 1)
	benchCamIP  = mustAddr("10.89.0.2")
)

// inNetns runs fn on a thread in namespace ns: the sockets it opens are
// ns's. The thread goes back to its own namespace after, or, if it cannot,
// ends with its goroutine.
func inNetns(b *testing.B, ns *rig.Netns, fn func() error) {
	b.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/var/run/netns/" + ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		err = fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// streamFrames starts the camsim binary bin in camNS and receives b.N
// frames of packetSize-byte packets from it in host.
func streamFrames(b *testing.B, bin string, host, camNS *rig.Netns, packetSize int) streamResult {
	b.Helper()
	port := freeUDPPort(b)
	sock := filepath.Join(b.TempDir(), "control.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := camNS.Command(ctx, bin, "--interface", "eth0", "--gvcp-port", strconv.Itoa(port),
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
	var gc, rc *net.UDPConn
	inNetns(b, host, func() (err error) {
		if gc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: benchHostIP}); err != nil {
			return err
		}
		rc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: benchHostIP})
		return err
	})
	defer gc.Close()
	defer rc.Close()
	_ = rc.SetReadBuffer(8 << 20)
	g := &gvcpClient{t: b, conn: gc, dst: netip.AddrPortFrom(benchCamIP, uint16(port)), id: 1}
	r := &gvspReceiver{conn: rc}
	g.mustWrite(0x0A00, 2)
	g.mustWrite(0x0938, 600000) // heartbeat timeout: this client sends no heartbeats while it counts frames
	g.mustWrite(rSCDA, 10<<24|89<<16|1)
	g.mustWrite(rSCPort, r.port())
	g.mustWrite(rSCPS, uint32(packetSize))
	g.mustWrite(rAcqStart, 1)
	return measureFrames(b, bin, cmd.Process.Pid, g, r)
}

// measureFrames receives b.N frames after one of warm-up, and camsim's
// (pid's) CPU meanwhile.
func measureFrames(b *testing.B, bin string, pid int, g *gvcpClient, r *gvspReceiver) streamResult {
	b.Helper()
	if _, err := r.next(2 * time.Second); err != nil {
		b.Fatal(err)
	}
	user0, sys0 := procUserSys(b, pid)
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
	user1, sys1 := procUserSys(b, pid)
	g.mustWrite(rAcqStop, 1)
	res.fps = float64(got) / el.Seconds()
	res.cpuMsPerFrame = float64((user1 - user0 + sys1 - sys0).Microseconds()) / 1000 / float64(got)
	res.userMsPerFrame = float64((user1 - user0).Microseconds()) / 1000 / float64(got)
	return res
}

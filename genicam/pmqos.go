package genicam

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"
)

// cpuLatencyDevice is the kernel's PM QoS CPU latency interface (a variable
// for tests).
var cpuLatencyDevice = "/dev/cpu_dma_latency"

// holdCPULatency is what Latch and LatchAll call; BenchmarkLatch8 swaps it to
// measure the latch without the request.
var holdCPULatency = HoldCPULatency

// HoldCPULatency asks the kernel to keep every idle CPU in idle states it
// leaves within limit, until release is called: the PM QoS CPU latency
// request (/dev/cpu_dma_latency) that cyclictest and tuned's
// latency-performance profile make. With limit 0, idle CPUs poll instead of
// halting, so the thread an acknowledgement wakes runs at once instead of
// after the CPU's exit latency (tens of µs on a VM that halts idle vCPUs,
// up to hundreds on a server in a deep C-state), which would widen a latch
// bracket. Hold it only around a burst of latches: polling CPUs burn power.
//
// Latch and LatchAll hold it themselves. The device is root's; without it
// HoldCPULatency returns a no-op release and an error naming the device, and
// latches go on without the request.
func HoldCPULatency(limit time.Duration) (release func(), err error) {
	f, err := os.OpenFile(cpuLatencyDevice, os.O_WRONLY, 0)
	if err != nil {
		return func() {}, fmt.Errorf("PM QoS CPU latency request: %w", err)
	}
	us := int32(min(limit.Microseconds(), 1<<31-1))
	if err := binary.Write(f, binary.NativeEndian, us); err != nil {
		f.Close()
		return func() {}, fmt.Errorf("PM QoS CPU latency request: writing %s: %w", cpuLatencyDevice, err)
	}
	// The request lasts as long as the file is open.
	return func() { f.Close() }, nil
}

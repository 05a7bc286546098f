package genicam

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// readCPULatency reads the kernel's current aggregate CPU latency limit, in µs.
func readCPULatency(t *testing.T) int32 {
	t.Helper()
	f, err := os.Open(cpuLatencyDevice)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var v int32
	if err := binary.Read(f, binary.NativeEndian, &v); err != nil {
		t.Fatalf("reading %s: %v", cpuLatencyDevice, err)
	}
	return v
}

// The request is in force, as the kernel reports it, exactly while it is
// held; nested requests keep the lowest.
func TestHoldCPULatency(t *testing.T) {
	testenv.RequireRoot(t)
	// Another process's request (a latch of a test running beside this
	// one) hides ours while it is lower: wait for it to end.
	before := readCPULatency(t)
	for deadline := time.Now().Add(10 * time.Second); before <= 100 && time.Now().Before(deadline); before = readCPULatency(t) {
		time.Sleep(10 * time.Millisecond)
	}
	if before <= 100 {
		testenv.Skip(t, "%s held at %d µs by another process for 10 s; a request of 100 µs cannot be seen", cpuLatencyDevice, before)
	}
	outer, err := HoldCPULatency(100 * time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := readCPULatency(t); got != 100 {
		t.Errorf("holding 100 µs: kernel reports %d µs", got)
	}
	inner, err := HoldCPULatency(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readCPULatency(t); got != 0 {
		t.Errorf("holding 0 µs within 100 µs: kernel reports %d µs", got)
	}
	inner()
	if got := readCPULatency(t); got != 100 {
		t.Errorf("after releasing the inner request: kernel reports %d µs, want 100", got)
	}
	outer()
	if got := readCPULatency(t); got != before {
		t.Errorf("after releasing both: kernel reports %d µs, want %d as before", got, before)
	}
}

// Without the device the error names it and release is safe to call.
func TestHoldCPULatencyUnavailable(t *testing.T) {
	saved := cpuLatencyDevice
	t.Cleanup(func() { cpuLatencyDevice = saved })
	cpuLatencyDevice = filepath.Join(t.TempDir(), "cpu_dma_latency")
	release, err := HoldCPULatency(0)
	if err == nil || !strings.Contains(err.Error(), cpuLatencyDevice) {
		t.Fatalf("HoldCPULatency without the device: %v, want an error naming %s", err, cpuLatencyDevice)
	}
	release()
}

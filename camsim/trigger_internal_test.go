package camsim

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// TestTriggerPeriod: a triggered frame is paced over the trigger interval
// where triggers come faster than the frame period (a 10 fps default the
// host never changed, action commands at 50 Hz), over the frame period
// where they come slower, and one short gap does not shrink it.
func TestTriggerPeriod(t *testing.T) {
	c := &camera{}
	frame, ms := 100*time.Millisecond, int64(time.Millisecond)
	for _, step := range []struct {
		at   int64
		want time.Duration
	}{
		{1000 * ms, frame},                 // first: no interval yet
		{1020 * ms, 20 * time.Millisecond}, // 50 Hz
		{1040 * ms, 20 * time.Millisecond}, //
		{1041 * ms, 20 * time.Millisecond}, // one short gap: the longer of the last two
		{1060 * ms, 19 * time.Millisecond}, //
		{1080 * ms, 20 * time.Millisecond}, //
		{1580 * ms, frame},                 // slower than the frame rate
		{1580*ms - 1, frame},               // host clock went back: no interval
	} {
		if got := c.triggerPeriodLocked(step.at, frame); got != step.want {
			t.Errorf("trigger at %d ms: paced over %v, want %v", step.at/ms, got, step.want)
		}
	}
}

// TestGenICamFrameRateTimebase: FLIR's AcquisitionFrameRate converts over
// a read-only timebase register (FrameRateNumerator) that zeroed memory
// reads 0; camsim gives it one, so the rate the host writes reaches the
// camera's frame period.
func TestGenICamFrameRateTimebase(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.VendorXMLDir(t), "FLIR_BFS-PGE-50S4C.xml"))
	if err != nil {
		t.Fatal(err)
	}
	c := impersonate(t, b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gc.g.SetFloat("AcquisitionFrameRate", 50); err != nil {
		t.Fatal(err)
	}
	c.gc.watchLocked()
	got, err := c.gc.g.Float("AcquisitionFrameRate")
	if err != nil || math.Abs(got-50) > 0.01 || math.Abs(c.frameRate-50) > 0.01 {
		t.Errorf("AcquisitionFrameRate 50 written: reads %g (%v), camera frame rate %g", got, err, c.frameRate)
	}
}

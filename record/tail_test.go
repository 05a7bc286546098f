package record

import (
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// TestTailTriggersMissing: the last triggers of a fixed-length take never
// arrive (their actions never landed); the padding to the take's end counts
// them as missing, so the camera is not clean.
func TestTailTriggersMissing(t *testing.T) {
	cfg := testConfig(t)
	cfg.StallTimeout = time.Second
	tail := map[int64]bool{}
	for k := int64(82); k < 100; k++ {
		tail[k] = true
	}
	_, res := record(t, cfg, &fakeCamera{serial: "T1"}, &fakeCamera{serial: "T2", skip: tail})
	if res.Frames != 100 {
		t.Fatalf("take frames = %d, want 100", res.Frames)
	}
	if c := res.Cameras[0]; c.Err != "" || c.Missing != 0 || !c.Clean() {
		t.Errorf("T1: err %q missing %d clean %v, want a clean take", c.Err, c.Missing, c.Clean())
	}
	c := res.Cameras[1]
	if c.Err != "" || c.Written != 100 || c.Missing != 18 || c.Filled != 18 || c.Clean() {
		t.Errorf("T2: err %q written %d missing %d filled %d clean %v, want \"\" 100 18 18 false",
			c.Err, c.Written, c.Missing, c.Filled, c.Clean())
	}
	if n := testenv.VideoFrames(t, c.File); n != 100 {
		t.Errorf("T2: ffprobe counts %d frames, want 100", n)
	}
	rows := readSidecar(t, c.Sidecar)
	if len(rows) != 100 {
		t.Fatalf("T2: %d sidecar rows, want 100", len(rows))
	}
	for k := 82; k < 100; k++ {
		if rows[k]["status"] != "missing" || rows[k]["filled"] != "1" {
			t.Errorf("T2 row %d: status %s filled %s, want missing 1", k, rows[k]["status"], rows[k]["filled"])
		}
	}
}

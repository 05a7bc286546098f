package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/camsimtest"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// TestHeldCamera: camrecord asked to record a camera another application
// controls exits 1 naming that application (address, this host, process)
// instead of Aravis' access-denied, and writes no file.
func TestHeldCamera(t *testing.T) {
	testenv.RequireTool(t, "ffmpeg")
	r := testenv.UpRig(t, rig.Config{Name: rig.UniqueName("ch"), Cameras: rig.DefaultCameras(2, 0)})
	const serial = "05520126"
	h := testenv.HoldCamera(t, r, serial, "-f", "2")
	addr := h.WaitControl(t, 30*time.Second, func() string { return camsimtest.State(t, r, serial).Controller })
	pid := h.Pid()
	bin := filepath.Join(testenv.Build(t, "camrecord"), "camrecord")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := r.Host().Command(ctx, bin, "--output-dir", dir, "--ptp.socket", r.Socket,
		"--web.listen-address", "127.0.0.1:19879", "--camera.serial", "05520125", "--camera.serial", serial,
		"--duration", "2s", "--lead-time", "3s")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err == nil {
		code = 0
	}
	t.Logf("camrecord → exit %d (%v)\n%s", code, err, out.String())
	want := fmt.Sprintf("camera %s is controlled by another application at %s (this host: arv-camera-test-0.8 pid %d)", serial, addr, pid)
	if code != exitNothing || !strings.Contains(out.String(), want) {
		t.Errorf("exit %d, output lacks %q; want exit %d naming the holder", code, want, exitNothing)
	}
	if strings.Contains(out.String(), "access-denied") {
		t.Errorf("output still gives Aravis' access-denied")
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 0 {
		t.Errorf("camrecord left %d files in %s: %v", len(files), dir, files)
	}
	// The free camera was closed again: nobody controls it.
	if c := camsimtest.State(t, r, "05520125").Controller; c != "" {
		t.Errorf("camera 05520125 still controlled by %s after camrecord exited", c)
	}
}

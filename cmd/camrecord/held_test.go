package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// heldState is camsim's view of a camera of the rig.
func heldState(t *testing.T, r *rig.Rig, serial string) camsim.State {
	t.Helper()
	cam, err := r.Camera(serial)
	if err != nil {
		t.Fatal(err)
	}
	st, err := camsim.DialControl(cam.Control).State(t.Context())
	if err != nil {
		t.Fatalf("camera %s: camsim state: %v", serial, err)
	}
	return st
}

// heldBy starts another application controlling the camera, Aravis' own
// arv-camera-test-0.8 streaming from it in the rig's host namespace, and
// waits until camsim shows it as the controller. It returns the controller's
// address as camsim shows it and the holder's pid.
func heldBy(t *testing.T, r *rig.Rig, serial string) (string, int) {
	t.Helper()
	testenv.RequireTool(t, "arv-camera-test-0.8")
	cam, err := r.Camera(serial)
	if err != nil {
		t.Fatal(err)
	}
	out := &testenv.LockedBuffer{}
	cmd := r.Host().Command(context.Background(), "arv-camera-test-0.8", "-n", cam.Address, "-f", "2")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if addr := heldState(t, r, serial).Controller; addr != "" {
			return addr, cmd.Process.Pid
		}
		select {
		case <-done:
			t.Fatalf("arv-camera-test exited before taking control: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("arv-camera-test never took control of %s: %s", serial, out.String())
		}
	}
}

// TestHeldCamera: camrecord asked to record a camera another application
// controls exits 1 naming that application (address, this host, process)
// instead of Aravis' access-denied, and writes no file.
func TestHeldCamera(t *testing.T) {
	testenv.RequireTool(t, "ffmpeg")
	r := testenv.UpRig(t, rig.Config{Name: rig.UniqueName("ch"), Cameras: rig.DefaultCameras(2, 0)})
	const serial = "05520126"
	addr, pid := heldBy(t, r, serial)
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
	if c := heldState(t, r, "05520125").Controller; c != "" {
		t.Errorf("camera 05520125 still controlled by %s after camrecord exited", c)
	}
}

package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// holder is another application controlling a camera: Aravis' own
// arv-camera-test-0.8 streaming from it in the rig's host namespace.
type holder struct {
	cmd  *exec.Cmd
	done chan struct{}
	addr string // the controller's address as camsim shows it
	out  *testenv.LockedBuffer
}

func camState(t *testing.T, r *rig.Rig, serial string) camsim.State {
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

// holdCamera starts arv-camera-test on the camera and waits until camsim
// shows it as the controller.
func holdCamera(t *testing.T, r *rig.Rig, serial string) *holder {
	t.Helper()
	testenv.RequireTool(t, "arv-camera-test-0.8")
	cam, err := r.Camera(serial)
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{done: make(chan struct{}), out: &testenv.LockedBuffer{}}
	h.cmd = r.Host().Command(context.Background(), "arv-camera-test-0.8", "-n", cam.Address, "-f", "2")
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = h.cmd.Wait(); close(h.done) }()
	t.Cleanup(h.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if h.addr = camState(t, r, serial).Controller; h.addr != "" {
			return h
		}
		select {
		case <-h.done:
			t.Fatalf("arv-camera-test exited before taking control: %s", h.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("arv-camera-test never took control of %s: %s", serial, h.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the holder as Ctrl-C does, so that it leaves control.
func (h *holder) stop() {
	select {
	case <-h.done:
		return
	default:
	}
	_ = h.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
}

// TestHeldCamera: a camera another application controls makes ptpcamcheck
// fail with exit 1 naming that application (address, this host, process),
// after the default wait; a hold that ends within --camera.control-wait
// does not fail the check.
func TestHeldCamera(t *testing.T) {
	r := testenv.UpRig(t, rig.Config{Cameras: rig.DefaultCameras(2, 0)})
	c := &checkRig{r: r, bin: testenv.Build(t, "ptpcamcheck", "camsim") + "/ptpcamcheck"}
	const serial = "05520125"
	// sync enables PTP and waits until the host is grandmaster and the
	// cameras its slaves: only then do timestamps judge the deltas.
	if _, _, code := c.check(t, "sync"); code != exitOK {
		t.Fatalf("sync before the hold: exit %d", code)
	}
	h := holdCamera(t, r, serial)
	wantErr := fmt.Sprintf("camera %s is controlled by another application at %s (this host: arv-camera-test-0.8 pid %d)",
		serial, h.addr, h.cmd.Process.Pid)

	for _, args := range [][]string{
		{"--camera.serial", serial, "timestamps"},
		{"--camera.serial", serial, "--camera.control-wait", "0s", "sync", "--timeout", "5s"},
	} {
		_, errOut, code := c.check(t, args...)
		if code != exitFatal || !strings.Contains(errOut, wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", args, code, errOut, wantErr)
		}
		if strings.Contains(errOut, "access-denied") {
			t.Errorf("%v: stderr still gives Aravis' access-denied: %q", args, errOut)
		}
	}
	// The other camera is free: the check of it alone passes.
	if _, _, code := c.check(t, "--camera.serial", "05520126", "timestamps"); code != exitOK {
		t.Errorf("free camera: exit %d", code)
	}

	// A hold that ends while ptpcamcheck waits: refused first (camsim
	// counts it), then taken, and the check passes.
	denied := camState(t, r, serial).AccessDenied
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, _, code := c.check(t, "--camera.serial", serial, "--camera.control-wait", "2m", "timestamps")
		done <- result{out, code}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for camState(t, r, serial).AccessDenied == denied {
		select {
		case res := <-done:
			t.Fatalf("ptpcamcheck ended (exit %d) before being refused while held", res.code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("ptpcamcheck was never refused while the camera was held")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.stop()
	res := <-done
	if res.code != exitOK || len(parseTimestamps(t, res.out)[serial]) != 1 {
		t.Errorf("after the hold ended: exit %d, output %q", res.code, res.out)
	}
}

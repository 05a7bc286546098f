package testenv

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/rig"
)

// Holder is another application controlling a camera of a rig: Aravis' own
// arv-camera-test-0.8 streaming from it in the rig's host namespace.
type Holder struct {
	// Out is the holder's output, shown by the cleanup when the test fails.
	Out  *LockedBuffer
	cmd  *exec.Cmd
	done <-chan struct{}
}

// HoldCamera starts arv-camera-test-0.8 on the rig's camera serial with the
// extra arguments (frame rate, size: "-f", "2") and stops it at cleanup as
// Ctrl-C does, so that it leaves control. It returns at once: wait for the
// hold with WaitControl or on what the test observes (a metric).
func HoldCamera(t testing.TB, r *rig.Rig, serial string, args ...string) *Holder {
	t.Helper()
	RequireTool(t, "arv-camera-test-0.8")
	cam, err := r.Camera(serial)
	if err != nil {
		t.Fatal(err)
	}
	h := &Holder{cmd: r.Host().Command(context.Background(), "arv-camera-test-0.8", append([]string{"-n", cam.Address}, args...)...)}
	h.Out, h.done = Start(t, h.cmd)
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("arv-camera-test-0.8 on %s:\n%s", serial, tail(h.Out.String(), 2000))
		}
	})
	return h
}

// Pid is the holder's process id, as a camera's controller shows it.
func (h *Holder) Pid() int { return h.cmd.Process.Pid }

// Done is closed when the holder has exited.
func (h *Holder) Done() <-chan struct{} { return h.done }

// WaitControl waits within the bound until controller (the camera's
// controller address, as the simulator shows it; "" while free) names the
// holder, and returns that address. It fails at once if the holder exits.
func (h *Holder) WaitControl(t testing.TB, within time.Duration, controller func() string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if addr := controller(); addr != "" {
			return addr
		}
		select {
		case <-h.done:
			t.Fatalf("arv-camera-test exited before taking control: %s", h.Out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("arv-camera-test never took control within %s: %s", within, h.Out)
		}
	}
}

// Stop ends the holder as Ctrl-C does (killing it if it has not left
// within 10 s) and waits for it. Calling it again does nothing.
func (h *Holder) Stop() {
	rig.StopProcess(h.cmd.Process, h.done, syscall.SIGINT, 10*time.Second)
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

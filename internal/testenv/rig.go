package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/rig"
)

// UpRig brings up a simulated rig for the test (root, ptp4l, camsim built
// from this module) and removes it at cleanup. Name and StateDir are filled
// in when empty.
func UpRig(t testing.TB, cfg rig.Config) *rig.Rig {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "ptp4l")
	if cfg.Camsim == "" && len(cfg.Cameras) > 0 {
		cfg.Camsim = filepath.Join(Build(t, "camsim"), "camsim")
	}
	if cfg.Name == "" {
		cfg.Name = rig.UniqueName("pt")
	}
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := rig.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("rig up: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Down(); err != nil {
			t.Errorf("rig down: %v", err)
		}
	})
	return r
}

// StartInRig runs prog in the rig's host namespace until the test ends (a
// server: ptpcam_exporter, Prometheus, Alertmanager), its output in a log
// file whose tail the cleanup shows when the test fails.
func StartInRig(t testing.TB, r *rig.Rig, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := r.Host().Command(ctx, prog, args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(prog)+".log"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		logf.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", filepath.Base(prog), tail(string(b), 4000))
		}
	})
}

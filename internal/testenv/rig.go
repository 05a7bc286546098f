package testenv

import (
	"context"
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

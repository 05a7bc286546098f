package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/rig"
)

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]bool{}
)

// Build compiles the module's commands (directory names under cmd/, e.g.
// "camsim") into one directory per test process and returns it. Each command
// is built once.
func Build(t testing.TB, cmds ...string) string {
	t.Helper()
	RequireTool(t, "go")
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		d, err := os.MkdirTemp("", "ptpcam-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	var todo []string
	for _, c := range cmds {
		if !built[c] {
			todo = append(todo, "./cmd/"+c)
		}
	}
	if len(todo) > 0 {
		cmd := exec.Command("go", append([]string{"build", "-o", buildDir + "/"}, todo...)...)
		cmd.Dir = ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", todo, err, out)
		}
		for _, c := range cmds {
			built[c] = true
		}
	}
	return buildDir
}

// CleanupBuild removes Build's directory; call it from TestMain after m.Run.
func CleanupBuild() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

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

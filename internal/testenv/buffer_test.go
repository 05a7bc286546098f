package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestLockedBuffer writes from several goroutines while reading; -race
// checks the locking, the count checks nothing was lost.
func TestLockedBuffer(t *testing.T) {
	t.Parallel()
	var b LockedBuffer
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				fmt.Fprintf(&b, "g%d-%d\n", g, i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 400 {
		t.Fatalf("%d lines, want 400", n)
	}
}

// TestLockedBufferAsOutput: as a process's stdout and stderr at once.
func TestLockedBufferAsOutput(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sh")
	var b LockedBuffer
	cmd := exec.Command("sh", "-c", "echo out; echo err >&2")
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") {
		t.Fatalf("output %q, want both lines", got)
	}
}

// TestBuildWith builds a command under another name with extra flags, once.
func TestBuildWith(t *testing.T) {
	bin := BuildWith(t, "rig-buildwith-test", "rig", "-tags", "testenv_buildwith")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rig") {
		t.Fatalf("%s --version: %v: %s", bin, err, out)
	}
	if again := BuildWith(t, "rig-buildwith-test", "rig", "-tags", "testenv_buildwith"); again != bin {
		t.Fatalf("second BuildWith: %s, first %s", again, bin)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	CleanupBuild()
	os.Exit(code)
}

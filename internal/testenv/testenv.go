package testenv

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where skipping is
// not allowed.
func InCI() bool {
	return os.Getenv("CI") == "true"
}

// Skip skips the test, or fails it under CI.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true, refusing to skip: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireTool skips (fails under CI) unless every named program is on PATH.
func RequireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Skip(t, "%s not found on PATH: %v", n, err)
		}
	}
}

var (
	netnsOnce sync.Once
	netnsErr  string
)

// RequireRoot skips (fails under CI) unless the test runs as root with a
// working `ip netns`, which the simulated rig needs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root for network namespaces (euid %d)", os.Geteuid())
	}
	RequireTool(t, "ip")
	netnsOnce.Do(func() {
		if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
			netnsErr = "ip netns list: " + err.Error() + ": " + string(out)
		}
	})
	if netnsErr != "" {
		Skip(t, "network namespaces unusable: %s", netnsErr)
	}
}

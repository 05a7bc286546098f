package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/rig"
)

// setupTimeout bounds creating a namespace, a veth pair or ptp4l's start.
const setupTimeout = 30 * time.Second

// Netns creates a network namespace for the test, named prefix and a random
// suffix, with its loopback up; cleanup stops what still runs in it and
// deletes it. It needs root (RequireRoot).
func Netns(t testing.TB, prefix string) *rig.Netns {
	t.Helper()
	RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	ns, err := rig.NewNetns(ctx, rig.UniqueName(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// NetnsPair is two namespaces for the test (Netns) joined by a veth pair:
// veth0 with 10.77.0.1/24 in a, veth0 with 10.77.0.2/24 in b. Being in
// namespaces of their own, the addresses cannot clash with another test's.
func NetnsPair(t testing.TB, prefix string) (a, b *rig.Netns) {
	t.Helper()
	a, b = Netns(t, prefix), Netns(t, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := rig.VethPair(ctx, a, "veth0", "10.77.0.1/24", b, "veth0", "10.77.0.2/24"); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// PTP4L starts ptp4l in ns for the test (cfg.Dir: a fresh t.TempDir() when
// empty) and stops it at cleanup. It returns once the management socket
// exists; wait for the role with WaitLog.
func PTP4L(t testing.TB, ns *rig.Netns, cfg rig.PTP4LConfig) *rig.PTP4L {
	t.Helper()
	RequireTool(t, "ptp4l")
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	p, err := rig.StartPTP4L(ctx, ns, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

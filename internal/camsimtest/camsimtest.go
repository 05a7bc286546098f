// Package camsimtest holds test helpers that need both camsim and a rig.
// They cannot live in internal/testenv: camsim's own internal tests import
// testenv, so testenv must not import camsim.
package camsimtest

import (
	"testing"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/rig"
)

// State is camsim's view of the rig's camera serial (its controller, its
// PTP state), read over the simulator's control endpoint. It fails the
// test when the camera is not in the rig or does not answer.
func State(t testing.TB, r *rig.Rig, serial string) camsim.State {
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

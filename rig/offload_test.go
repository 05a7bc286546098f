package rig_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// TestSegmentUDPInSoftware: a veth has UDP segmentation offload on, as
// created; SegmentUDPInSoftware turns it off on that veth of that namespace
// only (its peer keeps it), and an interface that is not there is an error
// naming it.
func TestSegmentUDPInSoftware(t *testing.T) {
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var nss [2]*rig.Netns
	for i := range nss {
		ns, err := rig.NewNetns(ctx, rig.UniqueName("offload"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		nss[i] = ns
	}
	if err := rig.VethPair(ctx, nss[0], "eth0", "10.89.7.2/24", nss[1], "eth1", "10.89.7.1/24"); err != nil {
		t.Fatal(err)
	}
	state := func(ns *rig.Netns, ifc string) bool {
		t.Helper()
		on, err := rig.UDPSegmentation(ns, ifc)
		if err != nil {
			t.Fatal(err)
		}
		return on
	}
	if !state(nss[0], "eth0") || !state(nss[1], "eth1") {
		t.Fatalf("a new veth pair without UDP segmentation offload")
	}
	if err := rig.SegmentUDPInSoftware(nss[0], "eth0"); err != nil {
		t.Fatal(err)
	}
	if state(nss[0], "eth0") || !state(nss[1], "eth1") {
		t.Errorf("after SegmentUDPInSoftware(eth0): eth0 %v, eth1 %v; want off, on", state(nss[0], "eth0"), state(nss[1], "eth1"))
	}
	err := rig.SegmentUDPInSoftware(nss[0], "eth1")
	if err == nil || !strings.Contains(err.Error(), nss[0].Name+": eth1: SIOCETHTOOL") {
		t.Errorf("SegmentUDPInSoftware on an interface not in the namespace: %v", err)
	}
}

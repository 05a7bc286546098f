package rig_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// A camera learns the host veth's MAC for the host's address, not the
// bridge's: the stream then crosses the veth that captures and packet
// sockets watch, as it crosses a switch to the host's NIC.
func TestRigARPAnswersFromHostVeth(t *testing.T) {
	testenv.RequireRoot(t)
	r := testenv.UpRig(t, rig.Config{NoPTP4L: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mac := func(ns, ifc string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-br", "link", "show", ifc).Output()
		if err != nil {
			t.Fatalf("ip -n %s link show %s: %v", ns, ifc, err)
		}
		f := strings.Fields(string(out))
		if len(f) < 3 {
			t.Fatalf("ip -br link: %q", out)
		}
		return f[2]
	}
	cam := testenv.Netns(t, "ptpcam-a-")
	host := r.Host()
	if err := rig.VethPair(ctx, cam, "eth0", strings.TrimSuffix(r.HostAddress, "1")+"99/24", host, "vtest", ""); err != nil {
		t.Fatal(err)
	}
	if err := host.IP(ctx, "link", "set", "vtest", "master", "br0"); err != nil {
		t.Fatal(err)
	}
	// One datagram fills the camera's neighbour table with whoever
	// answered its ARP request.
	c, err := cam.DialContext(ctx, "udp", r.HostAddress+":9")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []byte
	for !strings.Contains(string(out), "lladdr") {
		if ctx.Err() != nil {
			t.Fatalf("no neighbour entry for %s: %q", r.HostAddress, out)
		}
		if _, err := c.Write([]byte("arp")); err != nil {
			t.Fatal(err)
		}
		out, err = exec.CommandContext(ctx, "ip", "-n", cam.Name, "neigh", "show", r.HostAddress).Output()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // polling the table; the assertion is on what it holds
	}
	want, bridge := mac(r.HostNetns, r.HostInterface), mac(r.HostNetns, "br0")
	if !strings.Contains(string(out), want) {
		t.Fatalf("camera's neighbour entry for %s: %q; want the host veth's %s (br0 is %s)", r.HostAddress, out, want, bridge)
	}
}

// Bad configurations fail with an error naming the input before anything is
// created: no state directory, no namespace.
func TestUpBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  rig.Config
		want string
	}{
		{rig.Config{Name: "a name with spaces"}, `rig name "a name with spaces": at most 20 characters`},
		{rig.Config{Name: "abcdefghijklmnopqrstu"}, `rig name "abcdefghijklmnopqrstu": at most 20 characters`},
		{rig.Config{Name: "bad", Cameras: rig.DefaultCameras(65, 0)}, "rig bad: 65 cameras, at most 64"},
		{rig.Config{Name: "bad", Cameras: []rig.Camera{{Serial: "05520125"}, {Profile: "gev"}}}, "rig bad: camera 1 has no serial"},
	} {
		state := t.TempDir()
		tc.cfg.StateDir, tc.cfg.Camsim = state, "/nonexistent/camsim"
		r, err := rig.Up(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || r != nil {
			t.Errorf("Up(%+v): rig %v, error %v; want no rig and %q", tc.cfg.Name, r, err, tc.want)
		}
		if ents, _ := os.ReadDir(state); len(ents) != 0 {
			t.Errorf("Up(%q) failed but left %v in the state directory", tc.cfg.Name, ents)
		}
	}
}

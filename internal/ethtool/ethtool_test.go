package ethtool_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ptpcam/ptpcam/internal/ethtool"
)

// TestActiveLoopback reads loopback's UDP segmentation offload, which Linux
// has on (fixed) since UDP GSO exists (4.18), and one of the features
// loopback lacks (it has no VLAN filter).
func TestActiveLoopback(t *testing.T) {
	on, err := ethtool.Active("lo", ethtool.UDPSegmentation)
	if err != nil || !on {
		t.Fatalf("lo %s: %v, %v; want on", ethtool.UDPSegmentation, on, err)
	}
	if on, err := ethtool.Active("lo", "rx-vlan-filter"); err != nil || on {
		t.Errorf("lo rx-vlan-filter: %v, %v; want off", on, err)
	}
}

// TestBadInput: an unknown feature, an interface name too long or empty, an
// interface that does not exist and a command buffer too short are errors
// that name them.
func TestBadInput(t *testing.T) {
	fd, err := ethtool.Socket()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, tc := range []struct {
		ifc, feature, want string
		errno              error
	}{
		{"lo", "tx-no-such-feature", `lo: no feature "tx-no-such-feature"`, nil},
		{"an-interface-name", ethtool.UDPSegmentation, `interface name "an-interface-name": want 1 to 15 bytes`, nil},
		{"", ethtool.UDPSegmentation, `interface name "": want 1 to 15 bytes`, nil},
		{"nosuchif0", ethtool.UDPSegmentation, "nosuchif0: SIOCETHTOOL 0x37", unix.ENODEV},
	} {
		_, err := ethtool.Feature(fd, tc.ifc, tc.feature)
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.errno != nil && !errors.Is(err, tc.errno) {
			t.Errorf("Feature(%q, %q): %v, want an error with %q (%v)", tc.ifc, tc.feature, err, tc.want, tc.errno)
		}
	}
	if err := ethtool.Ioctl(fd, "lo", []byte{1}); err == nil || !strings.Contains(err.Error(), "buffer of 1 bytes") {
		t.Errorf("Ioctl with a 1-byte buffer: %v", err)
	}
}

package camsim_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// TestGenICamActionKeysByFeature: a client that writes the action keys by
// feature name with arv-tool-0.8 control gets its ACTION_CMD acknowledged;
// a wrong device key, group key or mask is met with silence, and the right
// keys are answered again after it. Basler ace 2 keeps ActionDeviceKey in
// a vendor register (not the bootstrap 0x090C) and its group through
// ActionSelector 1; The Imaging Source's ActionDeviceKey reaches 0x090C
// only through pValueCopy, which Aravis 0.8 ignores, so the client writes
// the copy's register, ActionDeviceKeyRegister, by name (as genicam does).
func TestGenICamActionKeysByFeature(t *testing.T) {
	ns := newNetns(t)
	for i, c := range []struct {
		file, key string
		sel       int
	}{{"Basler_a2A2600-20gmBAS.xml", "ActionDeviceKey", 1},
		{"TheImagingSource_DMK33GX174_aravisGigE.xml", "ActionDeviceKeyRegister", 0}} {
		t.Run(c.file, func(t *testing.T) {
			addr := "127.0.0." + strconv.Itoa(2+i)
			startCamsim(t, ns, addr, "AK000"+strconv.Itoa(i), "--genicam", filepath.Join(testenv.VendorXMLDir(t), c.file))
			checkActionKeys(t, ns, addr, c.key, c.sel)
		})
	}
}

func checkActionKeys(t *testing.T, ns *rig.Netns, addr, keyFeature string, sel int) {
	const dev, group, mask = 0x5a5a1234, 0x77, 0x3
	set := []string{"ActionSelector=" + strconv.Itoa(sel), keyFeature + "=" + strconv.Itoa(dev),
		"ActionGroupKey=" + strconv.Itoa(group), "ActionGroupMask=" + strconv.Itoa(mask)}
	features(t, ns, addr, set...)
	got := features(t, ns, addr, "ActionSelector", "ActionGroupKey", "ActionGroupMask")
	for k, want := range map[string]int{"ActionGroupKey": group, "ActionGroupMask": mask} {
		if got[k] != strconv.Itoa(want) {
			t.Errorf("%s read back %q, want %d", k, got[k], want)
		}
	}
	conn := dialNetnsUDP(t, ns, addr+":3956")
	cases := []struct {
		name             string
		dev, group, mask uint32
		ack              bool
	}{
		{"camera's keys", dev, group, mask, true},
		{"wrong device key", dev + 1, group, mask, false},
		{"wrong group key", dev, group + 1, mask, false},
		{"disjoint group mask", dev, group, 0x4, false},
		{"camera's keys, one mask bit", dev, group, 0x1, true},
	}
	for i, c := range cases {
		st, answered := sendAction(t, conn, uint16(0x100+i), c.dev, c.group, c.mask)
		if answered != c.ack || (answered && st != camsim.StatusSuccess) {
			t.Errorf("%s: answered %v status %v; want answered %v with success", c.name, answered, st, c.ack)
		}
	}
}

func dialNetnsUDP(t *testing.T, ns *rig.Netns, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := ns.DialContext(ctx, "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// sendAction sends an ACTION_CMD (acknowledge required, no action time)
// and returns its acknowledge's status, or false when none came with its
// request id within 2 s (the camera is silent for keys not its own).
func sendAction(t *testing.T, conn net.Conn, id uint16, dev, group, mask uint32) (camsim.Status, bool) {
	t.Helper()
	p := binary.BigEndian.AppendUint32(nil, dev)
	p = binary.BigEndian.AppendUint32(p, group)
	p = binary.BigEndian.AppendUint32(p, mask)
	if _, err := conn.Write(camsim.MarshalCommand(camsim.FlagAckRequired, camsim.CmdAction, id, p)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	buf := make([]byte, 1500)
	for {
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, false
		} else if err != nil {
			t.Fatal(err)
		}
		a, err := camsim.ParseAck(buf[:n])
		if err != nil {
			t.Fatalf("ACTION_CMD answer %x: %v", buf[:n], err)
		}
		if a.AckID == id {
			return a.Status, true
		}
	}
}

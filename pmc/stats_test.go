package pmc

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestPortStatsNPLittleEndian(t *testing.T) {
	t.Parallel()
	b := appendPortIdentity(nil, PortIdentity{ClockIdentity{1, 2, 3, 4, 5, 6, 7, 8}, 2})
	for i := range 2 * maxMessageTypes {
		b = binary.LittleEndian.AppendUint64(b, uint64(1000+i))
	}
	var d PortStatsNP
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if d.PortIdentity.PortNumber != 2 || d.RxMsgType[MsgSync] != 1000 || d.RxMsgType[MsgAnnounce] != 1011 || d.TxMsgType[MsgSync] != 1016 {
		t.Errorf("decoded %+v", d)
	}
	enc, _ := d.MarshalBinary()
	if string(enc) != string(b) {
		t.Errorf("re-encoded\n%x\nfrom\n%x", enc, b)
	}
	if err := d.UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, errShort) {
		t.Errorf("short PORT_STATS_NP: %v, want errShort", err)
	}
}

func TestPortServiceStatsNP(t *testing.T) {
	t.Parallel()
	in := PortServiceStatsNP{PortIdentity: PortIdentity{PortNumber: 1}, AnnounceTimeout: 3, SyncTimeout: 7, FollowUpMismatch: 9}
	b, _ := in.MarshalBinary()
	if len(b) != portServiceStatsLen || binary.LittleEndian.Uint64(b[18:]) != 7 {
		t.Fatalf("encoding %x: sync_timeout not little-endian at offset 18", b)
	}
	var out PortServiceStatsNP
	if err := out.UnmarshalBinary(b); err != nil || out != in {
		t.Errorf("round trip %+v -> %+v (%v)", in, out, err)
	}
	if err := out.UnmarshalBinary(b[:20]); !errors.Is(err, errShort) {
		t.Errorf("short PORT_SERVICE_STATS_NP: %v", err)
	}
}

// The wire layout of linuxptp's struct port_service_stats_np (tlv.h, ddt.h's
// PortServiceStats; pmc.c prints the fields in this order), written byte by
// byte here rather than through MarshalBinary: clockIdentity, big-endian
// portNumber, then ten little-endian uint64 at offsets 10, 18, ... 82.
func TestPortServiceStatsNPLayout(t *testing.T) {
	t.Parallel()
	b := make([]byte, 0, 90)
	b = append(b, 1, 2, 3, 4, 5, 6, 7, 8, 0x01, 0x02) // clockIdentity, portNumber 0x0102
	for i := range 10 {
		b = append(b, byte(i+1), 0, 0, 0, 0, 0, 0, byte(0x10*(i+1))) // little-endian
	}
	var d PortServiceStatsNP
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if d.PortIdentity.PortNumber != 0x0102 || d.PortIdentity.ClockIdentity != (ClockIdentity{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("portIdentity %+v", d.PortIdentity)
	}
	names := []string{"announce_timeout", "sync_timeout", "delay_timeout", "unicast_service_timeout",
		"unicast_request_timeout", "master_announce_timeout", "master_sync_timeout", "qualification_timeout",
		"sync_mismatch", "followup_mismatch"}
	got := []uint64{d.AnnounceTimeout, d.SyncTimeout, d.DelayTimeout, d.UnicastServiceTimeout, d.UnicastRequestTimeout,
		d.MasterAnnounceTimeout, d.MasterSyncTimeout, d.QualificationTimeout, d.SyncMismatch, d.FollowUpMismatch}
	for i, v := range got {
		if want := uint64(i+1) | uint64(0x10*(i+1))<<56; v != want {
			t.Errorf("%s (offset %d) = %#x, want %#x", names[i], 10+8*i, v, want)
		}
	}
}

func TestMessageTypeString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		t    MessageType
		want string
	}{{MsgSync, "sync"}, {MsgPdelayRespFollowUp, "pdelay_resp_follow_up"}, {MessageType(5), "type_5"}} {
		if got := c.t.String(); got != c.want {
			t.Errorf("%d: %q, want %q", c.t, got, c.want)
		}
	}
}

// FuzzPortStats: the statistics decoders never panic, and what they decode
// encodes back to the bytes it came from.
func FuzzPortStats(f *testing.F) {
	b, _ := PortStatsNP{PortIdentity: PortIdentity{PortNumber: 1}, RxMsgType: [16]uint64{MsgSync: 3}}.MarshalBinary()
	f.Add(b)
	s, _ := PortServiceStatsNP{SyncTimeout: 2}.MarshalBinary()
	f.Add(s)
	f.Fuzz(func(t *testing.T, b []byte) {
		var ps PortStatsNP
		if ps.UnmarshalBinary(b) == nil {
			if enc, _ := ps.MarshalBinary(); string(enc) != string(b[:portStatsLen]) {
				t.Fatalf("PORT_STATS_NP re-encoded %x from %x", enc, b)
			}
		}
		var ss PortServiceStatsNP
		if ss.UnmarshalBinary(b) == nil {
			if enc, _ := ss.MarshalBinary(); string(enc) != string(b[:portServiceStatsLen]) {
				t.Fatalf("PORT_SERVICE_STATS_NP re-encoded %x from %x", enc, b)
			}
		}
	})
}

package genicam

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

func TestParsePTPStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want PTPStatus
		ok   bool
	}{
		{"Slave", PTPSlave, true}, {"slave", PTPSlave, true}, {"MASTER", PTPMaster, true},
		{"PreMaster", PTPPreMaster, true}, {"Pre_Master", PTPPreMaster, true}, {"pre-master", PTPPreMaster, true},
		{"Uncalibrated", PTPUncalibrated, true}, {" Listening ", PTPListening, true}, {"Passive", PTPPassive, true},
		{"Initializing", PTPInitializing, true}, {"Faulty", PTPFaulty, true}, {"Disabled", PTPDisabled, true},
		{"Unknown", PTPUnknown, false}, {"", PTPUnknown, false}, {"Slavish", PTPUnknown, false},
	} {
		got, ok := parsePTPStatus(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parsePTPStatus(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if PTPSlave.String() != "Slave" || PTPStatus(42).String() != "PTPStatus(42)" {
		t.Errorf("String: %s %s", PTPSlave, PTPStatus(42))
	}
}

func TestTicksToNs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ticks, freq uint64
		want        int64
	}{
		{123, 1_000_000_000, 123}, {123, 0, 123},
		{125_000_000, 125_000_000, 1_000_000_000}, // 125 MHz (8 ns ticks)
		{1, 125_000_000, 8},
		// Ten years at 125 MHz, no overflow.
		{10 * 365 * 86400 * 125_000_000, 125_000_000, 10 * 365 * 86400 * 1_000_000_000},
	} {
		if got := ticksToNs(tc.ticks, tc.freq); got != tc.want {
			t.Errorf("ticksToNs(%d, %d) = %d, want %d", tc.ticks, tc.freq, got, tc.want)
		}
	}
}

func TestLatchSample(t *testing.T) {
	t.Parallel()
	b := time.Unix(100, 0)
	s := LatchSample{Device: b.Add(30*time.Microsecond).UnixNano() + 5_000_000, HostBefore: b, HostAfter: b.Add(60 * time.Microsecond)}
	if s.HalfBracket() != 30*time.Microsecond || !s.Mid().Equal(b.Add(30*time.Microsecond)) || s.Offset() != 5*time.Millisecond {
		t.Errorf("half %v mid %v offset %v", s.HalfBracket(), s.Mid(), s.Offset())
	}
}

func TestResolveFamilies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		has  []string
		want map[string]string
	}{
		{"sfnc", []string{"PtpEnable", "PtpStatus", "TimestampLatch", "TimestampLatchValue", "GevTimestampValue"},
			map[string]string{FeaturePTPEnable: "PtpEnable", FeaturePTPStatus: "PtpStatus",
				FeatureTimestampLatch: "TimestampLatch", FeatureTimestampLatchValue: "TimestampLatchValue"}},
		{"gev", []string{"GevIEEE1588", "GevIEEE1588Status", "GevTimestampControlLatch", "GevTimestampValue", "GevIEEE1588DataSetLatch", "GevIEEE1588OffsetFromMaster"},
			map[string]string{FeaturePTPEnable: "GevIEEE1588", FeaturePTPStatus: "GevIEEE1588Status",
				FeatureTimestampLatch: "GevTimestampControlLatch", FeatureTimestampLatchValue: "GevTimestampValue",
				FeaturePTPDataSetLatch: "GevIEEE1588DataSetLatch", FeaturePTPOffsetFromMaster: "GevIEEE1588OffsetFromMaster"}},
		{"none", []string{"Width"}, map[string]string{}},
	} {
		has := map[string]bool{}
		for _, h := range tc.has {
			has[h] = true
		}
		got := resolveFamilies(func(n string) bool { return has[n] })
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s → %q, want %q", tc.name, k, got[k], v)
			}
		}
	}
}

func TestActionCommandWire(t *testing.T) {
	t.Parallel()
	at := uint64(0x0102030405060708)
	b, _ := ActionCommand{DeviceKey: 0x11223344, GroupKey: 0x55667788, GroupMask: 0x99aabbcc, Time: &at, Ack: true}.MarshalBinary()
	want := []byte{0x42, 0x81, 0x01, 0x00, 0x00, 0x14, 0x00, 0x00,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
		1, 2, 3, 4, 5, 6, 7, 8}
	if string(b) != string(want) {
		t.Errorf("scheduled ACTION_CMD\n got % x\nwant % x", b, want)
	}
	b, _ = ActionCommand{DeviceKey: 1, GroupKey: 2, GroupMask: 3}.MarshalBinary()
	if len(b) != 20 || b[1] != 0 || binary.BigEndian.Uint16(b[4:]) != 12 {
		t.Errorf("plain ACTION_CMD % x", b)
	}
	for _, bad := range [][]byte{nil, {0, 0, 1, 1}, {0, 0, 0x00, 0x83, 0, 0, 0, 1}, {0, 0, 1, 1, 0, 8, 0, 1}} {
		if _, _, err := parseActionAck(bad); err == nil {
			t.Errorf("parseActionAck(% x) accepted", bad)
		}
	}
	st, id, err := parseActionAck([]byte{0x80, 0x16, 0x01, 0x01, 0, 0, 0, 7})
	if err != nil || st != 0x8016 || id != 7 {
		t.Errorf("parseActionAck = %x %d %v", st, id, err)
	}
}

func FuzzParseActionAck(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 0, 0, 1})
	f.Add([]byte{0x80, 0x16, 0x01, 0x01, 0, 4, 0, 9, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = parseActionAck(b) // must not panic
	})
}

// TestSendActionCommandLoopback exchanges ACTION_CMD and its ack with a
// responder on 127.0.0.1 that decodes by the GigE Vision offsets.
func TestSendActionCommandLoopback(t *testing.T) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan []byte, 4)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p := append([]byte(nil), buf[:n]...)
			got <- p
			if p[1]&0x01 != 0 {
				status := uint16(0)
				if p[1]&0x80 != 0 && binary.BigEndian.Uint64(p[20:]) == 1 {
					status = 0x8016 // "late" for time 1
				}
				ack := binary.BigEndian.AppendUint16(nil, status)
				ack = binary.BigEndian.AppendUint16(ack, 0x0101)
				ack = binary.BigEndian.AppendUint16(ack, 0)
				ack = append(ack, p[6], p[7])
				_, _ = pc.WriteToUDP(ack, from)
			}
		}
	}()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	ctx := context.Background()
	acks, err := SendActionCommand(ctx, lo, ActionCommand{DeviceKey: 7, GroupKey: 8, GroupMask: 9, Ack: true, Port: port})
	if err != nil || len(acks) != 1 || acks[0].Status != 0 || acks[0].From != lo[0] {
		t.Errorf("acks %+v, err %v", acks, err)
	}
	if p := <-got; binary.BigEndian.Uint32(p[8:]) != 7 || binary.BigEndian.Uint32(p[12:]) != 8 || binary.BigEndian.Uint32(p[16:]) != 9 {
		t.Errorf("sent % x", p)
	}
	one := uint64(1)
	if _, err := SendActionCommand(ctx, lo, ActionCommand{Time: &one, Ack: true, Port: port}); !errors.Is(err, ErrActionLate) {
		t.Errorf("late: %v", err)
	}
	<-got
	// Nobody on this port: the missing ack names the target.
	dead, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	dport := uint16(dead.LocalAddr().(*net.UDPAddr).Port)
	dead.Close()
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := SendActionCommand(tctx, lo, ActionCommand{Ack: true, Port: dport}); err == nil || !strings.Contains(err.Error(), "127.0.0.1: no acknowledge") {
		t.Errorf("no responder: %v", err)
	}
	if _, err := SendActionCommand(ctx, nil, ActionCommand{}); err == nil {
		t.Error("no targets accepted")
	}
}

// TestBuildWithoutAravis checks the package builds and vets without cgo and
// with the noaravis tag.
func TestBuildWithoutAravis(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "-short: builds and vets the package twice")
	}
	testenv.RequireTool(t, "go")
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{[]string{"CGO_ENABLED=0"}, []string{"build", "-o", "/dev/null", "."}},
		{[]string{"CGO_ENABLED=0"}, []string{"vet", "."}},
		{nil, []string{"vet", "-tags", "noaravis", "."}},
		{nil, []string{"test", "-tags", "noaravis", "-run", "TestNoAravis", "-count=1", "."}},
	} {
		cmd := exec.Command("go", c.args...)
		cmd.Env = append(cmd.Environ(), c.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%v go %v: %v\n%s", c.env, c.args, err, out)
		}
	}
}

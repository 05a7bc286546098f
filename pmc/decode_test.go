package pmc

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// corpus reads the captured ptp4l answers of the FuzzDecode seed corpus,
// keyed by file name ("gm-current_data_set-0").
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a one-[]byte fuzz corpus file", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = []byte(s)
	}
	if len(out) < 18 {
		t.Fatalf("corpus has %d files, want the 18 captured answers", len(out))
	}
	return out
}

func decodeAs[T any](t *testing.T, raw []byte, id ManagementID) T {
	t.Helper()
	m, err := decodeMessage(raw)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if m.ID != id || m.Err != nil || m.Action != actionResponse || m.SequenceID != 4242 || m.Domain != 7 {
		t.Fatalf("%s: header %+v", id, m)
	}
	v, err := decodeDataset(m.ID, m.Data)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return *v.(*T)
}

// The answers were captured from the pair TestPTP4L sets up: domain 7, a
// grandmaster with priority1 100 and a slave-only clock, -S on veth0.
func TestDecodeCapturedAnswers(t *testing.T) {
	t.Parallel()
	c := corpus(t)
	gmDef := decodeAs[DefaultDataSet](t, c["gm-default_data_set-0"], IDDefaultDataSet)
	slDef := decodeAs[DefaultDataSet](t, c["slave-default_data_set-0"], IDDefaultDataSet)
	want := DefaultDataSet{TwoStepFlag: true, NumberPorts: 1, Priority1: 100, Priority2: 128, DomainNumber: 7,
		ClockQuality: ClockQuality{ClockClass: 248, ClockAccuracy: 0xfe, OffsetScaledLogVariance: 0xffff}, ClockIdentity: gmDef.ClockIdentity}
	if gmDef != want {
		t.Errorf("grandmaster DEFAULT_DATA_SET\n got %+v\nwant %+v", gmDef, want)
	}
	want.ClockIdentity, want.Priority1, want.SlaveOnly, want.ClockQuality.ClockClass = slDef.ClockIdentity, 128, true, 255
	if slDef != want {
		t.Errorf("slave DEFAULT_DATA_SET\n got %+v\nwant %+v", slDef, want)
	}
	if gmDef.ClockIdentity[3] != 0xff || gmDef.ClockIdentity[4] != 0xfe {
		t.Errorf("clock identity %s is not an EUI-64 from a MAC", gmDef.ClockIdentity)
	}

	if cur := decodeAs[CurrentDataSet](t, c["gm-current_data_set-0"], IDCurrentDataSet); cur != (CurrentDataSet{}) {
		t.Errorf("grandmaster CURRENT_DATA_SET %+v, want zero", cur)
	}
	if cur := decodeAs[CurrentDataSet](t, c["slave-current_data_set-0"], IDCurrentDataSet); cur.StepsRemoved != 1 {
		t.Errorf("slave CURRENT_DATA_SET %+v, want stepsRemoved 1", cur)
	}

	gmPar := decodeAs[ParentDataSet](t, c["gm-parent_data_set-0"], IDParentDataSet)
	slPar := decodeAs[ParentDataSet](t, c["slave-parent_data_set-0"], IDParentDataSet)
	wantPar := ParentDataSet{
		ParentPortIdentity:                    PortIdentity{gmDef.ClockIdentity, 0},
		ObservedParentOffsetScaledLogVariance: 0xffff,
		ObservedParentClockPhaseChangeRate:    0x7fffffff,
		GrandmasterPriority1:                  100,
		GrandmasterClockQuality:               gmDef.ClockQuality,
		GrandmasterPriority2:                  128,
		GrandmasterIdentity:                   gmDef.ClockIdentity,
	}
	if gmPar != wantPar {
		t.Errorf("grandmaster PARENT_DATA_SET\n got %+v\nwant %+v", gmPar, wantPar)
	}
	wantPar.ParentPortIdentity.PortNumber = 1
	if slPar != wantPar {
		t.Errorf("slave PARENT_DATA_SET\n got %+v\nwant %+v", slPar, wantPar)
	}

	for _, side := range []string{"gm", "slave"} {
		tp := decodeAs[TimePropertiesDataSet](t, c[side+"-time_properties_data_set-0"], IDTimePropertiesDataSet)
		if tp != (TimePropertiesDataSet{CurrentUTCOffset: 37, TimeSource: 0xa0}) {
			t.Errorf("%s TIME_PROPERTIES_DATA_SET %+v", side, tp)
		}
		// A slave-only clock announces class 255 (1588 table 5).
		class := map[string]uint8{"gm": 248, "slave": 255}[side]
		gs := decodeAs[GrandmasterSettingsNP](t, c[side+"-grandmaster_settings_np-0"], IDGrandmasterSettingsNP)
		if gs != (GrandmasterSettingsNP{ClockQuality: ClockQuality{class, 0xfe, 0xffff}, UTCOffset: 37, TimeSource: 0xa0}) {
			t.Errorf("%s GRANDMASTER_SETTINGS_NP %+v", side, gs)
		}
		pp := decodeAs[PortPropertiesNP](t, c[side+"-port_properties_np-0"], IDPortPropertiesNP)
		if pp.Interface != "veth0" || TimestampingName(pp.Timestamping) != "SOFTWARE" || pp.PortIdentity.PortNumber != 1 {
			t.Errorf("%s PORT_PROPERTIES_NP %+v", side, pp)
		}
		m, err := decodeMessage(c[side+"-port_service_stats_np-0"])
		if err != nil || m.Err == nil || m.Err.ErrorID != ErrNoSuchID || m.ID != IDPortServiceStatsNP {
			t.Errorf("%s PORT_SERVICE_STATS_NP: want NO_SUCH_ID from 3.1.1, got %+v %v", side, m.Err, err)
		}
	}
	gmPort := decodeAs[PortDataSet](t, c["gm-port_data_set-0"], IDPortDataSet)
	wantPort := PortDataSet{PortIdentity: PortIdentity{gmDef.ClockIdentity, 1}, PortState: PortStateMaster,
		AnnounceReceiptTimeout: 3, DelayMechanism: 1, VersionNumber: 2}
	if gmPort != wantPort {
		t.Errorf("grandmaster PORT_DATA_SET\n got %+v\nwant %+v", gmPort, wantPort)
	}
	if p := decodeAs[PortDataSet](t, c["slave-port_data_set-0"], IDPortDataSet); p.PortState != PortStateUncalibrated {
		t.Errorf("slave PORT_DATA_SET state %s", p.PortState)
	}

	gmTS := decodeAs[TimeStatusNP](t, c["gm-time_status_np-0"], IDTimeStatusNP)
	if gmTS != (TimeStatusNP{GMIdentity: gmDef.ClockIdentity}) {
		t.Errorf("grandmaster TIME_STATUS_NP %+v", gmTS)
	}
	slTS := decodeAs[TimeStatusNP](t, c["slave-time_status_np-0"], IDTimeStatusNP)
	if !slTS.GMPresent || slTS.GMIdentity != gmDef.ClockIdentity || slTS.IngressTime < 1.6e18 {
		t.Errorf("slave TIME_STATUS_NP %+v", slTS)
	}
}

// Every prefix of a real answer fails to decode with a length error.
func TestDecodeTruncated(t *testing.T) {
	t.Parallel()
	for name, raw := range corpus(t) {
		for n := 0; n < len(raw); n++ {
			_, err := decodeMessage(raw[:n])
			if !errors.Is(err, errShort) {
				t.Fatalf("%s cut to %d of %d bytes: want a truncation error, got %v", name, n, len(raw), err)
			}
		}
	}
}

func TestDatasetsTooShort(t *testing.T) {
	t.Parallel()
	sizes := map[ManagementID]int{
		IDDefaultDataSet: 20, IDCurrentDataSet: 18, IDParentDataSet: 32, IDTimePropertiesDataSet: 4,
		IDPortDataSet: 26, IDPortPropertiesNP: 13, IDTimeStatusNP: 50, IDGrandmasterSettingsNP: 8,
	}
	for id, size := range sizes {
		if _, err := decodeDataset(id, make([]byte, size)); err != nil {
			t.Errorf("%s of %d zero bytes: %v", id, size, err)
		}
		_, err := decodeDataset(id, make([]byte, size-1))
		if !errors.Is(err, errShort) || !strings.HasPrefix(err.Error(), id.String()+": ") {
			t.Errorf("%s of %d bytes: want a truncation error naming it, got %v", id, size-1, err)
		}
	}
	// A PTPText longer than the data left.
	b := make([]byte, 14)
	b[12] = 5
	if _, err := decodeDataset(IDPortPropertiesNP, b); !errors.Is(err, errShort) {
		t.Errorf("PORT_PROPERTIES_NP with a 5-byte name in 1 byte: %v", err)
	}
	if _, err := decodeDataset(IDPortStatsNP, make([]byte, 200)); err == nil {
		t.Error("PORT_STATS_NP has no decoder but decoded")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeDatasets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   ManagementID
		data string
		want any
	}{
		{IDCurrentDataSet, "0003 ffffffffffff8000 0000000000030000",
			&CurrentDataSet{StepsRemoved: 3, OffsetFromMaster: -0x8000, MeanPathDelay: 3 << 16}},
		{IDDefaultDataSet, "03ff 0002 7f 06 21 4e5d 80 bcfce7fffe244daf 18 00",
			&DefaultDataSet{TwoStepFlag: true, SlaveOnly: true, NumberPorts: 2, Priority1: 127,
				ClockQuality: ClockQuality{6, 0x21, 0x4e5d}, Priority2: 128,
				ClockIdentity: ClockIdentity{0xbc, 0xfc, 0xe7, 0xff, 0xfe, 0x24, 0x4d, 0xaf}, DomainNumber: 24}},
		{IDTimePropertiesDataSet, "ffdb 3f 20",
			&TimePropertiesDataSet{CurrentUTCOffset: -37, TimeFlags: TimeFlags{Leap61: true, Leap59: true,
				CurrentUTCOffsetValid: true, PTPTimescale: true, TimeTraceable: true, FrequencyTraceable: true}, TimeSource: 0x20}},
		{IDGrandmasterSettingsNP, "06 21 4e5d 0025 0c 20",
			&GrandmasterSettingsNP{ClockQuality: ClockQuality{6, 0x21, 0x4e5d}, UTCOffset: 37,
				TimeFlags: TimeFlags{CurrentUTCOffsetValid: true, PTPTimescale: true}, TimeSource: 0x20}},
		{IDPortDataSet, "bcfce7fffe244daf 0002 09 fe 0000000000018000 01 03 fd 02 00 02",
			&PortDataSet{PortIdentity: PortIdentity{ClockIdentity{0xbc, 0xfc, 0xe7, 0xff, 0xfe, 0x24, 0x4d, 0xaf}, 2},
				PortState: PortStateSlave, LogMinDelayReqInterval: -2, PeerMeanPathDelay: 0x18000, LogAnnounceInterval: 1,
				AnnounceReceiptTimeout: 3, LogSyncInterval: -3, DelayMechanism: 2, VersionNumber: 2}},
		{IDPortPropertiesNP, "bcfce7fffe244daf 0001 06 01 04 656e7031 00",
			&PortPropertiesNP{PortIdentity: PortIdentity{ClockIdentity{0xbc, 0xfc, 0xe7, 0xff, 0xfe, 0x24, 0x4d, 0xaf}, 1},
				PortState: PortStateMaster, Timestamping: 1, Interface: "enp1"}},
		{IDTimeStatusNP, "fffffffffffffe0c 17d0000000000000 00000800 fffffff0 0001 0000 0000000000000001 8000 00000001 0011223344556677",
			&TimeStatusNP{MasterOffset: -500, IngressTime: 0x17d0000000000000, CumulativeScaledRateOffset: 0x800,
				ScaledLastGmPhaseChange: -16, GMTimeBaseIndicator: 1, LastGmPhaseChange: ScaledNs{0, 1, 0x8000},
				GMPresent: true, GMIdentity: ClockIdentity{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}}},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			data := mustHex(t, tt.data)
			got, err := decodeDataset(tt.id, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			enc, err := reflect.ValueOf(got).Elem().Interface().(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			// DEFAULT_DATA_SET's reserved octet after flags is not kept.
			if tt.id == IDDefaultDataSet {
				data[1] = 0
			}
			if hex.EncodeToString(enc) != hex.EncodeToString(data) {
				t.Fatalf("re-encoded %x, want %x", enc, data)
			}
		})
	}
	cur := CurrentDataSet{OffsetFromMaster: -0x8000}
	if cur.OffsetFromMaster.Nanoseconds() != -0.5 || cur.OffsetFromMaster.Seconds() != -0.5e-9 {
		t.Errorf("TimeInterval -0x8000: %v ns, %v s", cur.OffsetFromMaster.Nanoseconds(), cur.OffsetFromMaster.Seconds())
	}
	if r := (TimeStatusNP{CumulativeScaledRateOffset: 1 << 30}).CumulativeRateOffset(); r != 1.0/2048 {
		t.Errorf("CumulativeRateOffset %v", r)
	}
}

func TestAppendGet(t *testing.T) {
	t.Parallel()
	src := PortIdentity{PortNumber: 0x1234}
	b := appendGet(nil, getRequest{TransportSpecific: 1, Domain: 24, Source: src, SequenceID: 0xabcd, ID: IDPortDataSet})
	want := mustHex(t, `
		1d 02 0036 18 00 0000 0000000000000000 00000000
		0000000000000000 1234 abcd 04 7f
		ffffffffffffffff ffff 00 00 00 00
		0001 0002 2004`)
	if hex.EncodeToString(b) != hex.EncodeToString(want) {
		t.Fatalf("GET PORT_DATA_SET\n got %x\nwant %x", b, want)
	}
	m, err := decodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Action != actionGet || m.BoundaryHops != 0 || m.StartingBoundaryHops != 0 || m.TargetPortIdentity != wildcardPort ||
		m.SourcePortIdentity != src || m.ID != IDPortDataSet || len(m.Data) != 0 || m.TransportSpecific != 1 {
		t.Fatalf("decoded own GET: %+v", m)
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	t.Parallel()
	good := appendGet(nil, getRequest{ID: IDCurrentDataSet})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	errStatus := mod(func(b []byte) []byte {
		b = b[:managementLen]
		b = binary.BigEndian.AppendUint16(b, tlvManagementErrorStatus)
		b = binary.BigEndian.AppendUint16(b, 8)
		b = binary.BigEndian.AppendUint16(b, uint16(ErrNotSupported))
		b = binary.BigEndian.AppendUint16(b, uint16(IDGrandmasterSettingsNP))
		b = append(b, 0, 0, 0, 0)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		return b
	})
	m, err := decodeMessage(errStatus)
	if err != nil || m.Err == nil || m.Err.Error() != "GRANDMASTER_SETTINGS_NP: NOT_SUPPORTED" {
		t.Fatalf("error status: %+v %v", m.Err, err)
	}
	withText := mod(func(b []byte) []byte {
		b = append(errStatus[:len(errStatus):len(errStatus)], 3, 'a', 'b', 'c')
		binary.BigEndian.PutUint16(b[managementLen+2:], 12)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		return b
	})
	if m, err := decodeMessage(withText); err != nil || m.Err.DisplayData != "abc" || m.Err.Error() != "GRANDMASTER_SETTINGS_NP: NOT_SUPPORTED (abc)" {
		t.Fatalf("error status with displayData: %+v %v", m.Err, err)
	}

	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"announce", mod(func(b []byte) []byte { b[0] = 0x0b; return b }), "not management"},
		{"version 1", mod(func(b []byte) []byte { b[1] = 1; return b }), "version"},
		{"length below TLV", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], 40); return b }), "too small"},
		{"length beyond datagram", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], 60); return b }), "truncated"},
		{"TLV beyond message", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[50:], 4); return b }), "truncated"},
		{"odd TLV", mod(func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[50:], 1)
			binary.BigEndian.PutUint16(b[2:], 53)
			return b
		}), "odd"},
		{"empty TLV", mod(func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[50:], 0)
			binary.BigEndian.PutUint16(b[2:], 52)
			return b
		}), "truncated"},
		{"other TLV", mod(func(b []byte) []byte { b[49] = 8; return b }), "not a management TLV"},
		{"short error status", mod(func(b []byte) []byte { b[49] = 2; return b }), "truncated"},
	}
	for _, tt := range tests {
		if _, err := decodeMessage(tt.b); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: want error containing %q, got %v", tt.name, tt.want, err)
		}
	}
	// Bytes after messageLength are not part of the message.
	if m, err := decodeMessage(append(append([]byte(nil), good...), 0xde, 0xad)); err != nil || m.ID != IDCurrentDataSet {
		t.Errorf("trailing bytes: %+v %v", m, err)
	}
}

func TestIdentities(t *testing.T) {
	t.Parallel()
	c := ClockIdentity{0xbc, 0xfc, 0xe7, 0xff, 0xfe, 0x24, 0x4d, 0xaf}
	if c.String() != "bcfce7.fffe.244daf" {
		t.Errorf("ClockIdentity %q", c.String())
	}
	if s := (PortIdentity{c, 1}).String(); s != "bcfce7.fffe.244daf-1" {
		t.Errorf("PortIdentity %q", s)
	}
	for _, s := range []string{"bcfce7.fffe.244daf", "BCFCE7.FFFE.244DAF", "bcfce7fffe244daf"} {
		if got, err := ParseClockIdentity(s); err != nil || got != c {
			t.Errorf("ParseClockIdentity(%q) = %s, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "bcfce7.fffe.244da", "bcfce7:fffe:244daf", "zcfce7.fffe.244daf", "bcfce7.fffe.244daf-1"} {
		if _, err := ParseClockIdentity(s); err == nil || !strings.Contains(err.Error(), strconv.Quote(s)) {
			t.Errorf("ParseClockIdentity(%q): want an error naming the input, got %v", s, err)
		}
	}
}

// names joins the values' String()s with spaces.
func names[T fmt.Stringer](vs []T) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.String())
	}
	return b.String()
}

func TestEnumNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{names(AllPortStates()), "INITIALIZING FAULTY DISABLED LISTENING PRE_MASTER MASTER PASSIVE UNCALIBRATED SLAVE"},
		{PortState(0).String(), "PortState(0)"},
		{PortState(10).String(), "PortState(10)"},
		{names(AllRoles()), "Unknown Grandmaster Slave Uncalibrated Listening Faulty Disabled Master Passive"},
		{Role(42).String(), "Role(42)"},
		{IDGrandmasterSettingsNP.String(), "GRANDMASTER_SETTINGS_NP"},
		{ManagementID(0x1234).String(), "ManagementID(0x1234)"},
		{ManagementErrorID(9).String(), "ManagementErrorID(0x0009)"},
		{(&ManagementError{ManagementID: IDGrandmasterSettingsNP, ErrorID: ErrNoSuchID}).Error(), "GRANDMASTER_SETTINGS_NP: NO_SUCH_ID"},
		{TimestampingName(0), "SOFTWARE"},
		{TimestampingName(1), "HARDWARE"},
		{TimestampingName(9), "???"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

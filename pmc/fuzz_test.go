package pmc

import (
	"bytes"
	"encoding"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary datagrams to the decoder the client runs on
// everything it receives. The seed corpus (testdata/fuzz/FuzzDecode) holds
// real answers of ptp4l 3.1.1, captured with
// PMC_CAPTURE_CORPUS=1 go test ./pmc/ -run TestPTP4L/CaptureCorpus.
//
// Properties: no panic; a decoded dataset encodes back to the bytes it was
// decoded from (up to its length), and decodes again to the same value.
func FuzzDecode(f *testing.F) {
	f.Add(appendGet(nil, getRequest{Domain: 0, SequenceID: 1, ID: IDCurrentDataSet}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil || m.Err != nil {
			return
		}
		if len(m.Data) > len(b) {
			t.Fatalf("data of %d bytes from a %d-byte message", len(m.Data), len(b))
		}
		v, err := decodeDataset(m.ID, m.Data)
		if err != nil {
			return
		}
		enc, err := v.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			if _, ok := v.(*PortPropertiesNP); ok {
				return // cannot happen from the wire: a PTPText is at most 255 bytes
			}
			t.Fatalf("%s: encode %+v: %v", m.ID, v, err)
		}
		again, err := decodeDataset(m.ID, enc)
		if err != nil {
			t.Fatalf("%s: decode own encoding: %v", m.ID, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("%s: round trip %+v -> %+v", m.ID, v, again)
		}
		// Reserved bits are dropped, so only compare when the input had none.
		if len(enc) <= len(m.Data) && !bytes.Equal(enc, m.Data[:len(enc)]) && !hasReservedBits(m.ID, m.Data) {
			t.Fatalf("%s: re-encoded\n%x\nfrom\n%x", m.ID, enc, m.Data)
		}
	})
}

// hasReservedBits reports whether data sets bits the decoders ignore
// (reserved octets and flag bits), which do not survive a round trip.
func hasReservedBits(id ManagementID, d []byte) bool {
	switch id {
	case IDDefaultDataSet:
		return d[0]&^0x03 != 0 || d[1] != 0 || len(d) > 19 && d[19] != 0
	case IDParentDataSet:
		return d[10]&^0x01 != 0 || d[11] != 0
	case IDTimePropertiesDataSet:
		return d[2]&0xc0 != 0
	case IDGrandmasterSettingsNP:
		return d[6]&0xc0 != 0
	case IDPortDataSet:
		return d[25]&0xf0 != 0
	case IDTimeStatusNP:
		return d[38] != 0 || d[39] != 0 || d[40] != 0 || d[41]&^0x01 != 0 // gmPresent is any non-zero Integer32
	case IDPortPropertiesNP:
		n := 13 + int(d[12])
		return n%2 == 1 && len(d) > n && d[n] != 0 // padding octet
	}
	return false
}

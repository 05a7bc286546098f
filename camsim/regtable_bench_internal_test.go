package camsim

import (
	"net/netip"
	"testing"
)

// BenchmarkReadStatus answers one READREG of the PTP status of an own
// profile, which the node-graph engine serves: "own" samples only the live
// feature at the word read (its register resolved at load), "sampleAll"
// samples every live feature through the graph for each read command (the
// engine before that, kept as the baseline of the same run); and one
// READREG of the latched timestamp (bootstrap register), which samples
// nothing.
func BenchmarkReadStatus(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  func(*camera)
	}{
		{"own", func(*camera) {}},
		{"sampleAll", func(c *camera) { c.gc.liveAll = true }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newTestCamera(b, Config{Profile: ProfileSFNC})
			tc.cfg(c)
			c.ptp.setEnabled(true)
			src := netip.MustParseAddrPort("127.0.0.1:40000")
			for _, r := range []struct {
				name string
				addr []byte
			}{{"status", []byte{0, 1, 0, 0x58}}, {"latched", []byte{0, 0, 0x09, 0x48}}} {
				pkt := MarshalCommand(FlagAckRequired, CmdReadReg, 1, r.addr)
				b.Run(r.name, func(b *testing.B) {
					for b.Loop() {
						if a, err := ParseAck(c.handle(pkt, src)); err != nil || a.Status != StatusSuccess {
							b.Fatalf("READREG: %+v %v", a, err)
						}
					}
				})
			}
		})
	}
}

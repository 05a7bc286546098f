package camsim

import (
	"log/slog"
	"net/netip"
	"testing"
)

// BenchmarkReadStatus answers one READREG of the PTP status: through the
// register table (own profile) and through the node-graph engine (the same
// camsim XML impersonated), the cost the move of the own profiles onto the
// engine would add to every monitoring read; and one READREG of the
// latched timestamp (bootstrap), which the engine answers without
// sampling.
func BenchmarkReadStatus(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"table", func(*Config) {}},
		{"engine", func(c *Config) { c.GenICam = GenICamXML(ProfileSFNC, "ptpcam", "camsim") }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := Config{Address: netip.MustParseAddr("127.0.0.1"), Profile: ProfileSFNC}
			tc.cfg(&cfg)
			cfg.Defaults()
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			c, err := newCamera(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
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

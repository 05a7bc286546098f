package camsim

import (
	"testing"
	"time"
)

// A slaved camera runs on its grandmaster's timescale: TAI when the Announce
// sets ptpTimescale, the grandmaster's own (here: the host's) time for ARB.
func TestClockFollowsAnnounceTimescale(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	c := newClock(true, 0, 0, 0)
	host := time.Unix(1_800_000_000, 0)
	c.now = func() time.Time { return host }
	if got := int64(c.Read()) - host.UnixNano(); got != 37e9 {
		t.Fatalf("TAI clock before any Announce: %d ns ahead, want 37 s", got)
	}
	c.FollowAnnounce(announce{PTPTimescale: false})
	if got := int64(c.Read()) - host.UnixNano(); got != 0 {
		t.Errorf("after an ARB Announce: %d ns ahead, want 0", got)
	}
	c.FollowAnnounce(announce{PTPTimescale: true, UTCOffsetValid: true, UTCOffset: 36})
	if got := int64(c.Read()) - host.UnixNano(); got != 36e9 {
		t.Errorf("after a PTP Announce with currentUtcOffset 36: %d ns ahead, want 36 s", got)
	}
}

package camsim

import (
	"strings"
	"testing"
	"time"
)

func TestPulseGrid(t *testing.T) {
	p := pulsePeriod(50)
	if p != int64(20*time.Millisecond) {
		t.Fatalf("50 Hz: period %d ns", p)
	}
	for _, tc := range []struct{ now, want int64 }{
		{0, p}, {1, p}, {p - 1, p}, {p, 2 * p}, {1796178423820000001, 1796178423840000000},
	} {
		if got := nextPulse(tc.now, p); got != tc.want {
			t.Errorf("nextPulse(%d) = %d, want %d", tc.now, got, tc.want)
		}
	}
	if pulsePeriod(3) != 333333333 {
		t.Errorf("3 Hz: period %d", pulsePeriod(3))
	}
	for _, hz := range []float64{-1, 10001} {
		if err := checkTriggerRate(hz); err == nil || !strings.Contains(err.Error(), "want 0 (none) to 10000") {
			t.Errorf("trigger rate %v: %v", hz, err)
		}
	}
	if err := checkTriggerRate(50); err != nil {
		t.Error(err)
	}
}

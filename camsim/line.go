package camsim

import (
	"context"
	"fmt"
	"time"
)

// The pulse generator wired to every camera's trigger lines: a rising edge
// at every k/TriggerRate on the host's CLOCK_REALTIME (the rig's PTP
// timeline with software timestamping). A camera acquiring with TriggerMode
// On and a Line entry as TriggerSource takes a frame at each edge, stamped
// with its device time at the edge (as a camera latches its timestamp on
// the edge, however late the simulator gets to it).

// maxTriggerRate bounds Config.TriggerRate.
const maxTriggerRate = 10000

// checkTriggerRate validates Config.TriggerRate (0: no pulse generator).
func checkTriggerRate(hz float64) error {
	if hz < 0 || hz > maxTriggerRate || hz != hz {
		return fmt.Errorf("trigger rate %v Hz: want 0 (none) to %d", hz, maxTriggerRate)
	}
	return nil
}

// pulsePeriod is the pulse period in whole ns.
func pulsePeriod(hz float64) int64 { return int64(float64(time.Second)/hz + 0.5) }

// nextPulse is the first pulse instant (Unix ns) after host time now.
func nextPulse(now, period int64) int64 { return (now/period + 1) * period }

// runPulses fires the camera's line trigger at every pulse until ctx ends.
func (c *camera) runPulses(ctx context.Context, hz float64) {
	period := pulsePeriod(hz)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		at := nextPulse(time.Now().UnixNano(), period)
		t.Reset(time.Until(time.Unix(0, at)))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The device time at the edge: now's, less how late we are.
		late := time.Now().UnixNano() - at
		c.fireLine(c.clock.Exact()-uint64(max(late, 0)), time.Duration(period))
	}
}

// fireLine is a pulse on the trigger lines at device time ts: a frame when
// acquiring with TriggerMode On and a Line source. A camera triggered
// faster than its free-run rate reads out at the trigger rate: the frame is
// paced over the pulse period, not the (longer) frame period.
func (c *camera) fireLine(ts uint64, period time.Duration) {
	c.mu.Lock()
	ok := c.acquiring && c.trigMode == 1 && c.trigSource == triggerSourceLine0
	p := c.streamParamsLocked()
	c.mu.Unlock()
	p.period = min(p.period, period)
	if ok && !c.unplugged.Load() {
		c.str.enqueue(c.ticks(ts), p)
	}
}

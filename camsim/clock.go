package camsim

import (
	"math/rand/v2"
	"sync"
	"time"
)

// defaultUTCOffset is TAI−UTC since 2017 (IEEE 1588 currentUtcOffset).
const defaultUTCOffset = 37

// clock is the camera's timestamp counter in nanoseconds (tick frequency
// 1 GHz): host CLOCK_REALTIME, moved to TAI when the timescale asks, plus an
// offset, a drift accumulated since it was set, and a bounded random jitter
// on every read.
type clock struct {
	mu        sync.Mutex
	tai       bool
	utcOffset int64 // seconds, TAI−UTC
	offset    time.Duration
	ppm       float64
	driftFrom time.Time     // host time the current drift rate applies from
	driftAcc  time.Duration // drift accumulated before driftFrom
	jitter    time.Duration
	now       func() time.Time
}

func newClock(tai bool, offset time.Duration, ppm float64, jitter time.Duration) *clock {
	c := &clock{tai: tai, utcOffset: defaultUTCOffset, offset: offset, ppm: ppm, jitter: jitter, now: time.Now}
	c.driftFrom = c.now()
	return c
}

// driftLocked is the drift accumulated up to host time h.
func (c *clock) driftLocked(h time.Time) time.Duration {
	return c.driftAcc + time.Duration(float64(h.Sub(c.driftFrom))*c.ppm/1e6)
}

// errorLocked is the device clock minus the ideal clock at host time h, without jitter.
func (c *clock) errorLocked(h time.Time) time.Duration {
	return c.offset + c.driftLocked(h)
}

func (c *clock) idealLocked(h time.Time) int64 {
	t := h.UnixNano()
	if c.tai {
		t += c.utcOffset * int64(time.Second)
	}
	return t
}

// Read returns the device time with jitter, as a latch or a free-running
// frame sees it.
func (c *clock) Read() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.now()
	t := c.idealLocked(h) + int64(c.errorLocked(h))
	if c.jitter > 0 {
		t += rand.Int64N(2*int64(c.jitter)+1) - int64(c.jitter)
	}
	return uint64(t)
}

// Exact returns the device time without jitter.
func (c *clock) Exact() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.now()
	return uint64(c.idealLocked(h) + int64(c.errorLocked(h)))
}

// HostTime returns the host instant at which the device clock reads t
// (ignoring jitter): what a timer must wait for to act at device time t.
func (c *clock) HostTime(t uint64) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.now()
	dev := c.idealLocked(h) + int64(c.errorLocked(h))
	// The device runs at 1+ppm/1e6 of host speed.
	dt := float64(int64(t)-dev) / (1 + c.ppm/1e6)
	return h.Add(time.Duration(dt))
}

// Error returns the device clock's offset from the ideal clock now
// (configured offset plus accumulated drift), plus one jitter sample.
func (c *clock) Error() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.errorLocked(c.now())
	if c.jitter > 0 {
		e += time.Duration(rand.Int64N(2*int64(c.jitter)+1) - int64(c.jitter))
	}
	return e
}

// SetOffset sets the absolute offset; the accumulated drift is cleared, so
// the device clock reads ideal+offset right after.
func (c *clock) SetOffset(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
	c.driftAcc = 0
	c.driftFrom = c.now()
}

// Step adds d to the offset, as a clock step does.
func (c *clock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// SetDrift changes the drift rate from now on, keeping what accumulated.
func (c *clock) SetDrift(ppm float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.now()
	c.driftAcc = c.driftLocked(h)
	c.driftFrom = h
	c.ppm = ppm
}

// SetJitter sets the bound of the per-read jitter.
func (c *clock) SetJitter(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		d = -d
	}
	c.jitter = d
}

// FollowAnnounce takes the grandmaster's timescale from a heard Announce: a
// slaved camera runs on its grandmaster's time, TAI when the domain's
// ptpTimescale is set (then TAI−UTC from currentUtcOffset), else the
// grandmaster's arbitrary timescale — for ptp4l with software timestamping
// that is CLOCK_REALTIME itself.
func (c *clock) FollowAnnounce(a announce) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tai = a.PTPTimescale
	if a.UTCOffsetValid {
		c.utcOffset = int64(a.UTCOffset)
	}
}

// Reset makes the counter read zero now (TimestampReset): the offset absorbs
// the current reading.
func (c *clock) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.now()
	c.offset -= time.Duration(c.idealLocked(h) + int64(c.errorLocked(h)))
}

type clockState struct {
	Offset    time.Duration
	Drift     time.Duration
	PPM       float64
	Jitter    time.Duration
	UTCOffset int64
	TAI       bool
}

func (c *clock) state() clockState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clockState{Offset: c.offset, Drift: c.driftLocked(c.now()), PPM: c.ppm, Jitter: c.jitter, UTCOffset: c.utcOffset, TAI: c.tai}
}

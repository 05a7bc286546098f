// Clock steps at arming: a camera whose clock stepped between the latch the
// start was found from and the start (PTP locking, a timescale change such
// as −37 s to the grandmaster's TAI) would wait for a start that is no longer
// on its timeline.

package record

import (
	"context"
	"fmt"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

// Clock step handling.
const (
	// stepTolerance is the change of a camera's device−host offset taken
	// as a step (beyond both latches' brackets): PTP's servo slews by
	// far less between two latches.
	stepTolerance = time.Millisecond
	// rearmAttempts bounds re-arming for a clock that keeps stepping.
	rearmAttempts = 3
)

// clockStep is the largest change of a camera's offset between two latch
// sets beyond their brackets, and that camera's index (-1: none).
func clockStep(before, after []genicam.LatchSample) (time.Duration, int) {
	var worst time.Duration
	idx := -1
	for i := range before {
		d := after[i].Offset() - before[i].Offset()
		slack := stepTolerance + before[i].HalfBracket() + after[i].HalfBracket()
		if d.Abs() > slack && d.Abs() > worst.Abs() {
			worst, idx = d, i
		}
	}
	return worst, idx
}

// Watching the clocks until the start.
const (
	// clockPoll is how often the clocks are latched while waiting.
	clockPoll = 200 * time.Millisecond
	// timelineWait is how long cameras may disagree after a step (the
	// others following it, each at its first Announce) before it fails.
	timelineWait = 3 * time.Second
)

// watchGuard is how long before the start the watch ends, leaving the take
// its set-up.
func (r *Recorder) watchGuard() time.Duration { return min(r.cfg.LeadTime/2, 500*time.Millisecond) }

// relatch latches every camera again once all are armed, and keeps doing so
// until just before the start: a camera whose clock stepped since the latch
// the start was found from (PTP locking, a timescale change) has the take
// re-armed on its new timeline, once every camera is on it; a clock that
// keeps stepping, or cameras left on different timelines, fail the take
// with the measured step.
func (r *Recorder) relatch(ctx context.Context, t *take) error {
	r.log.Info("Watching the cameras' clocks until the start", "cameras", len(t.cams), "until", t.hostStart.Add(-r.watchGuard()).Format(time.RFC3339Nano))
	rearms := 0
	var split time.Time
	for {
		samples, err := latchAll(ctx, t.cams)
		if err != nil {
			return err
		}
		if step, i := clockStep(t.samples, samples); i >= 0 {
			step = step.Round(time.Microsecond)
			serial := t.cams[i].Serial()
			if rearms >= rearmAttempts {
				return fmt.Errorf("camera %s: clock keeps stepping while arming (last step %v since its latch, %d re-arms); wait for its PTP to settle",
					serial, step, rearms)
			}
			if err := oneTimeline(t.cams, samples); err != nil {
				if split.IsZero() {
					split = time.Now()
				}
				if time.Since(split) > timelineWait {
					return fmt.Errorf("after camera %s's clock stepped %v: %w", serial, step, err)
				}
				if err := sleepCtx(ctx, clockPoll); err != nil {
					return err
				}
				continue // the others may follow
			}
			split = time.Time{}
			rearms++
			if err := r.rearm(ctx, t, samples, serial, step, rearms); err != nil {
				return err
			}
			continue
		}
		left := time.Until(t.hostStart) - r.watchGuard()
		if left <= 0 {
			return nil
		}
		if err := sleepCtx(ctx, min(left, clockPoll)); err != nil {
			return err
		}
	}
}

// rearm moves the take onto the cameras' new timeline: a new start from
// the new latches, the schedulers programmed again.
func (r *Recorder) rearm(ctx context.Context, t *take, samples []genicam.LatchSample, serial string, step time.Duration, n int) error {
	r.log.Warn("Camera clock stepped since it was latched: re-arming the take on the new timeline",
		"serial", serial, "step", step, "attempt", n)
	for j := range samples {
		if d := samples[j].Offset() - t.samples[j].Offset(); d.Abs() > stepTolerance {
			t.recs[j].clockStep.Add(int64(d))
		}
	}
	if err := r.startFrom(t, samples); err != nil {
		return err
	}
	for _, cr := range t.recs {
		if cr.mode == SyncScheduler || cr.mode == "" {
			if err := r.armMode(ctx, cr, t.start); err != nil {
				return err
			}
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// timelineSpread is the most two cameras' clocks may differ and still be on
// one PTP timeline (far beyond PTP's error, far below a timescale step).
const timelineSpread = 100 * time.Millisecond

// oneTimeline checks that the cameras' clocks agree (after a step, a camera
// on another timescale than the others cannot start with them).
func oneTimeline(cams []Camera, samples []genicam.LatchSample) error {
	lo, hi := 0, 0
	for i := range samples {
		if samples[i].Offset() < samples[lo].Offset() {
			lo = i
		}
		if samples[i].Offset() > samples[hi].Offset() {
			hi = i
		}
	}
	if d := samples[hi].Offset() - samples[lo].Offset(); d > timelineSpread {
		return fmt.Errorf("cameras on different timelines: camera %s's clock is %v ahead of camera %s's", cams[hi].Serial(), d.Round(time.Microsecond), cams[lo].Serial())
	}
	return nil
}

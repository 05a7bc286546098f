// Acquisition: the acquirer takes frames off the stream onto the trigger grid; the watchdog,
// the monitor and Aravis' counters of the take.

package record

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

// watchdog ends acquisition when the take's time is over (the last triggers
// never arrived) and reports a camera that stopped delivering frames.
func (c *camRec) watchdog(ctx context.Context, hostStart time.Time, interval time.Duration, total int64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	stall := c.r.cfg.StallTimeout
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if total > 0 && now.After(hostStart.Add(time.Duration(total)*interval+stall)) {
				c.log.Warn("Take over but the last triggers never arrived", "last_grid_index", c.lastK.Load(), "frames", total)
				c.cancel()
				return
			}
			last := time.Unix(0, c.lastFrameHost.Load())
			if now.Sub(last) > stall && now.After(hostStart) {
				if c.lastK.Load() < 0 {
					c.fail(fmt.Errorf("camera %s: no frame %v after the start (scheduler not firing, stream blocked, or camera gone)", c.serial, now.Sub(hostStart).Round(time.Millisecond)))
				} else {
					c.fail(fmt.Errorf("camera %s: no frame for %v after trigger %d (camera unplugged or stream lost)", c.serial, stall, c.lastK.Load()))
				}
				return
			}
		}
	}
}

// latestBelievable is the highest trigger whose frame can have arrived by
// host time now: the triggers fired so far, and a second more for the
// difference between host and camera clocks.
func (c *camRec) latestBelievable(now, interval int64) int64 {
	return (now-c.hostStartNs)/interval + max(int64(time.Second)/interval, 5)
}

// gridIndex places a frame on the trigger grid by its timestamp.
func gridIndex(ts, start, interval int64) int64 {
	d := ts - start
	if d >= 0 {
		return (d + interval/2) / interval
	}
	return -((-d + interval/2) / interval)
}

// frameIDStep is the number of blocks from prev to id with GigE Vision
// 1.x's 16-bit block ids, which skip 0 when they wrap.
func frameIDStep(prev, id uint64) int64 {
	if id > 0xffff || prev > 0xffff {
		return int64(id - prev)
	}
	if id >= prev {
		return int64(id - prev)
	}
	return int64(id + 0xffff - prev)
}

// acquire takes frames from the stream until the take is complete or ctx
// ends. It never blocks on the writer.
func (c *camRec) acquire(ctx context.Context, start, interval, total int64) {
	defer close(c.queue)
	// Largest believable gap between two frames: 10 s of triggers.
	maxJump := max(int64(10*time.Second)/interval, 100)
	var prevID uint64
	haveID := false
	lastK := int64(-1)
	for {
		f, err := c.stream.Next(ctx)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		// A frame from before the start (a camera that ran free while it
		// was armed) does not start the stall clock before the start.
		c.lastFrameHost.Store(max(now, c.hostStartNs))
		c.received.Add(1)
		rx := f.SystemTimestamp
		if rx == 0 {
			rx = now
		}
		k := gridIndex(f.Timestamp, start, interval)
		if f.Timestamp <= 0 && haveID {
			// No usable timestamp: count blocks instead.
			k = lastK + frameIDStep(prevID, f.FrameID)
		}
		if haveID && k > lastK {
			if step := frameIDStep(prevID, f.FrameID); step != k-lastK {
				c.log.Debug("Frame id and timestamp disagree on the gap", "frame_id", f.FrameID, "prev_frame_id", prevID, "id_step", step, "grid_step", k-lastK)
			}
		}
		prevID, haveID = f.FrameID, true
		rejected, over := c.reject(f, k, lastK, now, interval, total, maxJump)
		if over {
			return
		}
		if rejected {
			continue
		}
		if c.offGrid(f, start+k*interval, interval) {
			continue
		}
		if lastK < 0 {
			c.takeBase() // the start timer came late
		}
		if lastK < 0 && !c.haveFirst.Load() {
			c.firstOffset.Store(f.Timestamp - (start + k*interval))
			c.haveFirst.Store(true)
			if c.mode == SyncFree {
				c.log.Warn("Free-running camera aligned to the grid by timestamp", "misalignment", time.Duration(c.firstOffset.Load()))
			}
		}
		if gap := k - lastK - 1; gap > 0 {
			c.missing.Add(uint64(gap))
		}
		last := total > 0 && k == total-1
		if last {
			// The take's counters are Aravis' as its last frame comes
			// out, and its triggers stop before the writer drains.
			c.endTake()
		}
		c.queueFrame(f, frameMeta{k: k, frameID: f.FrameID, ts: f.Timestamp, rx: rx, status: StatusOK, depth: len(c.queue)})
		lastK = k
		c.lastK.Store(k)
		if last {
			return
		}
	}
}

// offGrid gives back a triggered frame whose timestamp is more than a
// quarter interval from its grid slot's time (an action that fired late,
// when its command came after its time): a gap, not a frame off the grid.
// Free-running cameras are placed by timestamp and kept.
func (c *camRec) offGrid(f genicam.Frame, slot, interval int64) bool {
	if c.mode == SyncFree || f.Timestamp <= 0 {
		return false
	}
	if d := f.Timestamp - slot; d > interval/4 || d < -interval/4 {
		c.log.Debug("Frame off its grid slot (a late trigger): dropped", "frame_id", f.FrameID, "timestamp", f.Timestamp, "off", time.Duration(d))
		_ = c.stream.Release(f)
		c.dropLate.Add(1)
		return true
	}
	return false
}

// reject gives back a frame that has no place in the take (before the
// start, stale, from the future, far off the grid) and says so; over: the
// frame is of a trigger after the take's last, which ends it (acquirer only).
func (c *camRec) reject(f genicam.Frame, k, lastK, now, interval, total, maxJump int64) (rejected, over bool) {
	switch {
	case k < 0:
		// Before the start: not a frame of the take.
		_ = c.stream.Release(f)
		c.beforeStart.Add(1)
		return true, false
	case k <= lastK:
		// Not after the previous one: a stale or
		// reordered frame has no place in the file.
		_ = c.stream.Release(f)
		c.dropLate.Add(1)
		return true, false
	case k > c.latestBelievable(now, interval):
		// Ahead of the host's clock: a trigger that has not fired yet
		// (a bogus timestamp or block id). Taken for real it would end
		// the take early or make every real frame after it stale.
		c.log.Warn("Frame from the future: dropped", "frame_id", f.FrameID, "timestamp", f.Timestamp, "grid_index", k, "last_grid_index", lastK)
		_ = c.stream.Release(f)
		c.dropLate.Add(1)
		return true, false
	case total > 0 && k >= total:
		// The take's last frame never came: a trigger after it.
		c.endTake()
		_ = c.stream.Release(f)
		return true, true
	case lastK >= 0 && k-lastK > maxJump:
		// A timestamp far off the grid (camera clock stepped): padding
		// up to it would write minutes of repeats. Not a frame of ours.
		c.log.Warn("Frame timestamp far off the trigger grid: dropped", "frame_id", f.FrameID, "timestamp", f.Timestamp, "grid_index", k, "last_grid_index", lastK)
		_ = c.stream.Release(f)
		c.dropLate.Add(1)
		return true, false
	}
	return false, false
}

// queueFrame hands a frame's buffer to the writer, or gives it back to the
// stream at once when it is incomplete or the writer holds all it may
// (dropped: the encoder is behind). It never blocks.
func (c *camRec) queueFrame(f genicam.Frame, m frameMeta) {
	var hf *heldFrame
	switch {
	case f.Status != genicam.FrameSuccess || len(f.Data) < c.r.frameSz:
		m.status = StatusIncomplete
		c.dropIncomplete.Add(1)
	default:
		select {
		case hf = <-c.free:
			hf.f, hf.data = f, f.Data[:c.r.frameSz]
		default:
			m.status = StatusDropped
			c.dropQueue.Add(1)
		}
	}
	if hf == nil {
		_ = c.stream.Release(f)
	}
	select {
	case c.queue <- item{hf: hf, meta: m}:
	default:
		// The marker queue is twice the held frames: full only when the
		// writer is stuck; the writer then sees a gap (missing).
		if hf != nil {
			_ = c.stream.Release(f)
			hf.f, hf.data = genicam.Frame{}, nil
			c.free <- hf
			c.dropQueue.Add(1)
		}
	}
}

// endTake ends the take for the camera, once (acquirer only): Aravis'
// counters are snapshot as the take's, before anything else, and then the
// camera's scheduler stops. What Aravis counts afterwards (frames of
// triggers after the take, and of a camera running free once its trigger is
// off) is not the take's; an underrun during the take (a lost frame) is.
func (c *camRec) endTake() {
	if c.acqDone.Load() {
		return
	}
	c.pollStats(true)
	c.acqDone.Store(true)
	cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer ccancel()
	if err := c.cam.CancelScheduler(cctx); err != nil && !c.failed.Load() {
		c.log.Warn("Cancel scheduler", "err", err)
	}
}

// drain gives every frame that arrives after the take back to the stream at
// once, until ctx ends (before the stream closes), so that Aravis never
// runs out of buffers while the writer still holds the take's.
func (c *camRec) drain(ctx context.Context) {
	for {
		f, err := c.stream.Next(ctx)
		if err != nil {
			return
		}
		_ = c.stream.Release(f)
	}
}

// pollStats copies Aravis' counters, until final: the acquirer's last call
// when the take is over for the camera. The stream stays open until the
// writer has given its buffers back, and a camera whose trigger is off runs
// free meanwhile: what Aravis counts then (underruns, with no one taking
// frames) is not the take's.
func (c *camRec) pollStats(final bool) {
	if c.stream == nil {
		return
	}
	s := c.stream.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statsFinal || s == (genicam.StreamStats{}) || (!final && !c.haveBase) {
		return // final, closed, or before the take (counters never go back)
	}
	c.stats, c.statsFinal = subStats(s, c.base), final
}

// takeBase takes the counters the take's are counted from, once: just before
// the first trigger, or at the take's first frame when that comes first.
func (c *camRec) takeBase() {
	c.baseOnce.Do(func() {
		s := c.stream.Stats()
		c.mu.Lock()
		c.base, c.haveBase = s, true
		c.mu.Unlock()
		if s.Underruns > 0 || s.IgnoredPackets > 0 || s.MissingFrames > 0 {
			c.log.Info("Aravis counted before the take (not the take's)", "aravis_underruns", s.Underruns,
				"aravis_ignored_packets", s.IgnoredPackets, "aravis_missing_frames", s.MissingFrames, "aravis_completed_buffers", s.CompletedBuffers)
		}
	})
}

// subStats is a less b, counter by counter (never below 0).
func subStats(a, b genicam.StreamStats) genicam.StreamStats {
	d := func(x, y uint64) uint64 {
		if x < y {
			return 0
		}
		return x - y
	}
	return genicam.StreamStats{
		CompletedBuffers: d(a.CompletedBuffers, b.CompletedBuffers), Failures: d(a.Failures, b.Failures),
		Underruns: d(a.Underruns, b.Underruns), Timeouts: d(a.Timeouts, b.Timeouts), Aborted: d(a.Aborted, b.Aborted),
		MissingFrames: d(a.MissingFrames, b.MissingFrames), ReceivedPackets: d(a.ReceivedPackets, b.ReceivedPackets),
		MissingPackets: d(a.MissingPackets, b.MissingPackets), ErrorPackets: d(a.ErrorPackets, b.ErrorPackets),
		IgnoredPackets: d(a.IgnoredPackets, b.IgnoredPackets), ResendRequests: d(a.ResendRequests, b.ResendRequests),
		ResentPackets: d(a.ResentPackets, b.ResentPackets), DuplicatedPackets: d(a.DuplicatedPackets, b.DuplicatedPackets),
		TransferredBytes: d(a.TransferredBytes, b.TransferredBytes),
	}
}

// monitor polls stream counters every second, computes the start skew once
// every camera has its first frame, and drives the progress output.
func (r *Recorder) monitor(done <-chan struct{}, hostStart time.Time, recs []*camRec) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	skewDone := false
	for {
		select {
		case <-done:
			r.checkSkew(recs, true)
			if r.progress != nil {
				r.progress.update(r, true)
			}
			return
		case <-t.C:
		}
		if r.state.Load() == int32(StateWaiting) && time.Now().After(hostStart) {
			r.state.Store(int32(StateRecording))
		}
		for _, cr := range recs {
			if !cr.failed.Load() && !cr.acqDone.Load() {
				cr.pollStats(false)
			}
		}
		if !skewDone {
			skewDone = r.checkSkew(recs, time.Since(hostStart) > 3*time.Second)
		}
		if r.progress != nil {
			r.progress.update(r, false)
		}
	}
}

// checkSkew computes the start skew: the spread across cameras of their
// first frames' offsets from the grid. With final set it settles for the
// cameras that have a first frame.
func (r *Recorder) checkSkew(recs []*camRec, final bool) bool {
	if r.skewNs.Load() >= 0 {
		return true
	}
	lo, hi, n := int64(math.MaxInt64), int64(math.MinInt64), 0
	for _, cr := range recs {
		if !cr.haveFirst.Load() {
			continue
		}
		o := cr.firstOffset.Load()
		lo, hi, n = min(lo, o), max(hi, o), n+1
	}
	if n == 0 || (n < len(recs) && !final) {
		return false
	}
	r.skewNs.Store(hi - lo)
	r.log.Info("Start skew across cameras", "skew", time.Duration(hi-lo), "cameras", n)
	return true
}

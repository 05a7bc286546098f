package camsim

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// scheduler is the camera's action scheduler (The Imaging Source's
// ActionSchedulerTime/Interval/Commit/Cancel): Action0 at device time T, then
// every interval after it. Scheduled ACTION_CMDs use it for one-shot times.
type scheduler struct {
	clock *clock
	fire  func(ts uint64)
	ctx   context.Context

	mu       sync.Mutex
	cancelFn context.CancelFunc
	running  atomic.Bool
	skipped  atomic.Uint64
	pending  atomic.Int32 // scheduled ACTION_CMDs waiting for their time
}

func newScheduler(ctx context.Context, c *clock, fire func(uint64)) *scheduler {
	return &scheduler{ctx: ctx, clock: c, fire: fire}
}

func (s *scheduler) active() bool { return s != nil && s.running.Load() }

// commit replaces the schedule with t, t+interval, … (interval 0: once).
// Grid points already past are skipped, as a camera cannot act in the past.
func (s *scheduler) commit(t uint64, interval time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelFn != nil {
		s.cancelFn()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.cancelFn = cancel
	s.running.Store(true)
	go func() {
		defer s.running.Store(false)
		next := t
		if now := s.clock.Exact(); next < now {
			if interval <= 0 {
				s.skipped.Add(1)
				return
			}
			k := (now - next + uint64(interval) - 1) / uint64(interval)
			s.skipped.Add(k)
			next += k * uint64(interval)
		}
		for {
			if !s.wait(ctx, next) {
				return
			}
			s.fire(next)
			if interval <= 0 {
				return
			}
			next += uint64(interval)
		}
	}()
}

func (s *scheduler) cancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelFn != nil {
		s.cancelFn()
		s.cancelFn = nil
	}
}

// once fires at device time t without touching the committed schedule.
func (s *scheduler) once(t uint64) { s.onceBounded(t, 0) }

// onceBounded is once with at most limit actions waiting (0: no bound); a
// full queue refuses t and returns false.
func (s *scheduler) onceBounded(t uint64, limit int) bool {
	if n := s.pending.Add(1); limit > 0 && n > int32(limit) {
		s.pending.Add(-1)
		return false
	}
	go func() {
		defer s.pending.Add(-1)
		if s.wait(s.ctx, t) {
			s.fire(t)
		}
	}()
	return true
}

// wait sleeps until the device clock reaches t; false when ctx ended first.
// The host instant is recomputed before the final stretch because offset
// and drift may change while waiting.
func (s *scheduler) wait(ctx context.Context, t uint64) bool {
	for {
		d := time.Until(s.clock.HostTime(t))
		if d <= 0 {
			return ctx.Err() == nil
		}
		if d > 100*time.Millisecond {
			d -= 50 * time.Millisecond
		}
		tm := time.NewTimer(d)
		select {
		case <-ctx.Done():
			tm.Stop()
			return false
		case <-tm.C:
		}
	}
}

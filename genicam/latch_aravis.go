//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Latch latches the camera's timestamp and reads it, with the host clock read
// right before the latch command and right after its acknowledgement, in the
// same C call (gp_execute_timed). The camera lock is taken before the first
// host read, so waiting for it never widens the bracket, and so is a PM QoS
// request that keeps idle CPUs awake (HoldCPULatency), so that the
// acknowledgement's wake-up does not either. A read of the latch register
// right before warms the path. A latch is thus three GVCP round trips, one of
// them bracketed.
func (c *Camera) Latch(ctx context.Context) (LatchSample, error) {
	if _, err := c.logical("timestamp latch", FeatureTimestampLatch); err != nil {
		return LatchSample{}, err
	}
	if _, err := c.logical("timestamp latch value", FeatureTimestampLatchValue); err != nil {
		return LatchSample{}, err
	}
	release, _ := holdCPULatency(0)
	defer release()
	if err := c.lock(ctx); err != nil {
		return LatchSample{}, err
	}
	defer c.mu.Unlock()
	// The first round trip after idle pays for waking the threads and CPUs
	// at both ends; a read of the latch register pays it outside the
	// bracket (BenchmarkLatch8/idle: the first latch of a batch went from
	// 33 to 11 µs, p50). A latch in ticks reads the tick frequency again
	// first: it may have changed since open (PTP turned on).
	c.refreshTickLocked()
	if _, err := c.readLatchLocked(); err != nil {
		return LatchSample{}, err
	}
	s := LatchSample{Serial: c.info.Serial}
	var gerr *C.GError
	var before, after C.struct_timespec
	C.gp_execute_timed(c.dev, c.cnames[FeatureTimestampLatch], &before, &after, &gerr)
	s.HostBefore = time.Unix(int64(before.tv_sec), int64(before.tv_nsec))
	s.HostAfter = time.Unix(int64(after.tv_sec), int64(after.tv_nsec))
	if err := takeError(&gerr); err != nil {
		return LatchSample{}, c.wrap(c.feat[FeatureTimestampLatch], err)
	}
	v, err := c.readLatchLocked()
	if err != nil {
		return LatchSample{}, err
	}
	s.Device = v
	return s, nil
}

func (c *Camera) readLatchLocked() (int64, error) {
	var gerr *C.GError
	v := C.arv_device_get_integer_feature_value(c.dev, c.cnames[FeatureTimestampLatchValue], &gerr)
	if err := takeError(&gerr); err != nil {
		return 0, c.wrap(c.feat[FeatureTimestampLatchValue], err)
	}
	return ticksToNs(uint64(v), c.tick), nil
}

// LatchAll latches every camera concurrently, each with its own bracket, so
// a camera's error does not grow with its position in a loop. samples[i] and
// errs[i] belong to cams[i].
func LatchAll(ctx context.Context, cams []*Camera) ([]LatchSample, []error) {
	// Each Latch holds the request too; taking it once first wakes the idle
	// CPUs once, before any bracket opens, instead of as each one does.
	release, _ := holdCPULatency(0)
	defer release()
	samples := make([]LatchSample, len(cams))
	errs := make([]error, len(cams))
	var wg sync.WaitGroup
	for i, c := range cams {
		wg.Go(func() { samples[i], errs[i] = c.Latch(ctx) })
	}
	wg.Wait()
	return samples, errs
}

// latchSequential does what the original chktimestat.py did: read the host
// clock, latch every camera in turn, read the host clock, then read all
// latched values. Every sample shares the one wide bracket. It exists to
// measure the artefact LatchAll removes; use LatchAll.
func latchSequential(ctx context.Context, cams []*Camera) ([]LatchSample, []error) {
	samples := make([]LatchSample, len(cams))
	errs := make([]error, len(cams))
	for i, c := range cams {
		if _, err := c.logical("timestamp latch", FeatureTimestampLatch); err != nil {
			errs[i] = err
		} else if _, err := c.logical("timestamp latch value", FeatureTimestampLatchValue); err != nil {
			errs[i] = err
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := time.Now()
	eachLocked(ctx, cams, errs, func(i int, c *Camera) error {
		var gerr *C.GError
		C.arv_device_execute_command(c.dev, c.cnames[FeatureTimestampLatch], &gerr)
		if err := takeError(&gerr); err != nil {
			return c.wrap(c.feat[FeatureTimestampLatch], err)
		}
		return nil
	})
	after := time.Now()
	eachLocked(ctx, cams, errs, func(i int, c *Camera) error {
		v, err := c.readLatchLocked()
		samples[i] = LatchSample{Serial: c.info.Serial, Device: v, HostBefore: before, HostAfter: after}
		return err
	})
	return samples, errs
}

// eachLocked runs f, under the camera's lock, for every camera that has no
// error yet, and records f's error.
func eachLocked(ctx context.Context, cams []*Camera, errs []error, f func(i int, c *Camera) error) {
	for i, c := range cams {
		if errs[i] != nil {
			continue
		}
		if err := c.lock(ctx); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = f(i, c)
		c.mu.Unlock()
	}
}

// Segments: one ffmpeg per file, rotated on the same trigger for every camera or replaced when it dies.

package record

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// maxRestarts bounds the ffmpeg restarts of one camera's take: an ffmpeg
// that keeps dying (a full disk, a broken encoder) fails the camera.
const maxRestarts = 3

// segmentFile names segment n (1-based) of the take whose first file is first.
func segmentFile(first string, n int) string {
	if n <= 1 {
		return first
	}
	ext := filepath.Ext(first)
	return fmt.Sprintf("%s_%d%s", strings.TrimSuffix(first, ext), n, ext)
}

// startSegment starts an ffmpeg into file, segment of the take from trigger
// grid on, and makes it the current one.
func (c *camRec) startSegment(file string, grid int64, enc EncoderChoice, force <-chan struct{}) error {
	if forced(force) {
		return errors.New("forced stop")
	}
	if !c.r.cfg.Overwrite && fileExists(file) {
		return fmt.Errorf("%s exists (use --overwrite)", file)
	}
	c.mu.Lock()
	n := len(c.segments) + 1
	c.mu.Unlock()
	args := c.r.opts.recordArgs(enc.Encoder, file)
	// Live progress is the current segment's: a finishing one's last
	// reports do not count.
	var self *ffmpegProc // under c.mu
	ff, err := startFFmpeg(c.r.cfg.FFmpeg, args, c.r.cfg.FFmpegNice, c.log.With("encoder", enc.Encoder, "segment", n), func(p Progress) {
		c.mu.Lock()
		if c.ff == self {
			c.progress = p
		}
		c.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("segment %s: %w", file, err)
	}
	if err := ff.initSplice(); err != nil {
		c.log.Warn("ffmpeg's stdin does not splice; frames are copied in", "err", err)
	} else {
		ff.pipe.ring = make([]pinned, spliceRing(c.r.frameSz))
	}
	c.mu.Lock()
	self, c.ff = ff, ff
	c.progress = Progress{BitrateBps: math.NaN(), Speed: math.NaN()}
	c.segments = append(c.segments, Segment{File: file, FirstGrid: grid, Encoder: enc, FFmpegArgs: args, FFmpegExitCode: -2})
	c.mu.Unlock()
	return nil
}

// rotate starts the next time segment at trigger grid. The current ffmpeg,
// which took written frames, finishes in the background once the next one
// runs; an NVENC one finishes first, since GPUs cap concurrent sessions and
// the queue can hold the frames meanwhile. When the next ffmpeg cannot start,
// the current file goes on, rotate says false and the segment says why.
func (c *camRec) rotate(grid, written int64, force <-chan struct{}) bool {
	old, _ := c.proc()
	c.mu.Lock()
	idx, first, enc := len(c.segments)-1, c.segments[0].File, c.segments[len(c.segments)-1].Encoder
	c.mu.Unlock()
	closeSegment := func(err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		s := &c.segments[idx]
		s.Frames, s.EncodedFrames, s.FFmpegExitCode = written, old.Progress().Frame, old.ExitCode()
		if err != nil {
			s.Err = err.Error()
			c.log.Error("ffmpeg of a finished segment failed", "file", s.File, "err", err)
		}
	}
	file := segmentFile(first, idx+2)
	if isNVENC(enc.Encoder) {
		old.drain(force, c.unhold)
		closeSegment(old.finish(force))
		if err := c.startSegment(file, grid, enc, force); err != nil {
			// The old one is done: without a new one the camera is.
			c.fail(fmt.Errorf("camera %s: next segment: %w", c.serial, err))
			return false
		}
	} else {
		if err := c.startSegment(file, grid, enc, force); err != nil {
			c.log.Error("Could not start the next segment; the current file goes on", "file", file, "err", err)
			c.mu.Lock()
			c.segments[idx].MissedRotation = fmt.Sprintf("trigger %d: %v", grid, err)
			c.mu.Unlock()
			return false
		}
		// The buffers in the old pipe go back before it finishes alone.
		old.drain(force, c.unhold)
		c.finishing.Go(func() { closeSegment(old.finish(force)) })
	}
	c.log.Info("Next segment", "file", file, "from_grid_index", grid)
	return true
}

// nextSegment ends the current segment, whose ffmpeg took no more frames
// (werr) after written, and starts the next one at trigger grid: a new
// ffmpeg into the next file, on a CPU encoder when the dead one was NVENC.
// It returns false, having failed the camera, when the take is being
// forced to stop, maxRestarts is reached or the new ffmpeg cannot start.
func (c *camRec) nextSegment(werr error, grid, written int64, force <-chan struct{}) bool {
	old, _ := c.proc()
	// It takes no frames; if it lives on, it is killed: the next one takes over.
	old.stop(2 * time.Second)
	old.unpinAll(c.unhold)
	cause := old.result()
	if cause == nil {
		cause = fmt.Errorf("ffmpeg exited 0 while frames were still coming: %w", werr)
	}
	c.mu.Lock()
	last := &c.segments[len(c.segments)-1]
	last.Frames, last.EncodedFrames, last.FFmpegExitCode, last.Err = written, old.Progress().Frame, old.ExitCode(), cause.Error()
	n, first, enc := len(c.segments), c.segments[0].File, last.Encoder
	cause = fmt.Errorf("%s: %w", last.File, cause)
	c.mu.Unlock()
	if forced(force) {
		c.fail(fmt.Errorf("camera %s: %w", c.serial, cause))
		return false
	}
	if c.restarts.Load() >= maxRestarts {
		c.fail(fmt.Errorf("camera %s: %w (ffmpeg died %d times)", c.serial, cause, maxRestarts+1))
		return false
	}
	if fb := c.r.cpuFallback; isNVENC(enc.Encoder) && fb != "" {
		enc = EncoderChoice{Encoder: fb, Reason: fmt.Sprintf("%s died mid-take: %v", enc.Encoder, cause)}
	} else {
		enc.Reason = fmt.Sprintf("ffmpeg died mid-take: %v", cause)
	}
	file := segmentFile(first, n+1)
	if err := c.startSegment(file, grid, enc, force); err != nil {
		c.fail(fmt.Errorf("camera %s: %w; next segment: %w", c.serial, cause, err))
		return false
	}
	c.restarts.Add(1)
	c.log.Warn("ffmpeg died mid-take; recording goes on in a new file", "err", cause, "segment", n+1, "file", file,
		"encoder", enc.Encoder, "from_grid_index", grid, "frames_written_to_dead_ffmpeg", written,
		"frames_it_encoded", old.Progress().Frame)
	return true
}

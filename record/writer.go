// The writer: queued frames to ffmpeg in grid order, gaps filled when aligning.

package record

import (
	"fmt"

	"github.com/ptpcam/ptpcam/genicam"
)

// unhold gives a held frame's buffer back to the stream once no pipe holds
// its pages and it is not kept for repeating (writer only).
func (c *camRec) unhold(hf *heldFrame) {
	if hf.pins > 0 || hf.kept {
		return
	}
	_ = c.stream.Release(hf.f)
	hf.f, hf.data = genicam.Frame{}, nil
	c.free <- hf
}

// writer is the writer goroutine's state (writeLoop's alone).
type writer struct {
	c               *camRec
	force           <-chan struct{}
	align           bool
	start, interval int64
	prev            *heldFrame // the last frame written, kept for repeats
	next            int64      // next grid index
	out             int64      // next output index in the current segment
	seg             int        // current segment, 1-based
	segFrames       int64      // triggers per time segment (0: none)
	timeSeg         int64      // segment of the grid the current file covers
	broken          bool       // nothing more goes to any file
}

// writeLoop writes queued frames to ffmpeg in grid order, filling gaps when
// aligning, until the acquirer closes the queue; then it pads to the common
// end (those triggers missing) and lets ffmpeg finalize.
func (c *camRec) writeLoop(start, interval int64, end *endOfTake, force <-chan struct{}) {
	defer c.killOnForce(force)()
	w := &writer{c: c, force: force, align: c.r.cfg.Align, start: start, interval: interval, seg: 1,
		segFrames: c.r.cfg.SegmentFrames()}
	for it := range c.queue {
		w.take(it)
	}
	frames := end.wait()
	if !c.failed.Load() {
		// Triggers of the take (up to its common end) whose frames never
		// came are missing, like a gap before a frame: counted, and filled
		// when aligning.
		for ; w.next < frames; w.next++ {
			c.missing.Add(1)
			w.emit(w.fill(), nil, row{grid: w.next, gridNs: start + w.next*interval, status: StatusMissing, filled: w.align})
		}
	}
	w.finish()
}

// killOnForce kills the current ffmpeg when force closes, so that a forced
// stop does not wait for a write into a stuck ffmpeg; the returned func
// ends the watch.
func (c *camRec) killOnForce(force <-chan struct{}) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-force:
			ff, _ := c.proc()
			ff.kill()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// take writes one queued trigger, after fills for the triggers before it
// that never came.
func (w *writer) take(it item) {
	c := w.c
	if w.broken {
		if it.hf != nil {
			c.unhold(it.hf)
		}
		return
	}
	k := it.meta.k
	for ; w.next < k; w.next++ {
		w.emit(w.fill(), nil, row{grid: w.next, gridNs: w.start + w.next*w.interval, status: StatusMissing, filled: w.align})
	}
	r := row{grid: k, has: true, frameID: it.meta.frameID, deviceTS: it.meta.ts, hostRx: it.meta.rx,
		gridNs: w.start + k*w.interval, status: it.meta.status, depth: it.meta.depth}
	if it.hf == nil {
		r.filled = w.align
		w.emit(w.fill(), nil, r)
	} else {
		// Kept from now on: a write that fails over to a new ffmpeg
		// must not see the buffer go back to the stream.
		it.hf.kept = true
		w.emit(it.hf.data, it.hf, r)
		if w.prev != nil {
			w.prev.kept = false
			c.unhold(w.prev)
		}
		w.prev = it.hf
	}
	w.next = k + 1
}

// fill is what a trigger without its frame gets when aligning: the previous
// frame again, black before the first; nil when not aligning.
func (w *writer) fill() []byte {
	if !w.align {
		return nil
	}
	w.c.filled.Add(1)
	if w.prev != nil {
		return w.prev.data
	}
	return w.c.black
}

// emit writes buf (nil: nothing to the file) for row r, rotating to the next
// time segment first when r starts one, and records r in the sidecar.
func (w *writer) emit(buf []byte, hf *heldFrame, r row) {
	c := w.c
	if w.broken {
		return
	}
	if forced(w.force) {
		// ffmpeg is being killed: nothing more goes to any file.
		w.broken = true
		c.fail(fmt.Errorf("camera %s: forced stop before trigger %d was written", c.serial, r.grid))
		return
	}
	if w.segFrames > 0 && r.grid/w.segFrames > w.timeSeg {
		w.timeSeg = r.grid / w.segFrames
		if c.rotate(r.grid, w.out, w.force) {
			w.out, w.seg = 0, w.seg+1
		} else if c.failed.Load() {
			w.broken = true
			return
		}
	}
	r.output = -1
	if buf != nil {
		if !w.write(buf, hf, r.grid) {
			return
		}
		c.written.Add(1)
		c.bytes.Add(uint64(len(buf)))
		r.output = w.out
		w.out++
	}
	r.segment = w.seg
	if err := c.side.write(r); err != nil {
		c.log.Warn("Sidecar write", "err", err)
	}
}

// write hands buf to the current ffmpeg, going on in a new segment while
// ffmpegs die; false when the camera cannot go on.
func (w *writer) write(buf []byte, hf *heldFrame, grid int64) bool {
	c := w.c
	for {
		ff, _ := c.proc()
		ff.reclaim(c.unhold)
		err := ff.writeFrame(buf, hf)
		if err == nil {
			return true
		}
		if !c.nextSegment(err, grid, w.out, w.force) {
			w.broken = true
			return false
		}
		w.out, w.seg = 0, w.seg+1
	}
}

// finish ends the last segment: frames given back, ffmpeg finalized (or
// killed when forced), finishing segments awaited, the sidecar closed.
func (w *writer) finish() {
	c := w.c
	c.mu.Lock()
	c.segments[len(c.segments)-1].Frames = w.out
	c.mu.Unlock()
	ff, _ := c.proc()
	ff.drain(w.force, c.unhold)
	if w.prev != nil {
		w.prev.kept = false
		c.unhold(w.prev)
	}
	if err := ff.finish(w.force); err != nil && !w.broken {
		c.mu.Lock()
		last := &c.segments[len(c.segments)-1]
		last.Err = err.Error()
		file := last.File
		c.mu.Unlock()
		c.fail(fmt.Errorf("camera %s: %s: %w", c.serial, file, err))
	}
	c.finishing.Wait()
	if err := c.side.close(); err != nil {
		c.log.Warn("Sidecar close", "err", err)
	}
}

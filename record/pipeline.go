// One camera's pipeline (camRec): its goroutines, what each owns, and the state they share.

package record

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ptpcam/ptpcam/genicam"
)

// frameMeta is what the acquirer knows of one trigger.
type frameMeta struct {
	k       int64
	frameID uint64
	ts      int64
	rx      int64
	status  FrameStatus
	depth   int
}

// item travels from acquirer to writer: the held frame, or nil for a
// trigger whose frame was dropped or incomplete.
type item struct {
	hf   *heldFrame
	meta frameMeta
}

// camRec is one camera's pipeline. Its goroutines, and what each owns:
//   - Run sets up every field before the goroutines start (setup) and reads
//     the results after they end; nothing below changes hands in between
//     except as stated.
//   - the acquirer (acquire, endTake, then drain) alone calls stream.Next,
//     writes lastK, firstOffset, haveFirst, acqDone and the drop and receive
//     counters, and sends on queue (closing it when the take is over).
//   - the writer (writeLoop and the segment functions) alone replaces ff
//     and appends segments (both under mu), writes written, filled and bytes,
//     and gives frames back (unhold, into free).
//   - the watchdog reads lastFrameHost and lastK and may cancel or fail.
//   - the monitor and Collect read the atomics and, under mu, stats,
//     progress, err, ff and segments (proc, segmentsResult).
//
// Everything under mu is read by other goroutines only under mu; atomics are
// written by the one owner named above (fail by anyone).
type camRec struct {
	r      *Recorder
	idx    int
	serial string
	cam    Camera
	stream Stream
	enc    EncoderChoice // the first segment's
	args   []string      // the first segment's
	file   string        // the first segment's
	side   *sidecar
	sideP  string
	log    *slog.Logger

	// ff is the current segment's ffmpeg: the writer replaces it (under mu)
	// when ffmpeg dies; others read it with proc().
	ff        *ffmpegProc
	segments  []Segment // under mu
	restarts  atomic.Uint64
	finishing sync.WaitGroup // ffmpegs of closed segments finishing

	// free holds the heldFrames not in use: the acquirer takes one per
	// frame it queues, the writer gives it back (unhold). Their number
	// bounds the stream buffers the writer may keep from Aravis, so that a
	// slow encoder costs dropped frames, never a stalled stream.
	free  chan *heldFrame
	queue chan item
	black []byte

	cancel      context.CancelFunc // stops acquisition
	hostStartNs int64              // host time of trigger 0; set before the goroutines start
	mode        SyncMode           // how its frames start (sync.go)
	actions     actionCounts       // action mode: ACTION_CMD answers
	clockStep   atomic.Int64       // ns its clock stepped at arming (re-armed)

	received, written, filled, missing, bytes atomic.Uint64
	dropQueue, dropIncomplete, dropLate       atomic.Uint64
	beforeStart                               atomic.Uint64 // frames of before trigger 0: not the take's
	lastFrameHost                             atomic.Int64
	lastK                                     atomic.Int64
	firstOffset                               atomic.Int64
	haveFirst                                 atomic.Bool
	failed                                    atomic.Bool
	acqDone                                   atomic.Bool

	mu    sync.Mutex
	err   error
	stats genicam.StreamStats // the take's: Aravis' counters less base
	// base: Aravis' counters just before the take's first trigger (what
	// arming left, such as packets that came before the stream had
	// buffers); taken once, by the start timer or the acquirer.
	base     genicam.StreamStats
	haveBase bool
	baseOnce sync.Once
	// statsFinal: stats are the take's last, from the end of acquisition.
	statsFinal bool
	progress   Progress
}

func (c *camRec) fail(err error) {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = err
	}
	c.mu.Unlock()
	if first {
		c.failed.Store(true)
		c.log.Error("Camera failed; the other cameras go on", "err", err)
		if c.cancel != nil {
			c.cancel()
		}
	}
}

// proc returns the current segment's ffmpeg and encoder.
func (c *camRec) proc() (*ffmpegProc, EncoderChoice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ff, c.segments[len(c.segments)-1].Encoder
}

// segmentsResult returns the segments with the current one's ffmpeg state.
func (c *camRec) segmentsResult() []Segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.segments)
	last := &out[len(out)-1]
	last.FFmpegExitCode = c.ff.ExitCode()
	last.EncodedFrames = c.ff.Progress().Frame
	return out
}

func (c *camRec) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// endOfTake is where every camera's file ends: the take's frame count, the
// same for all. The recorder sets it once, after every acquirer is done;
// the writers wait for it before padding to it.
type endOfTake struct {
	ready  chan struct{}
	frames int64 // written before ready closes, read only after
}

func newEndOfTake() *endOfTake { return &endOfTake{ready: make(chan struct{})} }

// set publishes the end; call it once.
func (e *endOfTake) set(frames int64) {
	e.frames = frames
	close(e.ready)
}

// wait blocks until the end is set and returns it.
func (e *endOfTake) wait() int64 {
	<-e.ready
	return e.frames
}

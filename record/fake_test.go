package record

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

// fakeCamera is an in-process camera whose device clock is the host's
// CLOCK_REALTIME plus offset; its stream delivers frame k at start+k·interval
// carrying k in its first 8 bytes, like camsim's frame counter.
type fakeCamera struct {
	serial string
	offset time.Duration
	// skip: triggers whose frame never arrives; incomplete: frames that
	// arrive with packets missing; stopAfter: the camera goes silent after
	// this trigger (0: never).
	skip, incomplete map[int64]bool
	// future: triggers whose frame carries a timestamp 10 s ahead.
	future    map[int64]bool
	stopAfter int64
	// underrun: triggers whose frame finds no free buffer (Aravis counts
	// an underrun, the frame is lost); underrunFrom: every trigger from
	// this one on does (0: none). keepFiring: the scheduler goes on after
	// CancelScheduler, as a camera's does until the cancel lands.
	underrun     map[int64]bool
	underrunFrom int64
	keepFiring   bool
	// armUnderruns: underruns Aravis counted as the stream started, before
	// it had buffers (packets of a frame before the take).
	armUnderruns uint64
	// early: frames of triggers before the start (negative), sent as a
	// camera running free while it is armed does.
	early []int64
	// stepOnLatch: the device clock steps by stepBy at this latch (1:
	// the first) and, with stepEvery, at every latch after it.
	stepOnLatch int
	stepBy      time.Duration
	stepEvery   bool
	// action: frames fire only at the device times sent on actions
	// (action, line and free-run cameras of sync_test.go).
	action  bool
	actions chan int64
	// free: the camera runs free at its interval, frame times a multiple
	// of it plus phase (sync_test.go).
	free  bool
	phase time.Duration

	mu       sync.Mutex
	latches  int
	rearmed  chan struct{}
	acq      genicam.Acquisition
	start    int64
	interval time.Duration
	armed    bool
	streams  int
}

func (f *fakeCamera) Serial() string { return f.serial }

func (f *fakeCamera) Configure(ctx context.Context, a genicam.Acquisition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acq = a
	return nil
}

func (f *fakeCamera) now() int64 { return time.Now().Add(f.offsetNow()).UnixNano() }

func (f *fakeCamera) offsetNow() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offset
}

func (f *fakeCamera) Latch(ctx context.Context) (genicam.LatchSample, error) {
	f.mu.Lock()
	f.latches++
	if f.stepOnLatch > 0 && (f.latches == f.stepOnLatch || f.stepEvery && f.latches > f.stepOnLatch) {
		f.offset += f.stepBy
	}
	f.mu.Unlock()
	b := time.Now()
	d := f.now()
	return genicam.LatchSample{Serial: f.serial, Device: d, HostBefore: b, HostAfter: time.Now()}, nil
}

func (f *fakeCamera) ProgramScheduler(ctx context.Context, start int64, interval time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.start, f.interval, f.armed = start, interval, true
	if f.rearmed != nil {
		select {
		case f.rearmed <- struct{}{}:
		default:
		}
	}
	return nil
}

func (f *fakeCamera) CancelScheduler(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
	return nil
}

func (f *fakeCamera) StartStream(ctx context.Context, cfg genicam.StreamConfig) (Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.armed {
		return nil, errors.New("fake: scheduler not programmed before the stream")
	}
	f.streams++
	size := f.acq.Width * f.acq.Height
	// A fixed pool of buffers, as Aravis has: a frame is received only
	// into a buffer given back, and one given back is scribbled over, so
	// that a recorder still reading a released buffer writes a corrupt
	// frame (decodeCounters fails).
	s := &fakeStream{cam: f, frames: make(chan genicam.Frame, cfg.Buffers), pool: make(chan []byte, cfg.Buffers), done: make(chan struct{})}
	for range cfg.Buffers {
		s.pool <- make([]byte, size)
	}
	s.stats.Underruns, s.stats.IgnoredPackets = f.armUnderruns, f.armUnderruns
	f.rearmed = make(chan struct{}, 1)
	switch {
	case f.free:
		go s.runFree(size, time.Duration(float64(time.Second)/f.acq.FrameRate))
	case f.action:
		go s.runActions(size)
	default:
		go s.run(f.start, f.interval, size)
	}
	return s, nil
}

type fakeStream struct {
	cam    *fakeCamera
	frames chan genicam.Frame
	pool   chan []byte
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	stats  genicam.StreamStats
}

func (s *fakeStream) run(start int64, interval time.Duration, size int) {
	f := s.cam
	for _, k := range f.early {
		at := time.Unix(0, start+k*int64(interval)-int64(f.offset))
		select {
		case <-s.done:
			return
		case <-time.After(time.Until(at)):
		}
		select {
		case data := <-s.pool:
			s.frames <- genicam.Frame{Data: data, FrameID: uint64(1000 + k), Timestamp: start + k*int64(interval) + 1000,
				SystemTimestamp: time.Now().UnixNano(), Status: genicam.FrameSuccess}
		default:
		}
	}
	for k := int64(0); ; k++ {
		if f.stopAfter > 0 && k > f.stopAfter {
			return
		}
		at := time.Unix(0, start+k*int64(interval)-int64(f.offsetNow()))
		select {
		case <-s.done:
			return
		case <-f.rearmed:
			// Re-programmed (a clock step at arming): a new schedule.
			f.mu.Lock()
			start, k = f.start, -1
			f.mu.Unlock()
			continue
		case <-time.After(time.Until(at)):
		}
		f.mu.Lock()
		armed := f.armed || f.keepFiring
		f.mu.Unlock()
		if !armed {
			return
		}
		if f.underrun[k] || (f.underrunFrom > 0 && k >= f.underrunFrom) {
			s.mu.Lock()
			s.stats.Underruns++
			s.mu.Unlock()
			continue
		}
		if f.skip[k] {
			s.mu.Lock()
			s.stats.MissingFrames++
			s.mu.Unlock()
			continue
		}
		var data []byte
		select {
		case data = <-s.pool:
		default:
			s.mu.Lock()
			s.stats.Underruns++
			s.mu.Unlock()
			continue
		}
		binary.BigEndian.PutUint64(data, uint64(k))
		for i := 8; i < len(data); i++ {
			data[i] = byte(k)
		}
		fr := genicam.Frame{Data: data, FrameID: uint64(k%65535 + 1), Timestamp: start + k*int64(interval) + 1000,
			SystemTimestamp: time.Now().UnixNano(), Status: genicam.FrameSuccess}
		if f.future[k] {
			fr.Timestamp += int64(10 * time.Second)
		}
		if f.incomplete[k] {
			fr.Status = genicam.FrameMissingPackets
		}
		select {
		case s.frames <- fr:
			s.mu.Lock()
			s.stats.CompletedBuffers++
			s.mu.Unlock()
		default:
			s.pool <- data
			s.mu.Lock()
			s.stats.Underruns++
			s.mu.Unlock()
		}
	}
}

func (s *fakeStream) Next(ctx context.Context) (genicam.Frame, error) {
	select {
	case <-ctx.Done():
		return genicam.Frame{}, ctx.Err()
	case <-s.done:
		return genicam.Frame{}, genicam.ErrClosed
	case fr := <-s.frames:
		return fr, nil
	}
}

func (s *fakeStream) Release(f genicam.Frame) error {
	for i := range f.Data {
		f.Data[i] = 0xee
	}
	select {
	case s.pool <- f.Data:
		return nil
	default:
		return errors.New("fake: release of a buffer not held")
	}
}

func (s *fakeStream) Stats() genicam.StreamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

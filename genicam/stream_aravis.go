//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <stdlib.h>
// #include "arvglue.h"
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Configure sets pixel format, size and frame rate (zero fields are left
// alone), in that order because the size bounds depend on the format.
func (c *Camera) Configure(ctx context.Context, a Acquisition) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if a.PixelFormat != "" {
		if err := c.setStringLocked("PixelFormat", a.PixelFormat); err != nil {
			return c.wrap("PixelFormat", err)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Width", a.Width}, {"Height", a.Height}} {
		if f.v == 0 {
			continue
		}
		if err := c.setIntegerLocked(f.name, int64(f.v)); err != nil {
			return c.wrap(f.name, err)
		}
	}
	if a.FrameRate > 0 {
		if c.kind("AcquisitionFrameRateEnable") == kindBoolean {
			if err := c.setBoolLocked("AcquisitionFrameRateEnable", true); err != nil {
				return c.wrap("AcquisitionFrameRateEnable", err)
			}
		}
		name := "AcquisitionFrameRate"
		if c.kind(name) == kindNone && c.kind("AcquisitionFrameRateAbs") != kindNone {
			name = "AcquisitionFrameRateAbs"
		}
		if err := c.setNumberLocked(name, a.FrameRate); err != nil {
			return c.wrap(name, err)
		}
	}
	return nil
}

// Stream is a running acquisition with a fixed pool of Aravis buffers.
//
// Threading: Next and Release may be called from any goroutine (they use
// Aravis' thread-safe buffer queues, not the camera lock); Close waits for a
// Next in progress (at most one 50 ms poll) and must not race with Release
// of frames the caller still uses. Frames not released before Close are
// freed by Close: their Data must not be touched afterwards.
type Stream struct {
	cam    *Camera
	mu     sync.RWMutex // RLock: Next/Release/Stats; Lock: Close
	stream *C.ArvStream
	bufs   []*C.ArvBuffer
	outMu  sync.Mutex
	out    map[*C.ArvBuffer]bool // buffers handed to the caller; keys preset, no allocation per frame
	closed bool
}

// StartStream creates the camera's stream, fills its pool with cfg.Buffers
// buffers of the current payload size and starts acquisition. Configure the
// camera first: the payload size is fixed here.
func (c *Camera) StartStream(ctx context.Context, cfg StreamConfig) (*Stream, error) {
	if cfg.Buffers <= 0 {
		cfg.Buffers = 8
	}
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var gerr *C.GError
	payload := C.arv_camera_get_payload(c.cam, &gerr)
	if err := takeError(&gerr); err != nil {
		return nil, fmt.Errorf("camera %s: stream: payload size: %w", c.info.Serial, err)
	}
	st := C.arv_camera_create_stream(c.cam, nil, nil, &gerr)
	if err := takeError(&gerr); err != nil {
		C.gp_unref(C.gpointer(st))
		if he := c.heldLocked("stream", err); he != nil {
			return nil, he
		}
		return nil, fmt.Errorf("camera %s: stream: %w", c.info.Serial, err)
	}
	if st == nil {
		return nil, fmt.Errorf("camera %s: stream: Aravis created none", c.info.Serial)
	}
	C.gp_gv_stream_tune(st, C.guint(cfg.FrameRetention.Microseconds()), C.guint(cfg.PacketTimeout.Microseconds()))
	tuneReceive(st, cfg)
	s := &Stream{cam: c, stream: st, out: make(map[*C.ArvBuffer]bool, cfg.Buffers)}
	for i := 0; i < cfg.Buffers; i++ {
		b := C.arv_buffer_new_allocate(C.size_t(payload))
		s.bufs = append(s.bufs, b)
		s.out[b] = false
		C.arv_stream_push_buffer(st, b)
	}
	C.arv_camera_start_acquisition(c.cam, &gerr)
	if err := takeError(&gerr); err != nil {
		C.g_object_unref(C.gpointer(st))
		if he := c.heldLocked("start acquisition", err); he != nil {
			return nil, he
		}
		return nil, fmt.Errorf("camera %s: stream: start acquisition: %w", c.info.Serial, err)
	}
	c.streams[s] = struct{}{}
	runtime.SetFinalizer(s, func(s *Stream) { _ = s.Close() })
	return s, nil
}

// timing returns the stream's frame retention and packet timeout as Aravis
// has them.
func (s *Stream) timing() (frameRetention, packetTimeout time.Duration) {
	fr, pt := C.CString("frame-retention"), C.CString("packet-timeout")
	defer C.free(unsafe.Pointer(fr))
	defer C.free(unsafe.Pointer(pt))
	return time.Duration(C.gp_gv_stream_uint(s.stream, fr)) * time.Microsecond,
		time.Duration(C.gp_gv_stream_uint(s.stream, pt)) * time.Microsecond
}

// Next waits for the next frame. Frames that arrived incomplete are returned
// too, with their Status; Data is then what was received.
func (s *Stream) Next(ctx context.Context) (Frame, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Frame{}, fmt.Errorf("camera %s: stream: %w", s.cam.info.Serial, ErrClosed)
	}
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, fmt.Errorf("camera %s: stream: %w", s.cam.info.Serial, err)
		}
		wait := 50 * time.Millisecond
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			wait = max(time.Until(d), time.Millisecond)
		}
		b := C.arv_stream_timeout_pop_buffer(s.stream, C.guint64(wait/time.Microsecond))
		if b == nil {
			continue
		}
		s.outMu.Lock()
		s.out[b] = true
		s.outMu.Unlock()
		f := Frame{
			FrameID:         uint64(C.arv_buffer_get_frame_id(b)),
			Timestamp:       int64(C.arv_buffer_get_timestamp(b)),
			SystemTimestamp: int64(C.arv_buffer_get_system_timestamp(b)),
			Status:          FrameStatus(C.arv_buffer_get_status(b)),
			buf:             unsafe.Pointer(b),
		}
		var size C.size_t
		if p := C.arv_buffer_get_data(b, &size); p != nil && size > 0 {
			f.Data = unsafe.Slice((*byte)(p), int(size))
		}
		if f.Status == FrameSuccess && C.arv_buffer_get_payload_type(b) == C.ARV_BUFFER_PAYLOAD_TYPE_IMAGE {
			f.Width = int(C.arv_buffer_get_image_width(b))
			f.Height = int(C.arv_buffer_get_image_height(b))
			f.PixelFormat = uint32(C.arv_buffer_get_image_pixel_format(b))
		}
		return f, nil
	}
}

// Release gives a frame's buffer back to the pool. Releasing a frame twice,
// or one from another stream, is an error (never a double push).
func (s *Stream) Release(f Frame) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil // Close freed it
	}
	b := (*C.ArvBuffer)(f.buf)
	s.outMu.Lock()
	held, ok := s.out[b]
	if ok && held {
		s.out[b] = false
	}
	s.outMu.Unlock()
	if !ok || !held {
		return fmt.Errorf("camera %s: stream: release of frame %d: not a frame held from this stream", s.cam.info.Serial, f.FrameID)
	}
	C.arv_stream_push_buffer(s.stream, b)
	return nil
}

var statNames = []string{"n_completed_buffers", "n_failures", "n_underruns", "n_timeouts", "n_aborted",
	"n_missing_frames", "n_received_packets", "n_missing_packets", "n_error_packets", "n_ignored_packets",
	"n_resend_requests", "n_resent_packets", "n_duplicated_packets", "n_transferred_bytes"}

var cStatNames = func() []*C.char {
	out := make([]*C.char, len(statNames))
	for i, n := range statNames {
		out[i] = C.CString(n) // lives as long as the process
	}
	return out
}()

// Stats returns Aravis' counters of the stream. They are read without
// stopping the receive thread (as Aravis' own tools do), so one snapshot may
// mix counts a frame apart.
func (s *Stream) Stats() StreamStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return StreamStats{}
	}
	v := make([]uint64, len(cStatNames))
	for i, n := range cStatNames {
		v[i] = uint64(C.arv_stream_get_info_uint64_by_name(s.stream, n))
	}
	return StreamStats{
		CompletedBuffers: v[0], Failures: v[1], Underruns: v[2], Timeouts: v[3], Aborted: v[4],
		MissingFrames: v[5], ReceivedPackets: v[6], MissingPackets: v[7], ErrorPackets: v[8],
		IgnoredPackets: v[9], ResendRequests: v[10], ResentPackets: v[11], DuplicatedPackets: v[12],
		TransferredBytes: v[13],
	}
}

// Close stops acquisition and frees the stream and all its buffers, also
// those of frames not released.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	runtime.SetFinalizer(s, nil)
	var stopErr error
	c := s.cam
	c.mu.Lock()
	if !c.closed {
		var gerr *C.GError
		C.arv_camera_stop_acquisition(c.cam, &gerr)
		if err := takeError(&gerr); err != nil {
			stopErr = fmt.Errorf("camera %s: stream: stop acquisition: %w", c.info.Serial, err)
		}
	}
	delete(c.streams, s)
	c.mu.Unlock()
	// Finalizing the stream stops its thread and unrefs the buffers in its
	// queues; the ones the caller holds are ours to unref.
	C.g_object_unref(C.gpointer(s.stream))
	s.stream = nil
	for b, held := range s.out {
		if held {
			C.g_object_unref(C.gpointer(b))
		}
	}
	clear(s.out)
	s.bufs = nil
	return stopErr
}

// tuneReceive applies cfg's socket buffer and resend share to a new stream,
// before acquisition starts (Aravis sizes the socket when its thread begins).
func tuneReceive(st *C.ArvStream, cfg StreamConfig) {
	ratio := cfg.ResendRatio
	if ratio > 1 {
		ratio = 1
	}
	C.gp_gv_stream_receive(st, C.guint(max(cfg.SocketBuffer, 0)), C.double(max(ratio, 0)))
}

// receiveSettings returns the stream's socket buffer size setting (bytes) and
// packet request ratio as Aravis has them.
func (s *Stream) receiveSettings() (socketBuffer int, resendRatio float64) {
	sb, rr := C.CString("socket-buffer-size"), C.CString("packet-request-ratio")
	defer C.free(unsafe.Pointer(sb))
	defer C.free(unsafe.Pointer(rr))
	return int(C.gp_gv_stream_int(s.stream, sb)), float64(C.gp_gv_stream_double(s.stream, rr))
}

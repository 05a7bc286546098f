package record

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// FrameStatus says what became of one trigger (one point of the 1/fps grid)
// in the sidecar.
type FrameStatus uint8

// Sidecar statuses.
const (
	// StatusOK: the camera's frame was written as received.
	StatusOK FrameStatus = iota
	// StatusMissing: no frame arrived for the trigger (a gap in frame ids
	// and timestamps on the grid).
	StatusMissing
	// StatusDropped: the frame arrived but the queue to ffmpeg was full.
	StatusDropped
	// StatusIncomplete: the frame arrived with packets missing; its stale
	// bytes are not written.
	StatusIncomplete
	// StatusFilled marks a row whose output frame repeats an earlier frame
	// (or, before the first frame, is black) while the trigger's own frame
	// is not known otherwise: only the tail filled up at the end of a take.
	StatusFilled
)

var statusNames = [...]string{"ok", "missing", "dropped", "incomplete", "filled"}

func (s FrameStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "FrameStatus(" + strconv.Itoa(int(s)) + ")"
}

// SidecarHeader is the first line of every sidecar CSV.
//
//	output_index  frame number in the segment's video file (-1: not written, alignment off)
//	grid_index    trigger number k: scheduled at start + k/fps
//	frame_id      GVSP block id (empty when no frame arrived)
//	device_ts_ns  the camera's timestamp of the frame (empty when none)
//	host_rx_ns    host CLOCK_REALTIME when the frame arrived (empty when none)
//	grid_ns       scheduled trigger time, device clock: start + k·interval
//	status        ok, missing, dropped, incomplete, filled
//	filled        1 when the output frame repeats the previous frame (black before the first)
//	queue_depth   frames waiting for ffmpeg when the frame was queued
//	segment       the video file, 1 for the take's first (the next one starts every --segment-duration, or when ffmpeg dies mid-take)
const SidecarHeader = "output_index,grid_index,frame_id,device_ts_ns,host_rx_ns,grid_ns,status,filled,queue_depth,segment\n"

// sidecar writes one camera's CSV, one row per trigger, each row one
// write(2) so that a crash loses at most the row being written. Rows are
// built in a reused buffer: no allocation per frame.
type sidecar struct {
	f   *os.File
	buf []byte
}

func createSidecar(path string, exclusive bool) (*sidecar, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if exclusive {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	if _, err := f.WriteString(SidecarHeader); err != nil {
		f.Close()
		return nil, fmt.Errorf("sidecar %s: %w", path, err)
	}
	return &sidecar{f: f, buf: make([]byte, 0, 256)}, nil
}

// row is one sidecar line; has says whether a frame arrived (frame id and
// timestamps known).
type row struct {
	output, grid int64
	has          bool
	frameID      uint64
	deviceTS     int64
	hostRx       int64
	gridNs       int64
	status       FrameStatus
	filled       bool
	depth        int
	segment      int
}

func (s *sidecar) write(r row) error {
	b := s.buf[:0]
	b = strconv.AppendInt(b, r.output, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.grid, 10)
	b = append(b, ',')
	if r.has {
		b = strconv.AppendUint(b, r.frameID, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.deviceTS, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.hostRx, 10)
	} else {
		b = append(b, ",,"...)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, r.gridNs, 10)
	b = append(b, ',')
	b = append(b, r.status.String()...)
	if r.filled {
		b = append(b, ",1,"...)
	} else {
		b = append(b, ",0,"...)
	}
	b = strconv.AppendInt(b, int64(r.depth), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.segment), 10)
	b = append(b, '\n')
	s.buf = b
	_, err := s.f.Write(b)
	return err
}

func (s *sidecar) close() error { return s.f.Close() }

// writeJSONAtomic writes v as indented JSON to path via a temporary file,
// so a reader never sees half a session file.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("session file %s: %w", path, err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	return nil
}

package record

import (
	"syscall"
	"time"
	"unsafe"

	"github.com/ptpcam/ptpcam/genicam"
)

// heldFrame is a stream buffer on its way to ffmpeg, never copied: the
// acquirer takes one from camRec.free, points it at the frame and queues it;
// from the queue on the writer owns it. The writer puts the buffer's own
// pages into ffmpeg's stdin pipe (vmsplice), so the buffer goes back to the
// stream only once ffmpeg has read them (pins == 0) and it is no longer the
// frame kept to fill gaps.
type heldFrame struct {
	f    genicam.Frame // acquirer sets, writer releases
	data []byte        // f.Data[:frame size]
	pins int           // writer: stdin pipes holding its pages
	kept bool          // writer: the last frame written, repeated for a gap
}

// pinned is a frame whose pages a pipe holds up to byte end of all the
// bytes put into it.
type pinned struct {
	end uint64
	hf  *heldFrame
}

// pipeFrames tracks, for one ffmpeg's stdin pipe, the frames spliced into
// it that ffmpeg has not read yet. Only the writer goroutine uses it.
type pipeFrames struct {
	fd   int    // stdin's descriptor, valid while stdin is open
	sent uint64 // bytes put into the pipe
	ring []pinned
	head int
	n    int

	// The splice in progress, for the poller callback made once (a
	// closure per frame would allocate).
	cur   []byte
	done  int
	err   error
	write func(fd uintptr) bool
}

// spliceRing is how many frames one pipe may hold pinned: those that fit
// in PipeSize, the one going in and one cut by the pipe's end; at most 64
// (past that, frames are copied in).
func spliceRing(frameSz int) int {
	return min(64, PipeSize/max(frameSz, 1)+2)
}

// fionread is FIONREAD (asm-generic/ioctls.h): bytes unread in a pipe.
const fionread = 0x541B

func (p *ffmpegProc) initSplice() error {
	rc, err := p.stdin.SyscallConn()
	if err != nil {
		return err
	}
	pf := &p.pipe
	if err := rc.Control(func(fd uintptr) { pf.fd = int(fd) }); err != nil {
		return err
	}
	pf.write = func(fd uintptr) bool {
		for pf.done < len(pf.cur) {
			iov := syscall.Iovec{Base: &pf.cur[pf.done]}
			iov.SetLen(len(pf.cur) - pf.done)
			n, _, e := syscall.Syscall6(syscall.SYS_VMSPLICE, fd, uintptr(unsafe.Pointer(&iov)), 1, 0, 0, 0)
			switch e {
			case 0:
				pf.done += int(n)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the poller waits for room
			default:
				pf.err = e
				return true
			}
		}
		return true
	}
	p.rc = rc
	return nil
}

// writeFrame puts a whole frame into ffmpeg's stdin. A held frame's pages go
// in as they are and stay pinned until reclaim sees ffmpeg read them;
// anything else (a repeat, black) is copied in.
func (p *ffmpegProc) writeFrame(data []byte, hf *heldFrame) error {
	pf := &p.pipe
	if hf == nil || p.rc == nil || hf.pins > 0 || pf.n == len(pf.ring) {
		n, err := p.stdin.Write(data)
		pf.sent += uint64(n)
		return err
	}
	pf.cur, pf.done, pf.err = data, 0, nil
	err := p.rc.Write(pf.write)
	pf.sent += uint64(pf.done)
	pf.cur = nil
	if err == nil {
		err = pf.err
	}
	if pf.done > 0 {
		// Pages in the pipe even when the frame is cut short: the dead
		// pipe is never read again, but the buffer waits for release.
		pf.ring[(pf.head+pf.n)%len(pf.ring)] = pinned{end: pf.sent, hf: hf}
		pf.n++
		hf.pins++
	}
	return err
}

// reclaim unpins the frames ffmpeg has read.
func (p *ffmpegProc) reclaim(unhold func(*heldFrame)) {
	pf := &p.pipe
	if pf.n == 0 {
		return
	}
	var unread int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(pf.fd), fionread, uintptr(unsafe.Pointer(&unread))); e != 0 {
		return
	}
	read := pf.sent - uint64(unread)
	for pf.n > 0 && pf.ring[pf.head].end <= read {
		p.unpinHead(unhold)
	}
}

func (p *ffmpegProc) unpinHead(unhold func(*heldFrame)) {
	pf := &p.pipe
	e := &pf.ring[pf.head]
	hf := e.hf
	*e = pinned{}
	pf.head = (pf.head + 1) % len(pf.ring)
	pf.n--
	hf.pins--
	unhold(hf)
}

// unpinAll unpins every frame: ffmpeg has exited and reads no more.
func (p *ffmpegProc) unpinAll(unhold func(*heldFrame)) {
	for p.pipe.n > 0 {
		p.unpinHead(unhold)
	}
}

// drain waits until ffmpeg has read every frame spliced into its stdin, so
// that stdin can close and the buffers go back. It ends early when ffmpeg
// exits, or kills it when force ends first.
func (p *ffmpegProc) drain(force <-chan struct{}, unhold func(*heldFrame)) {
	for {
		p.reclaim(unhold)
		if p.pipe.n == 0 {
			return
		}
		select {
		case <-p.done:
			p.unpinAll(unhold)
			return
		case <-force:
			_ = p.cmd.Process.Kill()
			<-p.done
			p.unpinAll(unhold)
			return
		case <-time.After(time.Millisecond):
		}
	}
}

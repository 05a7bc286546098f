package record

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Encoders camrecord knows, in the order auto tries them. raw is never
// chosen by auto: it writes ~100 MB/s per 1080p50 camera.
const (
	EncoderAuto      = "auto"
	EncoderHEVCNVENC = "hevc_nvenc"
	EncoderH264NVENC = "h264_nvenc"
	EncoderLibx265   = "libx265"
	EncoderLibx264   = "libx264"
	EncoderRaw       = "raw"
	// EncoderNull decodes nothing and writes nothing: ffmpeg reads the
	// frames and discards them (transport benchmarks, camera checks).
	EncoderNull = "null"
)

// Encoders lists the values of Config.Encoder.
var Encoders = []string{EncoderAuto, EncoderHEVCNVENC, EncoderH264NVENC, EncoderLibx265, EncoderLibx264, EncoderRaw, EncoderNull}

// Containers lists the values of Config.Container.
var Containers = []string{"mkv", "mp4"}

func isNVENC(enc string) bool { return enc == EncoderHEVCNVENC || enc == EncoderH264NVENC }

// pixelFormats maps GenICam pixel formats to ffmpeg's rawvideo pix_fmt and
// bytes per pixel.
var pixelFormats = map[string]struct {
	ffmpeg string
	bpp    int
}{
	"Mono8":    {"gray", 1},
	"BayerGR8": {"bayer_grbg8", 1},
	"BayerRG8": {"bayer_rggb8", 1},
	"BayerGB8": {"bayer_gbrg8", 1},
	"BayerBG8": {"bayer_bggr8", 1},
	"Mono16":   {"gray16le", 2},
}

// FFmpegPixelFormat returns ffmpeg's rawvideo pix_fmt for a GenICam pixel
// format and its bytes per pixel.
func FFmpegPixelFormat(genicamFormat string) (string, int, error) {
	p, ok := pixelFormats[genicamFormat]
	if !ok {
		names := make([]string, 0, len(pixelFormats))
		for n := range pixelFormats {
			names = append(names, n)
		}
		return "", 0, fmt.Errorf("pixel format %q: not supported (supported: %s)", genicamFormat, strings.Join(slices.Sorted(slices.Values(names)), ", "))
	}
	return p.ffmpeg, p.bpp, nil
}

// ErrorClass classifies why an encoder could not be opened.
type ErrorClass string

// Encoder failure classes. The NVENC ones follow the texts of ffmpeg's
// nvenc.c and of the NVIDIA driver's error codes.
const (
	ClassNoDriver          ErrorClass = "no_driver"          // libcuda.so.1 / libnvidia-encode.so.1 missing
	ClassOldDriver         ErrorClass = "old_driver"         // driver older than ffmpeg's NVENC API
	ClassUnsupportedDevice ErrorClass = "unsupported_device" // no NVENC on the GPU (datacenter GPUs, old cards)
	ClassTooManySessions   ErrorClass = "too_many_sessions"  // GeForce session limit reached
	ClassNotBuilt          ErrorClass = "not_built"          // this ffmpeg lacks the encoder
	ClassFailed            ErrorClass = "failed"             // anything else
)

var classDescriptions = map[ErrorClass]string{
	ClassNoDriver:          "no NVIDIA driver",
	ClassOldDriver:         "NVIDIA driver too old for this ffmpeg's NVENC API",
	ClassUnsupportedDevice: "no NVENC-capable GPU",
	ClassTooManySessions:   "too many concurrent NVENC sessions (GeForce limit)",
	ClassNotBuilt:          "encoder not built into this ffmpeg",
	ClassFailed:            "encoder failed to open",
}

// classRules are matched in order against the probe's output.
var classRules = []struct {
	substr string
	class  ErrorClass
}{
	{"Cannot load libcuda.so", ClassNoDriver},
	{"Cannot load libnvidia-encode.so", ClassNoDriver},
	{"Cannot load nvcuda.dll", ClassNoDriver},
	{"Driver does not support the required nvenc API version", ClassOldDriver},
	{"minimum required Nvidia driver", ClassOldDriver},
	{"out of memory (10)", ClassTooManySessions},
	{"incompatible client key (21)", ClassTooManySessions},
	{"unsupported device (2)", ClassUnsupportedDevice},
	{"No capable devices found", ClassUnsupportedDevice},
	{"No NVENC capable devices found", ClassUnsupportedDevice},
	{"Unknown encoder", ClassNotBuilt},
}

// ClassifyEncoderError classifies the output of a failed encoder open.
func ClassifyEncoderError(output string) ErrorClass {
	for _, r := range classRules {
		if strings.Contains(output, r.substr) {
			return r.class
		}
	}
	return ClassFailed
}

// EncoderError is a failed encoder probe.
type EncoderError struct {
	Encoder string
	Class   ErrorClass
	// Detail is ffmpeg's most telling line.
	Detail string
}

func (e *EncoderError) Error() string {
	return fmt.Sprintf("encoder %s unusable: %s (%s): %s", e.Encoder, classDescriptions[e.Class], e.Class, e.Detail)
}

// detailLine picks the line of ffmpeg's output that explains a failure: the
// first that matched a rule, else the encoder's own, else the first
// error-looking line.
func detailLine(enc, output string) string {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	for _, r := range classRules {
		for _, l := range lines {
			if strings.Contains(l, r.substr) {
				return strings.TrimSpace(l)
			}
		}
	}
	// The encoder's own message ("[hevc_nvenc @ 0x…] …") says most.
	for _, l := range lines {
		if strings.Contains(l, "["+enc+" @") {
			return strings.TrimSpace(l)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "rror") || strings.Contains(l, "failed") {
			return strings.TrimSpace(l)
		}
	}
	if len(lines) > 0 && lines[len(lines)-1] != "" {
		return strings.TrimSpace(lines[len(lines)-1])
	}
	return "no output"
}

// EncoderChoice is the encoder of one camera and why it was chosen.
type EncoderChoice struct {
	Encoder string `json:"encoder"`
	Reason  string `json:"reason"`
}

// ffmpegOptions are the settings every ffmpeg command line is built from.
type ffmpegOptions struct {
	bin            string
	width, height  int
	fps            float64
	pixFmt         string // ffmpeg input pix_fmt
	genicamFormat  string // the camera's PixelFormat, tagged on the stream
	bitrate        string
	preset         string
	container      string
	clusterLimitMs int
}

// encoderArgs are the output codec options of one encoder.
func (o ffmpegOptions) encoderArgs(enc string) []string {
	switch enc {
	case EncoderNull:
		return []string{"-c:v", "copy"}
	case EncoderRaw:
		// Lossless: the camera's bytes as they came, no debayering.
		return []string{"-c:v", "rawvideo"}
	}
	gop := strconv.Itoa(int(math.Max(1, math.Round(o.fps))))
	args := []string{"-vf", "format=yuv420p", "-c:v", enc, "-preset", o.presetOf(enc), "-b:v", o.bitrate, "-g", gop}
	if enc == EncoderLibx265 {
		args = append(args, "-x265-params", "log-level=error")
	}
	return args
}

// presetOf is Config.Preset, or the encoder's default when it is empty: p4
// for NVENC, ultrafast for the CPU encoders (libx264, libx265 and anything
// else ffmpeg knows).
func (o ffmpegOptions) presetOf(enc string) string {
	switch {
	case o.preset != "":
		return o.preset
	case enc == EncoderHEVCNVENC || enc == EncoderH264NVENC:
		return "p4"
	default:
		return "ultrafast"
	}
}

// containerArgs make the file readable after a crash: Matroska flushes a
// cluster at least every clusterLimitMs; MP4 is fragmented at every keyframe
// (1 s GOP) with the moov written first.
func (o ffmpegOptions) containerArgs() []string {
	if o.container == "mp4" {
		return []string{"-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-f", "mp4"}
	}
	return []string{"-flush_packets", "1", "-cluster_time_limit", strconv.Itoa(o.clusterLimitMs), "-f", "matroska"}
}

func (o ffmpegOptions) fpsArg() string {
	return strconv.FormatFloat(o.fps, 'f', -1, 64)
}

// recordArgs is the command line of one camera's ffmpeg: raw frames on
// stdin, progress on fd 3, the file.
func (o ffmpegOptions) recordArgs(enc, path string) []string {
	pixFmt := o.pixFmt
	if enc == EncoderRaw && strings.HasPrefix(pixFmt, "bayer_") {
		// Matroska stores no Bayer rawvideo natively; the same bytes as
		// gray (Y800) are lossless and readable, the pattern goes in a tag.
		pixFmt = "gray"
	}
	args := []string{"-hide_banner", "-nostats", "-loglevel", "warning",
		"-progress", "pipe:3", "-stats_period", "1",
		"-f", "rawvideo", "-pix_fmt", pixFmt, "-video_size", fmt.Sprintf("%dx%d", o.width, o.height),
		"-framerate", o.fpsArg(), "-i", "pipe:0"}
	args = append(args, o.encoderArgs(enc)...)
	if o.genicamFormat != "" {
		args = append(args, "-metadata:s:v:0", "pixel_format="+o.genicamFormat)
	}
	if enc == EncoderNull {
		return append(args, "-f", "null", "-")
	}
	args = append(args, o.containerArgs()...)
	return append(args, "-y", path)
}

// probeArgs encode one black frame of the recording's size to nowhere.
func (o ffmpegOptions) probeArgs(enc string) []string {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=black:s=%dx%d:r=%s", o.width, o.height, o.fpsArg()),
		"-frames:v", "1"}
	args = append(args, o.encoderArgs(enc)...)
	return append(args, "-f", "null", "-")
}

// probeEncoder test-encodes one frame. ffmpeg -encoders lists NVENC even
// where it cannot open, so only an encode tells.
func probeEncoder(ctx context.Context, o ffmpegOptions, enc string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, o.probeArgs(enc)...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &EncoderError{Encoder: enc, Class: ClassFailed, Detail: "probe timed out: " + ctx.Err().Error()}
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("encoder %s: probe: run %s: %w", enc, o.bin, err)
	}
	s := string(out)
	return &EncoderError{Encoder: enc, Class: ClassifyEncoderError(s), Detail: detailLine(enc, s)}
}

// planEncoders picks the encoder of each of n cameras: the requested one
// (probed, an error when it cannot open), or for auto hevc_nvenc, then
// libx265, then libx264. NVENC is capped at maxNVENC sessions; the rest of
// the cameras spill to the first CPU encoder that opens.
func planEncoders(ctx context.Context, o ffmpegOptions, requested string, n, maxNVENC int, log *slog.Logger) ([]EncoderChoice, error) {
	out := make([]EncoderChoice, n)
	fill := func(from int, c EncoderChoice) {
		for i := from; i < n; i++ {
			out[i] = c
		}
	}
	cpu := func(why string) (EncoderChoice, error) {
		var errs []string
		for _, enc := range []string{EncoderLibx265, EncoderLibx264} {
			err := probeEncoder(ctx, o, enc)
			if err == nil {
				return EncoderChoice{Encoder: enc, Reason: why}, nil
			}
			log.Warn("CPU encoder unusable", "encoder", enc, "err", err)
			errs = append(errs, err.Error())
			why += "; " + err.Error()
		}
		return EncoderChoice{}, fmt.Errorf("no CPU encoder opens: %s", strings.Join(errs, "; "))
	}
	switch requested {
	case EncoderRaw, EncoderNull:
		fill(0, EncoderChoice{Encoder: requested, Reason: "requested"})
		return out, nil
	case EncoderLibx265, EncoderLibx264:
		if err := probeEncoder(ctx, o, requested); err != nil {
			return nil, fmt.Errorf("--encoder %s: %w", requested, err)
		}
		fill(0, EncoderChoice{Encoder: requested, Reason: "requested"})
		return out, nil
	case EncoderHEVCNVENC, EncoderH264NVENC, EncoderAuto:
	default:
		return nil, fmt.Errorf("--encoder %q: unknown (one of %s)", requested, strings.Join(Encoders, ", "))
	}
	nvenc := requested
	if requested == EncoderAuto {
		nvenc = EncoderHEVCNVENC
	}
	if err := probeEncoder(ctx, o, nvenc); err != nil {
		if requested != EncoderAuto {
			return nil, fmt.Errorf("--encoder %s: %w (use --encoder auto to fall back to a CPU encoder)", requested, err)
		}
		c, cerr := cpu(err.Error())
		if cerr != nil {
			return nil, fmt.Errorf("--encoder auto: %w", cerr)
		}
		log.Warn("Falling back to a CPU encoder", "encoder", c.Encoder, "reason", err)
		fill(0, c)
		return out, nil
	}
	reason := "requested"
	if requested == EncoderAuto {
		reason = "auto: NVENC probe succeeded"
	}
	k := min(n, maxNVENC)
	for i := range k {
		out[i] = EncoderChoice{Encoder: nvenc, Reason: reason}
	}
	if k < n {
		why := fmt.Sprintf("NVENC session cap --nvenc-max-sessions=%d", maxNVENC)
		c, err := cpu(why)
		if err != nil {
			return nil, fmt.Errorf("cameras beyond the NVENC cap: %w", err)
		}
		log.Warn("NVENC session cap reached: remaining cameras use a CPU encoder", "nvenc_cameras", k, "cpu_cameras", n-k, "encoder", c.Encoder)
		fill(k, c)
	}
	return out, nil
}

// ffmpegVersion is the first line of `ffmpeg -version`.
func ffmpegVersion(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-version").Output()
	if err != nil {
		return "", fmt.Errorf("%s -version: %w", bin, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// Progress is one block of ffmpeg's -progress output.
type Progress struct {
	Frame int64
	FPS   float64
	// BitrateBps is in bit/s; NaN while ffmpeg says N/A.
	BitrateBps float64
	TotalSize  int64
	OutTime    time.Duration
	// Speed is encoded media time per wall time; NaN while N/A.
	Speed float64
	End   bool
}

// parseProgress reads key=value blocks ending in progress=continue|end and
// calls fn for each. out_time_us (or out_time_ms, which despite its name
// holds microseconds too) gives OutTime.
func parseProgress(r io.Reader, fn func(Progress)) error {
	sc := bufio.NewScanner(r)
	p := Progress{BitrateBps: math.NaN(), Speed: math.NaN()}
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "frame":
			p.Frame, _ = strconv.ParseInt(v, 10, 64)
		case "fps":
			p.FPS, _ = strconv.ParseFloat(v, 64)
		case "bitrate":
			p.BitrateBps = parseBitrate(v)
		case "total_size":
			p.TotalSize, _ = strconv.ParseInt(v, 10, 64)
		case "out_time_us", "out_time_ms":
			if us, err := strconv.ParseInt(v, 10, 64); err == nil {
				p.OutTime = time.Duration(us) * time.Microsecond
			}
		case "speed":
			p.Speed = math.NaN()
			if f, err := strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64); err == nil {
				p.Speed = f
			}
		case "progress":
			p.End = v == "end"
			fn(p)
			p = Progress{BitrateBps: math.NaN(), Speed: math.NaN(), TotalSize: p.TotalSize}
		}
	}
	return sc.Err()
}

// parseBitrate reads ffmpeg's "1234.5kbits/s" as bit/s; N/A gives NaN.
func parseBitrate(v string) float64 {
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"kbits/s", 1e3}, {"Mbits/s", 1e6}, {"bits/s", 1}} {
		if s, ok := strings.CutSuffix(v, u.suffix); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return f * u.mult
			}
			return math.NaN()
		}
	}
	return math.NaN()
}

// fcntlSetPipeSize is F_SETPIPE_SZ (linux/fcntl.h: F_LINUX_SPECIFIC_BASE+7).
const fcntlSetPipeSize = 1031

// PipeSize is the size ffmpeg's stdin pipe is grown to: it roughly doubles
// pipe throughput for 2 MB frames (default 64 KiB pipes need 32 wakeups per
// frame). 1 MiB is also the default /proc/sys/fs/pipe-max-size.
const PipeSize = 1 << 20

// setPipeSize grows a pipe; it reports the size the kernel granted.
func setPipeSize(f *os.File, size int) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got uintptr
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		got, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, fcntlSetPipeSize, uintptr(size))
	}); err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, fmt.Errorf("F_SETPIPE_SZ %d: %w", size, errno)
	}
	return int(got), nil
}

// ffmpegProc is one running ffmpeg fed frames on stdin.
type ffmpegProc struct {
	cmd   *exec.Cmd
	stdin *os.File
	log   *slog.Logger

	// The writer's: stdin for vmsplice, and the frames stdin still holds.
	rc   syscall.RawConn
	pipe pipeFrames

	mu       sync.Mutex
	progress Progress
	tail     []string // last lines of stderr

	done     chan struct{}
	exitCode int // valid after done; -1 for a signal
	waitErr  error
}

// startFFmpeg starts bin with args, stdin a pipe of PipeSize, fd 3 the
// progress pipe and stderr logged. ffmpeg gets a process group of its own:
// a Ctrl-C on the terminal must reach camrecord only, which then drains the
// queues and closes stdin, rather than ffmpeg finishing early.
func startFFmpeg(bin string, args []string, nice int, log *slog.Logger, onProgress func(Progress)) (*ffmpegProc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg stdin pipe: %w", err)
	}
	if _, err := setPipeSize(inW, PipeSize); err != nil {
		log.Warn("Could not grow ffmpeg's stdin pipe; throughput will be lower", "err", err)
	}
	progR, progW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("ffmpeg progress pipe: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = inR
	cmd.ExtraFiles = []*os.File{progW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err == nil {
		err = cmd.Start()
	}
	inR.Close()
	progW.Close()
	if err != nil {
		inW.Close()
		progR.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	if nice > 0 {
		// ffmpeg starts its encoder threads only when the first frame
		// arrives, long after this; they inherit the main thread's value.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, nice); err != nil {
			log.Warn("Could not lower ffmpeg's priority", "err", err)
		}
	}
	p := &ffmpegProc{cmd: cmd, stdin: inW, log: log, done: make(chan struct{}),
		progress: Progress{BitrateBps: math.NaN(), Speed: math.NaN()}}
	var readers sync.WaitGroup
	readers.Go(func() {
		defer progR.Close()
		_ = parseProgress(progR, func(pr Progress) {
			p.mu.Lock()
			p.progress = pr
			p.mu.Unlock()
			if onProgress != nil {
				onProgress(pr)
			}
		})
		_, _ = io.Copy(io.Discard, progR)
	})
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := string(bytes.TrimSpace(sc.Bytes()))
			if line == "" {
				continue
			}
			log.Warn("ffmpeg", "stderr", line)
			p.mu.Lock()
			if len(p.tail) == 8 {
				p.tail = append(p.tail[:0], p.tail[1:]...)
			}
			p.tail = append(p.tail, line)
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
	})
	go func() {
		readers.Wait()
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.exitCode = cmd.ProcessState.ExitCode()
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Progress returns the last progress block.
func (p *ffmpegProc) Progress() Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.progress
}

// exited reports whether ffmpeg has exited.
func (p *ffmpegProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// result describes how ffmpeg ended: nil for exit 0.
func (p *ffmpegProc) result() error {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return nil
	}
	msg := p.waitErr.Error()
	if len(p.tail) > 0 {
		msg += ": " + p.tail[len(p.tail)-1]
	}
	return fmt.Errorf("ffmpeg: %s", msg)
}

// ExitCode is ffmpeg's exit code once it has exited (-1: killed by a
// signal), or -2 while it runs.
func (p *ffmpegProc) ExitCode() int {
	if !p.exited() {
		return -2
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode
}

// abortWait bounds abort's wait for a killed ffmpeg.
const abortWait = 5 * time.Second

// kill kills ffmpeg without waiting (a forced stop; finish or abort waits).
func (p *ffmpegProc) kill() { _ = p.cmd.Process.Kill() }

// abort ends an ffmpeg whose take never started: stdin closed, the process
// killed and waited for, at most abortWait.
func (p *ffmpegProc) abort() {
	p.stdin.Close()
	p.kill()
	select {
	case <-p.done:
	case <-time.After(abortWait):
		p.log.Warn("Killed ffmpeg did not exit", "waited", abortWait)
	}
}

// stop ends an ffmpeg that takes no more frames: stdin closed, grace to
// exit, then killed and waited for.
func (p *ffmpegProc) stop(grace time.Duration) {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
		<-p.done
	}
}

// finish closes stdin (ffmpeg then writes the trailer) and waits for ffmpeg,
// killing it when force ends first.
func (p *ffmpegProc) finish(force <-chan struct{}) error {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-force:
		p.log.Warn("Forced stop: killing ffmpeg")
		p.kill()
		<-p.done
	}
	return p.result()
}

// Command camrecord records every camera of a PTP-synchronized GigE Vision
// rig, starting on one common PTP instant, each camera into its own ffmpeg,
// with live Prometheus metrics, crash-safe files and a per-frame sidecar.
//
// Exit codes: 0 every camera recorded every trigger; 1 nothing was recorded
// (bad flags, no camera, preflight refused, encoder unusable, arming
// failed); 2 at least one camera failed during the take (the others are
// complete); 3 every camera completed but frames were missing, dropped or
// incomplete, or an ffmpeg died and a new one went on in the next segment
// file (see the sidecars and the session file).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ptpcam/ptpcam/check"
	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/internal/logging"
	"github.com/ptpcam/ptpcam/pmc"
	"github.com/ptpcam/ptpcam/record"
)

const (
	exitClean   = 0
	exitNothing = 1
	exitFailed  = 2
	exitGaps    = 3
)

// defaultAddress: next to ptpcam_exporter's 9877.
const defaultAddress = ":9878"

func main() {
	os.Exit(run(os.Args[1:]))
}

// options are the parsed flags.
type options struct {
	serials        *[]string // --camera.serial (and the config file's serial lines)
	serialAlias    *[]string // --serial, its alias
	serialsSet     bool      // --camera.serial on the command line
	aliasSet       bool      // --serial on the command line
	iface          *string
	width          *int
	height         *int
	pixFmt         *string
	fps            *float64
	duration       *time.Duration
	lead           *time.Duration
	outDir         *string
	encoder        *string
	bitrate        *string
	preset         *string
	container      *string
	nvencMax       *int
	align          *bool
	queue          *int
	buffers        *int
	nice           *int
	overwrite      *bool
	ffmpegBin      *string
	force          *bool
	syncTimeout    *time.Duration
	noEnable       *bool
	socket         *string
	domain         *uint8
	metricsPath    *string
	progressInt    *time.Duration
	sampleInterval *time.Duration
	sampleTimeout  *time.Duration
	timescale      *string
	controlWait    *time.Duration
	segment        *time.Duration
	syncMode       *string
	startAt        *string
	webConfig      *web.FlagConfig
	log            *promslog.Config
	features       *[]string // --camera.feature NAME=VALUE
	takeID         *string
	config         *rigConfig // --config's file (nil: none)
}

// newApp defines camrecord's flags.
func newApp() (*kingpin.Application, *options) {
	app := kingpin.New("camrecord", "Record PTP-synchronized GigE Vision cameras, all starting on one PTP instant, each into its own ffmpeg.\n\n"+
		"Exit codes: 0 all cameras recorded every trigger; 1 nothing recorded; 2 a camera failed; 3 completed with missing/dropped frames or with an ffmpeg that died and was replaced (a new segment file).\n\n"+
		"--config FILE reads a YAML rig file: flags: (any flag by its name without --), defaults: (width, height, pixel_format, fps, offset_x, offset_y, exposure, gain, features: {GenICam feature: value}) and cameras: (- serial: ..., name: ..., and the same settings per camera). Every setting is checked against each camera before anything is changed. Flags on the command line override the file. A flat file of `name = value` lines is still read as flags (deprecated).")
	app.Flag("config", "Read the YAML rig file (flags, defaults, per-camera settings); the command line overrides it.").PlaceHolder("FILE").String()
	o := &options{}
	o.serials = app.Flag("camera.serial", "Serial of a camera to record; repeat for several (default: every discovered camera).").IsSetByUser(&o.serialsSet).Strings()
	o.serialAlias = app.Flag("serial", "Alias of --camera.serial (repeatable; give one of the two).").IsSetByUser(&o.aliasSet).Strings()
	o.features = app.Flag("camera.feature", "Set a GenICam feature on every camera, NAME=VALUE (repeatable; after the config's features, replacing one of the same name). Checked against each camera before anything is changed.").PlaceHolder("NAME=VALUE").Strings()
	o.takeID = app.Flag("take-id", "Id of the take in the session file, the same on every host of a take across hosts (default: the start time, UTC, e.g. 20261202T030405.678Z).").String()
	o.iface = app.Flag("camera.interface", "Discover cameras on this host interface only (default: all).").String()
	o.width = app.Flag("width", "Image width in pixels.").Default("1920").Int()
	o.height = app.Flag("height", "Image height in pixels.").Default("1080").Int()
	o.pixFmt = app.Flag("pixel-format", "GenICam pixel format (BayerGR8, BayerRG8, BayerGB8, BayerBG8, Mono8, Mono16).").Default("BayerGR8").String()
	o.fps = app.Flag("fps", "Frames per second; the scheduler interval is 1/fps.").Default("50").Float64()
	o.duration = app.Flag("duration", "Length of the take; 0 records until SIGINT/SIGTERM.").Default("600s").Duration()
	o.lead = app.Flag("lead-time", "Time from the latest latched camera clock to the common start.").Default("10s").Duration()
	o.outDir = app.Flag("output-dir", "Directory of the videos, sidecars and session file.").Default(".").String()
	o.encoder = app.Flag("encoder", "Encoder: auto probes hevc_nvenc, then libx265, then libx264; raw is lossless (Matroska); null discards the frames (transport checks, benchmarks).").Default("auto").Enum(record.Encoders...)
	o.bitrate = app.Flag("bitrate", "Target bitrate of the encoder.").Default("2.2M").String()
	o.preset = app.Flag("preset", "Encoder preset (default p4 for NVENC, ultrafast for libx264/libx265).").String()
	o.segment = app.Flag("segment-duration", "Start a new file every so much of the take, on the same trigger for every camera (0: one file per camera).").Default("0s").Duration()
	o.container = app.Flag("container", "mkv (Matroska flushed every 200 ms) or mp4 (fragmented at 1 s keyframes); both survive a crash.").Default("mkv").Enum(record.Containers...)
	o.nvencMax = app.Flag("nvenc-max-sessions", "Most cameras encoded with NVENC; the others use a CPU encoder (GeForce cards allow 3 to 8 sessions).").Default("3").Int()
	o.align = app.Flag("align", "Write the previous frame again for every missing or dropped frame, so frame k is trigger k in every file (--no-align to write only received frames).").Default("true").Bool()
	o.queue = app.Flag("queue-frames", "Frame slots per camera between acquisition and ffmpeg (0: 64 MiB worth, at least 16).").Default("0").Int()
	o.buffers = app.Flag("stream-buffers", "Aravis buffers per camera (0: 16 MiB worth, at least 8).").Default("0").Int()
	o.nice = app.Flag("ffmpeg-nice", "Nice value of the ffmpeg processes, so that acquisition wins when CPU is short (-1: unchanged).").Default("5").Int()
	o.overwrite = app.Flag("overwrite", "Replace existing files of the same name.").Bool()
	o.ffmpegBin = app.Flag("ffmpeg", "ffmpeg binary.").Default("ffmpeg").String()
	o.force = app.Flag("force", "Record even when the PTP preflight finds the rig not synchronized (with a warning).").Bool()
	o.syncMode = app.Flag("sync", "Start mode, per camera from its GenICam capabilities: auto (scheduler, else action, else line), scheduler (the camera's ActionScheduler), action (scheduled ACTION_CMDs sent ahead within ActionQueueSize), line (external trigger on a Line input from a pulse generator on the grid), free (free-run aligned by timestamp afterwards; needs --force).").Default("auto").Enum(record.SyncModes...)
	o.startAt = app.Flag("start-at", "First trigger on the PTP timeline (RFC 3339, e.g. 2026-12-02T03:00:00Z), for takes of several hosts on one instant; must be at least --lead-time ahead of every camera.").PlaceHolder("TIME").String()
	o.syncTimeout = app.Flag("sync-timeout", "Longest wait in the preflight for the host and cameras to be PTP-synchronized.").Default("30s").Duration()
	o.noEnable = app.Flag("no-enable-ptp", "Do not enable PTP in the cameras in the preflight, only check.").Bool()
	o.socket = app.Flag("ptp.socket", "ptp4l management (UDS) socket.").Default(pmc.DefaultSocket).String()
	o.domain = app.Flag("ptp.domain", "PTP domainNumber of ptp4l.").Default("0").Uint8()
	o.sampleInterval = app.Flag("camera.sample-interval", "Interval of the cameras' clock samples (a bracketed timestamp latch, as ptpcam_exporter's --camera.interval; served as ptpcam_camera_* on the metrics endpoint while camrecord holds the cameras). 0: none.").Default("5s").Duration()
	o.sampleTimeout = app.Flag("camera.sample-timeout", "Timeout of one camera's clock sample; at most --camera.sample-interval.").Default("2s").Duration()
	o.timescale = app.Flag("camera.timescale", "Timescale of the camera clocks: auto (the domain's: TAI when ptpTimescale is set), tai or utc, as ptpcam_exporter's.").Default("auto").String()
	o.controlWait = app.Flag("camera.control-wait", "How long to keep trying to take control of a camera another application controls (a ptpcam_exporter sampling it holds it for a few round trips) before failing with its address.").Default(genicam.DefaultControlWait.String()).Duration()
	o.metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	o.progressInt = app.Flag("progress.interval", "Interval of the progress log lines when stderr is not a terminal.").Default("10s").Duration()
	o.webConfig = kingpinflag.AddFlags(app, defaultAddress)
	o.log = &promslog.Config{}
	flag.AddFlags(app, o.log)
	app.Version(version.Print("camrecord"))
	app.HelpFlag.Short('h')
	return app, o
}

func run(args []string) int {
	o, sel, err := parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "camrecord: %v\n", err)
		return exitNothing
	}
	logger := logging.New(o.log)
	logger.Info("Starting camrecord", "version", version.Info())
	if o.config != nil && o.config.flat {
		logger.Warn("--config: the flat `name = value` format is deprecated; write the YAML rig file (flags:, defaults:, cameras:)", "file", o.config.path)
	}
	rec, err := o.recorder(logger)
	if err != nil {
		logger.Error("Invalid configuration", "err", err)
		return exitNothing
	}
	if !genicam.Supported {
		logger.Error("Built without Aravis: no cameras", "err", genicam.ErrNoAravis)
		return exitNothing
	}
	ctx, forceCh, stopSignals := handleSignals(logger)
	defer stopSignals()

	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector("camrecord"), rec)
	stopHTTP, err := serveMetrics(logger, reg, *o.metricsPath, o.webConfig)
	if err != nil {
		logger.Error("Metrics server", "err", err)
		return exitNothing
	}
	defer stopHTTP()

	cams, err := openTake(ctx, rec, sel, *o.controlWait)
	if err != nil {
		logger.Error("Cameras", "err", err)
		return exitNothing
	}
	defer func() {
		for _, c := range cams {
			_ = c.Close()
		}
	}()
	// The cameras' clocks are measured while camrecord holds them (the
	// exporter cannot latch them meanwhile); stopped before they close.
	stopSampling, err := sampleCameras(ctx, logger, o, reg, cams)
	if err != nil {
		logger.Error("Camera metrics", "err", err)
		return exitNothing
	}
	defer stopSampling()
	if err := applySettings(ctx, o, rec, cams); err != nil {
		logger.Error("Camera settings (nothing armed, no file made)", "err", err)
		return exitNothing
	}

	res, ok := preflight(ctx, logger, o, cams)
	if !ok || ctx.Err() != nil {
		return exitNothing
	}
	return take(ctx, logger, o, rec, forceCh, cams, res)
}

// parse parses the flags (and --config) and checks the camera selection.
func parse(args []string) (*options, genicam.Selection, error) {
	app, o := newApp()
	rc, err := loadConfig(app, args)
	if err != nil {
		return nil, genicam.Selection{}, err
	}
	o.config = rc
	if _, err := app.Parse(args); err != nil {
		return nil, genicam.Selection{}, err
	}
	if *o.sampleInterval < 0 {
		return nil, genicam.Selection{}, fmt.Errorf("--camera.sample-interval %v: want >= 0 (0: no camera clock samples)", *o.sampleInterval)
	}
	if *o.controlWait < 0 {
		return nil, genicam.Selection{}, fmt.Errorf("--camera.control-wait %v: want >= 0", *o.controlWait)
	}
	if !slices.Contains([]string{"auto", "tai", "utc"}, *o.timescale) {
		return nil, genicam.Selection{}, fmt.Errorf("--camera.timescale %q: want auto, tai or utc", *o.timescale)
	}
	sel, err := o.selection()
	return o, sel, err
}

// recorder is the recorder the flags configure.
func (o *options) recorder(logger *slog.Logger) (*record.Recorder, error) {
	var startAt time.Time
	if *o.startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, *o.startAt)
		if err != nil {
			return nil, fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-12-02T03:00:00Z: %w", *o.startAt, err)
		}
		startAt = t
	}
	return record.New(record.Config{
		Width: *o.width, Height: *o.height, PixelFormat: *o.pixFmt, FPS: *o.fps, Duration: *o.duration, LeadTime: *o.lead,
		OutputDir: *o.outDir, Encoder: *o.encoder, Bitrate: *o.bitrate, Preset: *o.preset, Container: *o.container,
		NVENCMaxSessions: *o.nvencMax, Align: *o.align, QueueFrames: *o.queue, StreamBuffers: *o.buffers, FFmpegNice: *o.nice,
		FFmpeg: *o.ffmpegBin, Overwrite: *o.overwrite, SegmentDuration: *o.segment,
		Sync: record.SyncMode(*o.syncMode), Force: *o.force, StartAt: startAt, TakeID: *o.takeID,
	}, logger)
}

// handleSignals: the first signal stops the take cleanly (ctx ends), the
// second forces it (forceCh closes: ffmpeg is killed).
func handleSignals(logger *slog.Logger) (ctx context.Context, forceCh chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	forceCh = make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		logger.Warn("Stopping: draining queues and finalizing files (signal again to force)", "signal", s)
		cancel()
		s = <-sigs
		logger.Warn("Forced stop", "signal", s)
		close(forceCh)
	}()
	return ctx, forceCh, func() { signal.Stop(sigs); cancel() }
}

// openTake finds the selected cameras, checks the encoders before any
// camera is touched (an unusable one fails here), then opens the cameras.
func openTake(ctx context.Context, rec *record.Recorder, sel genicam.Selection, controlWait time.Duration) ([]*genicam.Camera, error) {
	infos, err := genicam.Find(ctx, sel)
	if err != nil {
		return nil, err
	}
	if _, err := rec.Prepare(ctx, len(infos)); err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	return openCameras(ctx, infos, genicam.ControlWait(controlWait))
}

// preflight waits for the host and cameras to be PTP-synchronized; false:
// refused (unless --force).
func preflight(ctx context.Context, logger *slog.Logger, o *options, cams []*genicam.Camera) (*check.SyncResult, bool) {
	syncCams := make([]check.SyncCamera, len(cams))
	for i, c := range cams {
		syncCams[i] = c
	}
	logger.Info("Preflight: waiting for the host and cameras to be PTP-synchronized", "timeout", *o.syncTimeout)
	pcfg := pmc.Config{Socket: *o.socket, Domain: *o.domain}
	res, err := check.WaitSync(ctx, func(ctx context.Context) (*check.Host, error) { return check.ReadHost(ctx, pcfg) },
		syncCams, !*o.noEnable, 500*time.Millisecond, *o.syncTimeout)
	switch {
	case err != nil && *o.force:
		logger.Warn("Preflight failed; recording anyway (--force)", "err", err)
	case err != nil:
		logger.Error("Preflight failed (use --force to record anyway)", "err", err)
		return nil, false
	case !res.Verdict.Converged && *o.force:
		logger.Warn("Rig not PTP-synchronized; recording anyway (--force): start times may differ", "problems", strings.Join(res.Verdict.Problems, "; "))
	case !res.Verdict.Converged:
		logger.Error("Rig not PTP-synchronized; refusing to record (--force to record anyway)", "problems", strings.Join(res.Verdict.Problems, "; "), "hints", strings.Join(res.Verdict.Hints, "; "))
		return nil, false
	default:
		logger.Info("Preflight: rig synchronized", "waited", res.Waited.Round(time.Millisecond), "masters", strings.Join(res.Verdict.Masters, ","))
	}
	return res, true
}

// take records and returns the exit code of its result.
func take(ctx context.Context, logger *slog.Logger, o *options, rec *record.Recorder, forceCh chan struct{}, cams []*genicam.Camera, res *check.SyncResult) int {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		rec.SetProgress(os.Stderr, true, 0)
	} else {
		rec.SetProgress(os.Stderr, false, *o.progressInt)
	}
	recCams := make([]record.Camera, len(cams))
	for i, c := range cams {
		recCams[i] = record.FromGenicam(c)
	}
	result, err := rec.Run(ctx, forceCh, recCams, res)
	if err != nil {
		logger.Error("Recording did not start", "err", err)
		return exitNothing
	}
	logger.Info("Take finished", "frames", result.Frames, "start_skew", time.Duration(result.StartSkewNs),
		"failed_cameras", result.Failed(), "session", result.Session)
	switch {
	case result.Failed() > 0:
		return exitFailed
	case !result.Clean():
		return exitGaps
	}
	return exitClean
}

// selection is the cameras the flags select: --camera.serial or its alias
// --serial (not both), through --camera.interface. It is checked before
// anything is discovered.
func (o *options) selection() (genicam.Selection, error) {
	serials := *o.serials
	switch {
	case o.serialsSet && o.aliasSet:
		return genicam.Selection{}, errors.New("--camera.serial and --serial: give one of them (--serial is its alias)")
	case o.aliasSet:
		serials = *o.serialAlias
	}
	sel := genicam.Selection{Interface: *o.iface, Serials: serials}
	if err := sel.Validate(); err != nil {
		return genicam.Selection{}, fmt.Errorf("--camera.serial/--serial: %w", err)
	}
	return sel, nil
}

// openCameras opens the found cameras by address (genicam.OpenDevice checks
// each is the one discovered); on an error none stays open.
func openCameras(ctx context.Context, infos []genicam.DeviceInfo, opts ...genicam.OpenOption) ([]*genicam.Camera, error) {
	var cams []*genicam.Camera
	for _, d := range infos {
		c, err := genicam.OpenDevice(ctx, d, opts...)
		if err != nil {
			for _, c := range cams {
				_ = c.Close()
			}
			return nil, err
		}
		cams = append(cams, c)
	}
	return cams, nil
}

// serveMetrics serves the registry until the returned stop is called. It
// binds every listen address before it returns, so that a port in use (or a
// bad web config) fails the command here rather than being logged later.
func serveMetrics(logger *slog.Logger, reg *prometheus.Registry, path string, webConfig *web.FlagConfig) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle(path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	if path != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name: "camrecord", Description: "Synchronized multi-camera recorder", Version: version.Info(),
			Links: []web.LandingLinks{{Address: path, Text: "Metrics"}},
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	if f := webConfig.WebConfigFile; f != nil && *f != "" {
		if err := web.Validate(*f); err != nil {
			return nil, fmt.Errorf("--web.config.file %s: %w", *f, err)
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serve := func() error { return web.ListenAndServe(srv, webConfig, logger) }
	if sd := webConfig.WebSystemdSocket; sd == nil || !*sd {
		listeners, err := listenAll(*webConfig.WebListenAddresses)
		if err != nil {
			return nil, err
		}
		serve = func() error { return web.ServeMultiple(listeners, srv, webConfig, logger) }
	}
	go func() {
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("Metrics server", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// listenAll binds every address, or none.
func listenAll(addrs []string) ([]net.Listener, error) {
	var ls []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("--web.listen-address %s: %w", a, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

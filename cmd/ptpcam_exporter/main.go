// Command ptpcam_exporter exports the PTP state of a capture rig to
// Prometheus: the host's ptp4l, read natively over its management socket, and
// the GigE Vision cameras synchronized to it.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	gocollectors "github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ptpcam/ptpcam/collector"
	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/internal/logging"
	"github.com/ptpcam/ptpcam/pmc"
)

// defaultAddress: the exporter port range of the Prometheus wiki is fully
// allocated; 9877 is ptpcam's default until one is registered.
const defaultAddress = ":9877"

func main() {
	os.Exit(run())
}

// options are the parsed flags.
type options struct {
	metricsPath, clientDir, camIface, timescale *string
	maxRequests, camMax                         *int
	sockets, serials                            *[]string
	domain                                      *uint8
	timeout, poll, window                       *time.Duration
	camInterval, camTimeout, desync             *time.Duration
	expectGM, cameras, enablePTP                *bool
	webConfig                                   *web.FlagConfig
	log                                         *promslog.Config
}

// newApp defines the exporter's flags.
func newApp() (*kingpin.Application, *options) {
	app := kingpin.New("ptpcam_exporter", "Prometheus exporter for PTP-synchronized GigE Vision camera rigs: host ptp4l state over its management socket, and the cameras.")
	o := &options{log: &promslog.Config{}}
	o.metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	o.maxRequests = app.Flag("web.max-requests", "Maximum number of parallel scrape requests. 0 disables the limit.").Default("40").Int()
	o.sockets = app.Flag("ptp.socket", "ptp4l management (UDS) socket; repeat for several ptp4l instances. Metrics carry a socket label.").Default(pmc.DefaultSocket).Strings()
	o.domain = app.Flag("ptp.domain", "PTP domainNumber of the management requests; ptp4l silently ignores requests of another domain.").Default("0").Uint8()
	o.timeout = app.Flag("ptp.timeout", "Timeout of one management request; one scrape of the host collector takes at most three times this.").Default("1s").Duration()
	o.poll = app.Flag("ptp.poll-interval", "How often ptp4l is read between scrapes, to count state and grandmaster changes and offset peaks. 0 reads on scrape only.").Default("1s").Duration()
	o.window = app.Flag("ptp.offset-window", "Window of ptpcam_ptp_offset_from_master_max_abs_seconds; set it to the scrape interval.").Default("15s").Duration()
	o.expectGM = app.Flag("ptp.expect-grandmaster", "The host is expected to be the grandmaster of its domain (exported for alerts; --no-ptp.expect-grandmaster on hosts that are slaves).").Default("true").Bool()
	o.clientDir = app.Flag("ptp.client-dir", "Directory in which the client's private socket directory is made; ptp4l must be able to reply to it.").Default(os.TempDir()).String()
	o.cameras = app.Flag("collector.camera", "Collect camera metrics (GigE Vision cameras through Aravis); --no-collector.camera for host metrics only.").Default("true").Bool()
	o.serials = app.Flag("camera.serial", "Serial of a camera to watch; repeat for several. None: every discovered camera, up to --camera.max.").Strings()
	o.camMax = app.Flag("camera.max", "Most cameras watched when none is named.").Default("8").Int()
	o.camIface = app.Flag("camera.interface", "Discover cameras on this host interface only (default: all).").String()
	o.camInterval = app.Flag("camera.interval", "Interval of camera samples (PTP status and a timestamp latch). Each sample takes the camera's GigE Vision control and leaves it after, so camrecord can take the camera between samples; a camera another application controls is reported held (ptpcam_camera_controller_info), not latched. Scrapes report the last sample and never touch the cameras.").Default("5s").Duration()
	o.camTimeout = app.Flag("camera.timeout", "Timeout of one camera's sample; at most --camera.interval.").Default("2s").Duration()
	o.enablePTP = app.Flag("camera.enable-ptp", "Enable PTP in every camera that has it (this changes the cameras).").Bool()
	o.desync = app.Flag("camera.desync-threshold", "Camera clock deltas beyond ± this are out of sync (as PtpcamCameraClockDesync); with hardware timestamping, a PHC and CLOCK_REALTIME further apart than this make the host an invalid reference.").Default("1ms").Duration()
	o.timescale = app.Flag("camera.timescale", "Timescale of the camera clocks: auto (the domain's: TAI when ptpTimescale is set), tai or utc. TAI clocks are corrected by currentUtcOffset against the host's UTC clock.").Default("auto").Enum("auto", "tai", "utc")
	o.webConfig = kingpinflag.AddFlags(app, defaultAddress)
	flag.AddFlags(app, o.log)
	app.Version(version.Print("ptpcam_exporter"))
	app.HelpFlag.Short('h')
	return app, o
}

func run() int {
	app, o := newApp()
	if _, err := app.Parse(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ptpcam_exporter: %v\n", err)
		return 1
	}
	logger := logging.New(o.log)
	logger.Info("Starting ptpcam_exporter", "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())

	if *o.poll < 0 || *o.window <= 0 || *o.timeout <= 0 {
		logger.Error("--ptp.poll-interval must be >= 0, --ptp.offset-window and --ptp.timeout > 0")
		return 1
	}
	host, err := collector.NewHostCollector(logger.With("collector", "host"), collector.HostConfig{
		Sockets:           *o.sockets,
		PMC:               pmc.Config{Domain: *o.domain, Timeout: *o.timeout, ClientDir: *o.clientDir},
		PollInterval:      *o.poll,
		OffsetWindow:      *o.window,
		ExpectGrandmaster: *o.expectGM,
	})
	if err != nil {
		logger.Error("Invalid configuration", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var running sync.WaitGroup
	// Pollers close their clients (and remove their sockets) when ctx ends;
	// wait for them before exiting.
	defer func() {
		stop()
		running.Wait()
	}()
	running.Go(func() { host.Run(ctx) })

	collectors := map[string]collector.Collector{"host": host}
	closeCams, err := addCameras(ctx, logger, o, &running, collectors)
	if err != nil {
		logger.Error("Invalid camera configuration", "err", err)
		return 1
	}
	defer closeCams()
	h, err := handler(logger, o, collectors)
	if err != nil {
		logger.Error("Landing page", "err", err)
		return 1
	}
	return serve(ctx, logger, h, o.webConfig)
}

// addCameras adds the camera collector and the host reference it is
// judged against, unless cameras are off or Aravis is missing.
func addCameras(ctx context.Context, logger *slog.Logger, o *options, running *sync.WaitGroup, collectors map[string]collector.Collector) (func(), error) {
	switch {
	case !*o.cameras:
		logger.Info("Camera collector disabled: serving host metrics only")
		return func() {}, nil
	case !genicam.Supported:
		logger.Warn("Built without Aravis: serving host metrics only", "err", genicam.ErrNoAravis)
		return func() {}, nil
	}
	ref, closeRef, err := hostReference(logger, pmc.Config{Socket: (*o.sockets)[0], Domain: *o.domain, Timeout: *o.timeout, ClientDir: *o.clientDir}, *o.desync)
	if err != nil {
		return nil, err
	}
	cams, err := collector.NewCameraCollector(logger.With("collector", "camera"), collector.AravisSource{Interface: *o.camIface}, ref, collector.CameraConfig{
		Serials: *o.serials, Max: *o.camMax, Interval: *o.camInterval, Timeout: *o.camTimeout, EnablePTP: *o.enablePTP, Timescale: *o.timescale,
	})
	if err != nil {
		closeRef()
		return nil, err
	}
	if release, err := genicam.HoldCPULatency(0); err != nil {
		logger.Info("Timestamp latches run without a PM QoS CPU latency request: on hosts with deep CPU idle states their brackets are wider", "err", err)
	} else {
		release()
	}
	running.Go(func() { cams.Run(ctx) })
	collectors["camera"] = cams
	collectors["host_reference"] = ref
	return closeRef, nil
}

// handler serves the metrics and, unless they are at /, a landing page.
func handler(logger *slog.Logger, o *options, collectors map[string]collector.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	// The exporter's own process and Go runtime, as node_exporter registers them.
	reg.MustRegister(
		gocollectors.NewProcessCollector(gocollectors.ProcessCollectorOpts{}),
		gocollectors.NewGoCollector(),
		versioncollector.NewCollector("ptpcam_exporter"),
		collector.NewExporter(logger, collectors),
	)
	mux := http.NewServeMux()
	mux.Handle(*o.metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slogErrorLog{logger},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: *o.maxRequests,
	}))
	if *o.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "ptpcam_exporter",
			Description: "PTP state of the host (ptp4l) and its GigE Vision cameras",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *o.metricsPath, Text: "Metrics"}},
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// serve runs the HTTP server until ctx ends (0) or it fails (1).
func serve(ctx context.Context, logger *slog.Logger, h http.Handler, webConfig *web.FlagConfig) int {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, webConfig, logger) }()
	select {
	case err := <-errc:
		logger.Error("HTTP server", "err", err)
		return 1
	case <-ctx.Done():
		logger.Info("Shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return 0
	}
}

// hostReference is ptp4l's verdict on the host clock, checked against the
// PHC of a hardware-timestamping port (collector.PHCReference).
func hostReference(logger *slog.Logger, cfg pmc.Config, desync time.Duration) (*collector.PHCReference, func(), error) {
	ports, err := pmc.Dial(cfg)
	if err != nil {
		return nil, nil, err
	}
	inner := collector.NewPMCReference(cfg)
	ref, err := collector.NewPHCReference(logger.With("collector", "host_reference"), inner, ports, collector.OpenPHC, desync)
	if err != nil {
		ports.Close()
		return nil, nil, err
	}
	return ref, func() { ref.Close(); inner.Close(); ports.Close() }, nil
}

// slogErrorLog adapts the logger to promhttp's ErrorLog.
type slogErrorLog struct {
	l interface{ Error(string, ...any) }
}

func (s slogErrorLog) Println(v ...any) { s.l.Error(fmt.Sprint(v...)) }

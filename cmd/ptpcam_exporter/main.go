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

func run() int {
	app := kingpin.New("ptpcam_exporter", "Prometheus exporter for PTP-synchronized GigE Vision camera rigs: host ptp4l state over its management socket, and the cameras.")
	var (
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		maxRequests = app.Flag("web.max-requests", "Maximum number of parallel scrape requests. 0 disables the limit.").Default("40").Int()
		sockets     = app.Flag("ptp.socket", "ptp4l management (UDS) socket; repeat for several ptp4l instances. Metrics carry a socket label.").Default(pmc.DefaultSocket).Strings()
		domain      = app.Flag("ptp.domain", "PTP domainNumber of the management requests; ptp4l silently ignores requests of another domain.").Default("0").Uint8()
		timeout     = app.Flag("ptp.timeout", "Timeout of one management request.").Default("1s").Duration()
		poll        = app.Flag("ptp.poll-interval", "How often ptp4l is read between scrapes, to count state and grandmaster changes and offset peaks. 0 reads on scrape only.").Default("1s").Duration()
		window      = app.Flag("ptp.offset-window", "Window of ptpcam_ptp_offset_from_master_max_abs_seconds; set it to the scrape interval.").Default("15s").Duration()
		expectGM    = app.Flag("ptp.expect-grandmaster", "The host is expected to be the grandmaster of its domain (exported for alerts; --no-ptp.expect-grandmaster on hosts that are slaves).").Default("true").Bool()
		clientDir   = app.Flag("ptp.client-dir", "Directory in which the client's private socket directory is made; ptp4l must be able to reply to it.").Default(os.TempDir()).String()
		cameras     = app.Flag("collector.camera", "Collect camera metrics (GigE Vision cameras through Aravis); --no-collector.camera for host metrics only.").Default("true").Bool()
		serials     = app.Flag("camera.serial", "Serial of a camera to watch; repeat for several. None: every discovered camera, up to --camera.max.").Strings()
		camMax      = app.Flag("camera.max", "Most cameras watched when none is named.").Default("8").Int()
		camIface    = app.Flag("camera.interface", "Discover cameras on this host interface only (default: all).").String()
		camInterval = app.Flag("camera.interval", "Interval of camera samples (PTP status and a timestamp latch). Scrapes report the last sample and never touch the cameras.").Default("5s").Duration()
		camTimeout  = app.Flag("camera.timeout", "Timeout of one camera's sample; at most --camera.interval.").Default("2s").Duration()
		enablePTP   = app.Flag("camera.enable-ptp", "Enable PTP in every camera that has it (this changes the cameras).").Bool()
		desync      = app.Flag("camera.desync-threshold", "Camera clock deltas beyond ± this are out of sync (as PtpcamCameraClockDesync); with hardware timestamping, a PHC and CLOCK_REALTIME further apart than this make the host an invalid reference.").Default("1ms").Duration()
		timescale   = app.Flag("camera.timescale", "Timescale of the camera clocks: auto (the domain's: TAI when ptpTimescale is set), tai or utc. TAI clocks are corrected by currentUtcOffset against the host's UTC clock.").Default("auto").Enum("auto", "tai", "utc")
		webConfig   = kingpinflag.AddFlags(app, defaultAddress)
	)
	logCfg := &promslog.Config{}
	flag.AddFlags(app, logCfg)
	app.Version(version.Print("ptpcam_exporter"))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ptpcam_exporter: %v\n", err)
		return 1
	}
	logger := logging.New(logCfg)
	logger.Info("Starting ptpcam_exporter", "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())

	if *poll < 0 || *window <= 0 || *timeout <= 0 {
		logger.Error("--ptp.poll-interval must be >= 0, --ptp.offset-window and --ptp.timeout > 0")
		return 1
	}
	host, err := collector.NewHostCollector(logger.With("collector", "host"), collector.HostConfig{
		Sockets:           *sockets,
		PMC:               pmc.Config{Domain: *domain, Timeout: *timeout, ClientDir: *clientDir},
		PollInterval:      *poll,
		OffsetWindow:      *window,
		ExpectGrandmaster: *expectGM,
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
	switch {
	case !*cameras:
		logger.Info("Camera collector disabled: serving host metrics only")
	case !genicam.Supported:
		logger.Warn("Built without Aravis: serving host metrics only", "err", genicam.ErrNoAravis)
	default:
		ref, closeRef, err := hostReference(logger, pmc.Config{Socket: (*sockets)[0], Domain: *domain, Timeout: *timeout, ClientDir: *clientDir}, *desync)
		if err != nil {
			logger.Error("Invalid camera configuration", "err", err)
			return 1
		}
		defer closeRef()
		collectors["host_reference"] = ref
		cams, err := collector.NewCameraCollector(logger.With("collector", "camera"), collector.AravisSource{Interface: *camIface}, ref, collector.CameraConfig{
			Serials: *serials, Max: *camMax, Interval: *camInterval, Timeout: *camTimeout, EnablePTP: *enablePTP, Timescale: *timescale,
		})
		if err != nil {
			logger.Error("Invalid camera configuration", "err", err)
			return 1
		}
		if release, err := genicam.HoldCPULatency(0); err != nil {
			logger.Info("Timestamp latches run without a PM QoS CPU latency request: on hosts with deep CPU idle states their brackets are wider", "err", err)
		} else {
			release()
		}
		running.Go(func() { cams.Run(ctx) })
		collectors["camera"] = cams
	}

	reg := prometheus.NewRegistry()
	// The exporter's own process and Go runtime, as node_exporter registers them.
	reg.MustRegister(
		gocollectors.NewProcessCollector(gocollectors.ProcessCollectorOpts{}),
		gocollectors.NewGoCollector(),
		versioncollector.NewCollector("ptpcam_exporter"),
		collector.NewExporter(logger, collectors),
	)
	mux := http.NewServeMux()
	mux.Handle(*metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slogErrorLog{logger},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: *maxRequests,
	}))
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "ptpcam_exporter",
			Description: "PTP state of the host (ptp4l) and its GigE Vision cameras",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *metricsPath, Text: "Metrics"}},
		})
		if err != nil {
			logger.Error("Landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
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

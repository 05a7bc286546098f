// Command camsim simulates a GigE Vision camera with PTP, timestamp latch,
// action commands and GVSP streaming, for ptpcam's tests and demo. See the
// camsim package documentation for the protocol and the control endpoint.
package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/logging"
)

// flags are the command line beyond what goes straight into Config.
type flags struct {
	address, mac, profile, timescale, pixfmt, genicam string
	domain                                            uint8
	log                                               *promslog.Config
}

func main() {
	var cfg camsim.Config
	f := flags{log: &promslog.Config{}}
	app := kingpin.New("camsim", "A GigE Vision camera simulator with PTP, timestamp latch, action commands and GVSP streaming.")
	app.HelpFlag.Short('h')
	app.Version(version.Print("camsim"))
	defineFlags(app, &cfg, &f)
	kingpin.MustParse(app.Parse(os.Args[1:]))
	if err := f.apply(&cfg); err != nil {
		app.Fatalf("%v", err)
	}
	log := logging.New(f.log)
	// The camera's GVCP responder holds a P while it waits for a command
	// (camsim/gvcpsock.go): give it one, so the rest keeps its share.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + camsim.ResponderProcs)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := camsim.Run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, err) // errors of camsim.Run name camsim and the serial
		os.Exit(1)
	}
}

func defineFlags(app *kingpin.Application, cfg *camsim.Config, f *flags) {
	app.Flag("address", "IPv4 address to answer GVCP on and stream from.").StringVar(&f.address)
	app.Flag("interface", "Interface carrying the address; PTP multicast is joined on it.").StringVar(&cfg.Interface)
	app.Flag("serial", "Device serial number.").Default("05520125").StringVar(&cfg.Serial)
	app.Flag("profile", "Feature names: sfnc, gev or noptp.").Default("sfnc").EnumVar(&f.profile, "sfnc", "gev", "noptp")
	app.Flag("ptp-domain", "PTP domainNumber to follow.").Default("0").Uint8Var(&f.domain)
	app.Flag("ptp-enable", "PtpEnable at start.").BoolVar(&cfg.PTPEnable)
	app.Flag("control-address", "Fault-injection endpoint: unix:/path, /path or 127.0.0.1:PORT.").StringVar(&cfg.ControlAddress)
	app.Flag("offset", "Device clock offset.").Default("0s").DurationVar(&cfg.Offset)
	app.Flag("drift-ppm", "Device clock drift in ppm.").Default("0").Float64Var(&cfg.DriftPPM)
	app.Flag("trigger-rate", "Pulse generator on the trigger lines, Hz: a frame at every k/HZ of the host clock while TriggerSource is a Line entry and TriggerMode On (0: none).").Default("0").Float64Var(&cfg.TriggerRate)
	app.Flag("jitter", "Bound of the random jitter of each clock read.").Default("0s").DurationVar(&cfg.Jitter)
	app.Flag("timescale", "Device clock timescale: tai or utc.").Default("tai").EnumVar(&f.timescale, "tai", "utc")
	app.Flag("genicam", "Impersonate the camera of this GenICam XML file: serve it and behave as that camera (--profile is then ignored). Features it cannot resolve are listed at start-up.").PlaceHolder("FILE").StringVar(&f.genicam)
	app.Flag("vendor", "DeviceVendorName (default ptpcam, or the --genicam XML's VendorName).").StringVar(&cfg.Vendor)
	app.Flag("model", "DeviceModelName (default camsim, or the --genicam XML's ModelName).").StringVar(&cfg.Model)
	app.Flag("device-version", "DeviceVersion.").Default("1.0").StringVar(&cfg.Version)
	app.Flag("user-name", "DeviceUserID (GigE Vision user-defined name).").StringVar(&cfg.UserName)
	app.Flag("mac", "MAC address; default derived from the serial.").StringVar(&f.mac)
	app.Flag("settle", "Time Uncalibrated after a grandmaster is heard.").Default("2s").DurationVar(&cfg.Settle)
	app.Flag("announce-timeout", "Silence after which camsim becomes its own master.").Default("3s").DurationVar(&cfg.AnnounceTimeout)
	app.Flag("width", "Width in pixels.").Default("640").Uint32Var(&cfg.Width)
	app.Flag("height", "Height in pixels.").Default("480").Uint32Var(&cfg.Height)
	app.Flag("pixel-format", "BayerGR8 or Mono8.").Default("BayerGR8").EnumVar(&f.pixfmt, "BayerGR8", "Mono8")
	app.Flag("frame-rate", "AcquisitionFrameRate at start, frames per second.").Default("10").Float64Var(&cfg.FrameRate)
	app.Flag("gvcp-port", "UDP port of GVCP.").Default("3956").IntVar(&cfg.GVCPPort)
	flag.AddFlags(app, f.log)
}

// apply puts the parsed flags that need converting into cfg.
func (f *flags) apply(cfg *camsim.Config) error {
	if f.address != "" {
		a, err := netip.ParseAddr(f.address)
		if err != nil {
			return fmt.Errorf("--address %q: %w", f.address, err)
		}
		cfg.Address = a
	}
	if f.mac != "" {
		m, err := net.ParseMAC(f.mac)
		if err != nil {
			return fmt.Errorf("--mac %q: %w", f.mac, err)
		}
		cfg.MAC = m
	}
	if f.genicam != "" {
		b, err := camsim.LoadGenICam(f.genicam)
		if err != nil {
			return err
		}
		cfg.GenICam = b
	}
	cfg.Profile = camsim.Profile(f.profile)
	cfg.PTPDomain = f.domain
	cfg.UTC = f.timescale == "utc"
	cfg.PixelFormat = camsim.PixelFormatBayerGR8
	if f.pixfmt == "Mono8" {
		cfg.PixelFormat = camsim.PixelFormatMono8
	}
	return nil
}

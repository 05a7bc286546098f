package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/pmc"
)

// common are the flags of every subcommand.
type common struct {
	socket string
	domain uint8
	// serials: --camera.serial (repeatable) and the original scripts'
	// --serials a,b together.
	serials    []string
	serialList string
	iface      string
	ifaceAlias string
	output     string
	max        int
	maxAlias   int
	maxSet     bool
	maxAliSet  bool
	// controlWait bounds the wait for a camera another application
	// controls (genicam.ControlWait).
	controlWait time.Duration
	log         *promslog.Config
}

// durationFlag is a Go duration flag and the original scripts' integer
// spelling of it in unit, either accepted, not both.
type durationFlag struct {
	name, alias   string
	unit          time.Duration
	d             *time.Duration
	n             *int64
	set, aliasSet bool
}

func newDurationFlag(cmd *kingpin.CmdClause, name, alias, help, def string, unit time.Duration) *durationFlag {
	f := &durationFlag{name: name, alias: alias, unit: unit}
	f.d = cmd.Flag(name, help+" (a Go duration).").Default(def).IsSetByUser(&f.set).Duration()
	f.n = cmd.Flag(alias, fmt.Sprintf("Alias of --%s in %s (the original scripts' spelling).", name, unitName(unit))).IsSetByUser(&f.aliasSet).Int64()
	return f
}

func unitName(u time.Duration) string {
	return map[time.Duration]string{time.Nanosecond: "ns", time.Millisecond: "ms", time.Second: "s"}[u]
}

// value is the duration given, and how the user spelled it for errors.
func (f *durationFlag) value() (time.Duration, string, error) {
	switch {
	case f.set && f.aliasSet:
		return 0, "", fmt.Errorf("--%s and --%s: give one of them (--%s is its alias in %s)", f.name, f.alias, f.alias, unitName(f.unit))
	case f.aliasSet:
		return time.Duration(*f.n) * f.unit, fmt.Sprintf("--%s %d", f.alias, *f.n), nil
	}
	return *f.d, fmt.Sprintf("--%s %v", f.name, *f.d), nil
}

func newApp(c *common) *kingpin.Application {
	app := kingpin.New("ptpcamcheck", "One-shot PTP checks of a GigE Vision camera rig against the host's ptp4l.")
	app.Version(version.Print("ptpcamcheck"))
	app.HelpFlag.Short('h')
	app.Flag("ptp.socket", "ptp4l management (UDS) socket.").Default(pmc.DefaultSocket).StringVar(&c.socket)
	app.Flag("ptp.domain", "PTP domain of ptp4l.").Default("0").Uint8Var(&c.domain)
	app.Flag("camera.serial", "Serial of a camera to check; repeat for several. None: every discovered camera, up to --camera.max.").StringsVar(&c.serials)
	app.Flag("serials", "Alias of --camera.serial: comma-separated serials (the original scripts' spelling).").StringVar(&c.serialList)
	app.Flag("camera.interface", "Discover cameras on this host interface only (default: all); printed in timestamps' text output.").StringVar(&c.iface)
	app.Flag("iface", "Alias of --camera.interface (the original scripts' spelling).").StringVar(&c.ifaceAlias)
	app.Flag("camera.max", "Most cameras taken when no serials are given.").Default("8").IsSetByUser(&c.maxSet).IntVar(&c.max)
	app.Flag("max", "Alias of --camera.max.").IsSetByUser(&c.maxAliSet).IntVar(&c.maxAlias)
	app.Flag("camera.control-wait", "How long to keep trying to take control of a camera another application controls (e.g. a ptpcam_exporter sampling it) before failing with its address.").
		Default(genicam.DefaultControlWait.String()).DurationVar(&c.controlWait)
	app.Flag("output", "Output format: text or json.").Default("text").EnumVar(&c.output, "text", "json")
	c.log = &promslog.Config{}
	flag.AddFlags(app, c.log)
	return app
}

// selection resolves the camera flags and their aliases into a validated
// genicam.Selection.
func (c *common) selection() (genicam.Selection, error) {
	serials := append([]string(nil), c.serials...)
	if strings.TrimSpace(c.serialList) != "" {
		for _, f := range strings.Split(c.serialList, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				return genicam.Selection{}, fmt.Errorf("--serials %q: empty serial in the list", c.serialList)
			}
			serials = append(serials, f)
		}
	}
	iface := c.iface
	switch {
	case c.ifaceAlias != "" && iface != "" && c.ifaceAlias != iface:
		return genicam.Selection{}, fmt.Errorf("--camera.interface %q and --iface %q: give one of them", iface, c.ifaceAlias)
	case c.ifaceAlias != "":
		iface = c.ifaceAlias
	}
	maxCams := c.max
	switch {
	case c.maxSet && c.maxAliSet:
		return genicam.Selection{}, errors.New("--camera.max and --max: give one of them")
	case c.maxAliSet:
		maxCams = c.maxAlias
	}
	if maxCams < 1 {
		return genicam.Selection{}, fmt.Errorf("--camera.max %d: must be >= 1", maxCams)
	}
	if c.controlWait < 0 {
		return genicam.Selection{}, fmt.Errorf("--camera.control-wait %v: must be >= 0", c.controlWait)
	}
	sel := genicam.Selection{Interface: iface, Serials: serials, Max: maxCams}
	if err := sel.Validate(); err != nil {
		return genicam.Selection{}, fmt.Errorf("--camera.serial/--serials: %w", err)
	}
	c.iface = iface
	return sel, nil
}

// tsFlags are the timestamps subcommand's flags.
type tsFlags struct {
	threshold, interval, timeout *durationFlag
	samples                      *int
	raw                          *bool
	timescale                    *string
}

func newTSFlags(cmd *kingpin.CmdClause) *tsFlags {
	return &tsFlags{
		threshold: newDurationFlag(cmd, "threshold", "threshold-ns", "Pass bound of |camera - host|: OK when |delta| + uncertainty is within it, UNCERTAIN when only |delta| - uncertainty is", "3ms", time.Nanosecond),
		samples:   cmd.Flag("samples", "Number of samples; statistics follow when > 1.").Default("1").Int(),
		interval:  newDurationFlag(cmd, "interval", "interval-ms", "Pause between samples", "0s", time.Millisecond),
		timeout:   newDurationFlag(cmd, "timeout", "timeout-s", "Timeout of the whole run", "60s", time.Second),
		raw:       cmd.Flag("assume-realtime-ptp", "Also print the raw delta to the host clock read after the latch (debug aid; no effect on verdicts).").Bool(),
		timescale: cmd.Flag("timescale", "Camera timescale: auto (TAI when the domain's ptpTimescale is set), tai or utc.").Default("auto").Enum("auto", "tai", "utc"),
	}
}

// options checks the values, naming the flag as the user spelled it.
func (f *tsFlags) options() (tsOptions, time.Duration, error) {
	thr, thrName, err := f.threshold.value()
	if err != nil {
		return tsOptions{}, 0, err
	}
	iv, ivName, err := f.interval.value()
	if err != nil {
		return tsOptions{}, 0, err
	}
	to, toName, err := f.timeout.value()
	if err != nil {
		return tsOptions{}, 0, err
	}
	switch {
	case thr < 0:
		return tsOptions{}, 0, fmt.Errorf("%s: must be >= 0", thrName)
	case *f.samples < 1:
		return tsOptions{}, 0, fmt.Errorf("--samples %d: must be >= 1", *f.samples)
	case iv < 0:
		return tsOptions{}, 0, fmt.Errorf("%s: must be >= 0", ivName)
	case to <= 0:
		return tsOptions{}, 0, fmt.Errorf("%s: must be > 0", toName)
	}
	return tsOptions{threshold: thr, samples: *f.samples, interval: iv, raw: *f.raw, timescale: *f.timescale}, to, nil
}

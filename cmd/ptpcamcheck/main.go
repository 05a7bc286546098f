// Command ptpcamcheck runs the one-shot checks operators use before and
// during a shoot: `sync` (enable PTP on the cameras, wait for convergence,
// print the host's and every camera's PTP state and a verdict) and
// `timestamps` (latch every camera's clock against the host's, with
// threshold, samples and statistics). A timestamps measurement keeps each
// camera's narrowest latch bracket of a few (genicam.BestLatch), and a
// camera whose delta ± uncertainty straddles the threshold is UNCERTAIN, not
// OK. Exit codes: 0 good, 2 not synchronized / some camera out of threshold
// or uncertain, 1 fatal.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/ptpcam/ptpcam/check"
	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/pmc"
)

const (
	exitOK    = 0
	exitFatal = 1
	exitBad   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type common struct {
	socket  string
	domain  uint8
	serials string
	iface   string
	output  string
	max     int
}

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("ptpcamcheck", "One-shot PTP checks of a GigE Vision camera rig against the host's ptp4l.")
	app.Version(version.Print("ptpcamcheck"))
	app.HelpFlag.Short('h')
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	var c common
	app.Flag("ptp.socket", "ptp4l management (UDS) socket.").Default(pmc.DefaultSocket).StringVar(&c.socket)
	app.Flag("ptp.domain", "PTP domain of ptp4l.").Default("0").Uint8Var(&c.domain)
	app.Flag("serials", "Comma-separated camera serials (default: every discovered camera, up to --max).").StringVar(&c.serials)
	app.Flag("iface", "Host network interface of the cameras, for the log only (as the original).").StringVar(&c.iface)
	app.Flag("output", "Output format: text or json.").Default("text").EnumVar(&c.output, "text", "json")
	app.Flag("max", "Most cameras taken when no serials are given.").Default("8").IntVar(&c.max)

	syncCmd := app.Command("sync", "Enable PTP on the cameras, wait for convergence and judge it (ptp_sync_check.py).")
	timeout := syncCmd.Flag("timeout", "Longest wait for convergence.").Default("30s").Duration()
	poll := syncCmd.Flag("poll", "Polling interval.").Default("500ms").Duration()
	noEnable := syncCmd.Flag("no-enable-ptp", "Do not enable PTP in the cameras, only look.").Bool()

	tsCmd := app.Command("timestamps", "Latch the cameras' clocks against the host's and judge the deltas (chktimestat.py).")
	threshold := tsCmd.Flag("threshold-ns", "Pass bound of |camera - host| in ns: OK when |delta| + uncertainty is within it, UNCERTAIN when only |delta| - uncertainty is.").Default("3000000").Int64()
	samples := tsCmd.Flag("samples", "Number of samples; statistics follow when > 1.").Default("1").Int()
	intervalMs := tsCmd.Flag("interval-ms", "Pause between samples in ms.").Default("0").Int()
	timeoutS := tsCmd.Flag("timeout-s", "Timeout of the whole run in seconds.").Default("60").Int()
	rawDelta := tsCmd.Flag("assume-realtime-ptp", "Also print the raw delta to the host clock read after the latch (debug aid; no effect on verdicts).").Bool()
	timescale := tsCmd.Flag("timescale", "Camera timescale: auto (TAI when the domain's ptpTimescale is set), tai or utc.").Default("auto").Enum("auto", "tai", "utc")

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ptpcamcheck: %v\n", err)
		return exitFatal
	}
	serials, err := parseSerials(c.serials)
	if err != nil {
		fmt.Fprintf(stderr, "ptpcamcheck: --serials %q: %v\n", c.serials, err)
		return exitFatal
	}
	if c.max < 1 {
		fmt.Fprintf(stderr, "ptpcamcheck: --max %d: must be >= 1\n", c.max)
		return exitFatal
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case syncCmd.FullCommand():
		if *timeout <= 0 || *poll <= 0 {
			fmt.Fprintf(stderr, "ptpcamcheck: --timeout and --poll must be > 0\n")
			return exitFatal
		}
		return runSync(ctx, c, serials, *timeout, *poll, !*noEnable, stdout, stderr)
	case tsCmd.FullCommand():
		switch {
		case *threshold < 0:
			fmt.Fprintf(stderr, "ptpcamcheck: --threshold-ns %d: must be >= 0\n", *threshold)
			return exitFatal
		case *samples < 1:
			fmt.Fprintf(stderr, "ptpcamcheck: --samples %d: must be >= 1\n", *samples)
			return exitFatal
		case *intervalMs < 0:
			fmt.Fprintf(stderr, "ptpcamcheck: --interval-ms %d: must be >= 0\n", *intervalMs)
			return exitFatal
		case *timeoutS < 1:
			fmt.Fprintf(stderr, "ptpcamcheck: --timeout-s %d: must be >= 1\n", *timeoutS)
			return exitFatal
		}
		ctx, cancel := context.WithTimeout(ctx, time.Duration(*timeoutS)*time.Second)
		defer cancel()
		return runTimestamps(ctx, c, serials, tsOptions{
			threshold: time.Duration(*threshold), samples: *samples, interval: time.Duration(*intervalMs) * time.Millisecond,
			raw: *rawDelta, timescale: *timescale,
		}, stdout, stderr)
	}
	return exitFatal
}

// parseSerials splits a comma list; empty items and duplicates are errors.
func parseSerials(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, errors.New("empty serial in the list")
		}
		if strings.ContainsAny(f, " \t/") {
			return nil, fmt.Errorf("serial %q: contains a space or slash", f)
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("serial %s given twice", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// openCameras discovers once and opens the named cameras (or every one
// found, up to --max) by address (genicam.OpenSelection). An unknown serial
// is fatal and the error lists the serials found.
func openCameras(ctx context.Context, c common, serials []string) ([]*genicam.Camera, error) {
	return genicam.OpenSelection(ctx, genicam.Selection{Serials: serials, Max: c.max})
}

func closeAll(cams []*genicam.Camera) {
	for _, c := range cams {
		c.Close()
	}
}

func fatal(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "ptpcamcheck: "+format+"\n", args...)
	return exitFatal
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func pmcConfig(c common) pmc.Config {
	return pmc.Config{Socket: c.socket, Domain: c.domain}
}

func runSync(ctx context.Context, c common, serials []string, timeout, poll time.Duration, enable bool, stdout, stderr io.Writer) int {
	// The host first: without ptp4l there is nothing to judge against.
	if _, err := check.ReadHost(ctx, pmcConfig(c)); err != nil {
		return fatal(stderr, "host PTP state: %v (is ptp4l running with its management socket at %s?)", err, c.socket)
	}
	cams, err := openCameras(ctx, c, serials)
	if err != nil {
		return fatal(stderr, "%v", err)
	}
	defer closeAll(cams)
	text := c.output == "text"
	if text {
		fmt.Fprintln(stdout, "=== Cameras ===")
		for i, cam := range cams {
			in := cam.Info()
			fmt.Fprintf(stdout, "[%d] %s (%s) [%s] %s\n", i, in.Model, in.Serial, orUnknown(in.Interface), cam.Capabilities())
		}
		fmt.Fprintf(stdout, "\nWaiting for PTP convergence (up to %s)...\n", timeout)
	}
	sc := make([]check.SyncCamera, len(cams))
	for i, cam := range cams {
		sc[i] = cam
	}
	res, err := check.WaitSync(ctx, func(ctx context.Context) (*check.Host, error) { return check.ReadHost(ctx, pmcConfig(c)) }, sc, enable, poll, timeout)
	if err != nil {
		return fatal(stderr, "%v", err)
	}
	code := exitOK
	if !res.Verdict.Converged {
		code = exitBad
	}
	if !text {
		writeJSON(stdout, struct {
			*check.SyncResult
			ExitCode int `json:"exit_code"`
		}{res, code})
		return code
	}
	h := res.Host
	fmt.Fprintln(stdout, "\n=== Host PTP state ===")
	fmt.Fprintf(stdout, "Role=%s, stepsRemoved=%d, offsetFromMaster=%.1f, meanPathDelay=%.1f, GrandmasterClockID=%s\n",
		h.Role, h.StepsRemoved, h.OffsetFromMasterNs, h.MeanPathDelayNs, h.GrandmasterIdentity)
	fmt.Fprintln(stdout, "\n=== Camera PTP status ===")
	for _, cs := range res.Cameras {
		line := fmt.Sprintf("[%d] %s: PTP=%s, Status=%s", cs.Index, cs.Serial, cs.PTP, cs.Status)
		if cs.Error != "" {
			line += ", Error=" + cs.Error
		}
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, "\n=== Verdict ===")
	if res.Verdict.Converged {
		fmt.Fprintf(stdout, "✅ PTP sync OK: Host=%s, Cameras: %s (%.1f s)\n", h.Role, check.CameraSummary(res.Cameras), res.Waited.Seconds())
		for _, hint := range res.Verdict.Hints {
			fmt.Fprintf(stdout, "  note: %s\n", hint)
		}
		return code
	}
	if res.Verdict.NoPTPCameras {
		fmt.Fprintf(stdout, "❌ No camera exposes PTP: nothing is synchronized (Cameras: %s)\n", check.CameraSummary(res.Cameras))
	} else {
		fmt.Fprintf(stdout, "❌ PTP not converged after %.1f s\n", res.Waited.Seconds())
	}
	for _, p := range res.Verdict.Problems {
		fmt.Fprintf(stdout, "  - %s\n", p)
	}
	if len(res.Verdict.Hints) > 0 {
		fmt.Fprintln(stdout, "Hints:")
		for _, hint := range res.Verdict.Hints {
			fmt.Fprintf(stdout, "  * %s\n", hint)
		}
	}
	return code
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

type tsOptions struct {
	threshold time.Duration
	samples   int
	interval  time.Duration
	raw       bool
	timescale string
}

type tsReport struct {
	Interface   string        `json:"interface,omitempty"`
	ThresholdNs int64         `json:"threshold_ns"`
	Samples     []tsSample    `json:"samples"`
	Statistics  []check.Stats `json:"statistics,omitempty"`
	MaxAbsNs    *int64        `json:"max_abs_delta_ns,omitempty"`
	ExitCode    int           `json:"exit_code"`
	Error       string        `json:"error,omitempty"`
}

type tsSample struct {
	Index        int                 `json:"index"`
	Host         *check.Host         `json:"host"`
	CorrectionNs int64               `json:"timescale_correction_ns"`
	Cameras      []check.Measurement `json:"cameras"`
}

func runTimestamps(ctx context.Context, c common, serials []string, o tsOptions, stdout, stderr io.Writer) int {
	text := c.output == "text"
	rep := &tsReport{Interface: c.iface, ThresholdNs: int64(o.threshold)}
	fail := func(format string, args ...any) int {
		if !text {
			rep.ExitCode = exitFatal
			rep.Error = fmt.Sprintf(format, args...)
			writeJSON(stdout, rep)
		}
		return fatal(stderr, format, args...)
	}
	host, err := check.ReadHost(ctx, pmcConfig(c))
	if err != nil {
		return fail("host PTP state: %v (is ptp4l running with its management socket at %s?)", err, c.socket)
	}
	if !host.IsGrandmaster() {
		return fail("host is %s, not Grandmaster (stepsRemoved=%d, grandmaster %s): its clock is no reference", host.Role, host.StepsRemoved, host.GrandmasterIdentity)
	}
	cams, err := openCameras(ctx, c, serials)
	if err != nil {
		return fail("%v", err)
	}
	defer closeAll(cams)
	lc := make([]check.LatchCamera, len(cams))
	for i, cam := range cams {
		lc[i] = cam
	}
	if text && c.iface != "" {
		fmt.Fprintf(stdout, "interface=%s\n", c.iface)
	}
	var all [][]check.Measurement
	code := exitOK
	for i := range o.samples {
		if i > 0 && o.interval > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(o.interval):
			}
		}
		if ctx.Err() != nil {
			return fail("run timed out or was interrupted after %d sample(s): %v", i, ctx.Err())
		}
		host, err := check.ReadHost(ctx, pmcConfig(c))
		if err != nil {
			return fail("host PTP state: %v", err)
		}
		if !host.IsGrandmaster() {
			return fail("host stopped being Grandmaster (now %s) at sample %d", host.Role, i+1)
		}
		var corr time.Duration
		if o.timescale == "tai" || o.timescale == "auto" && host.PTPTimescale {
			corr = time.Duration(host.CurrentUTCOffset) * time.Second
		}
		ms := check.Measure(ctx, lc, corr, o.threshold, genicam.LatchPolicy{})
		all = append(all, ms)
		rep.Samples = append(rep.Samples, tsSample{Index: i + 1, Host: host, CorrectionNs: int64(corr), Cameras: ms})
		if text {
			fmt.Fprintf(stdout, "[Sample %d]\n", i+1)
			fmt.Fprintf(stdout, "Host PTP: role=%s, gmClockID=%s\n", host.Role, host.GrandmasterIdentity)
		}
		for _, m := range ms {
			switch {
			case m.Error != "":
				code = exitFatal
				if text {
					fmt.Fprintf(stdout, "serial=%s, error=%q, verdict=ERROR\n", m.Serial, m.Error)
				}
				continue
			case !m.OK && code == exitOK:
				code = exitBad
			}
			if !text {
				continue
			}
			line := fmt.Sprintf("serial=%s, camera_time_ns=%d, delta_to_gm_ms=%.6f, uncertainty_ms=%.6f, verdict=%s",
				m.Serial, m.CameraTimeNs, float64(m.DeltaNs)/1e6, float64(m.UncertaintyNs)/1e6, m.Verdict())
			if o.raw {
				line += fmt.Sprintf(", raw_delta_vs_realtime_ms=%.6f", float64(m.RawDeltaNs)/1e6)
			}
			fmt.Fprintln(stdout, line)
		}
	}
	if o.samples > 1 {
		per, maxAbs := check.Statistics(all)
		rep.Statistics, rep.MaxAbsNs = per, &maxAbs
		if text {
			fmt.Fprintln(stdout, "\n=== Statistics ===")
			for _, s := range per {
				fmt.Fprintf(stdout, "serial=%s, mean_delta_ns=%.1f, stddev_ns=%.1f, max_abs_delta_ns=%d, uncertain_samples=%d, verdict=%s\n",
					s.Serial, s.MeanNs, s.StddevNs, s.MaxAbsNs, s.Uncertain, okNG(s.OK))
			}
			fmt.Fprintf(stdout, "Max_abs_delta_ns=%d\n", maxAbs)
		}
	}
	rep.ExitCode = code
	if !text {
		writeJSON(stdout, rep)
	}
	if code == exitFatal {
		fmt.Fprintln(stderr, "ptpcamcheck: some cameras could not be latched (see above)")
	}
	return code
}

func okNG(ok bool) string {
	if ok {
		return "OK"
	}
	return "NG"
}

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
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ptpcam/ptpcam/check"
	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/internal/logging"
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

func run(args []string, stdout, stderr io.Writer) int {
	var c common
	app := newApp(&c)
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)

	syncCmd := app.Command("sync", "Enable PTP on the cameras, wait for convergence and judge it (ptp_sync_check.py).")
	timeout := syncCmd.Flag("timeout", "Longest wait for convergence.").Default("30s").Duration()
	poll := syncCmd.Flag("poll", "Polling interval.").Default("500ms").Duration()
	noEnable := syncCmd.Flag("no-enable-ptp", "Do not enable PTP in the cameras, only look.").Bool()

	tsCmd := app.Command("timestamps", "Latch the cameras' clocks against the host's and judge the deltas (chktimestat.py).")
	ts := newTSFlags(tsCmd)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ptpcamcheck: %v\n", err)
		return exitFatal
	}
	sel, err := c.selection()
	if err != nil {
		return fatal(stderr, "%v", err)
	}
	logger := logging.New(c.log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case syncCmd.FullCommand():
		if *timeout <= 0 || *poll <= 0 {
			return fatal(stderr, "--timeout %v and --poll %v: must be > 0", *timeout, *poll)
		}
		return runSync(ctx, c, sel, logger, *timeout, *poll, !*noEnable, stdout, stderr)
	case tsCmd.FullCommand():
		o, to, err := ts.options()
		if err != nil {
			return fatal(stderr, "%v", err)
		}
		ctx, cancel := context.WithTimeout(ctx, to)
		defer cancel()
		return runTimestamps(ctx, c, sel, logger, o, stdout, stderr)
	}
	return exitFatal
}

// openCameras discovers once (through sel's interface, if any) and opens
// the selected cameras by address for control (genicam.OpenSelection). An
// unknown serial is fatal and the error lists the serials found; a camera
// another application controls beyond wait is fatal and the error names that
// application (genicam.HeldError).
func openCameras(ctx context.Context, sel genicam.Selection, wait time.Duration, logger *slog.Logger) ([]*genicam.Camera, error) {
	cams, err := genicam.OpenSelection(ctx, sel, genicam.ControlWait(wait))
	if held := (*genicam.HeldError)(nil); errors.As(err, &held) {
		return nil, fmt.Errorf("%w (waited %v for it to leave control; stop it or give --camera.control-wait)", err, wait)
	}
	if err != nil {
		return nil, err
	}
	serials := make([]string, len(cams))
	for i, cam := range cams {
		serials[i] = cam.Serial()
	}
	logger.Debug("cameras opened", "serials", strings.Join(serials, ","), "interface", sel.Interface)
	return cams, nil
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

func runSync(ctx context.Context, c common, sel genicam.Selection, logger *slog.Logger, timeout, poll time.Duration, enable bool, stdout, stderr io.Writer) int {
	// The host first: without ptp4l there is nothing to judge against.
	if _, err := check.ReadHost(ctx, pmcConfig(c)); err != nil {
		return fatal(stderr, "host PTP state: %v (is ptp4l running with its management socket at %s?)", err, c.socket)
	}
	cams, err := openCameras(ctx, sel, c.controlWait, logger)
	if err != nil {
		return fatal(stderr, "%v", err)
	}
	defer closeAll(cams)
	text := c.output == "text"
	if text {
		fmt.Fprintln(stdout, "=== Cameras ===")
		for i, cam := range cams {
			in := cam.Info()
			fmt.Fprintf(stdout, "[%d] %s (%s) [%s] %s\n", i, in.Model, in.Serial, cmp.Or(in.Interface, "unknown"), cam.Capabilities())
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

func runTimestamps(ctx context.Context, c common, sel genicam.Selection, logger *slog.Logger, o tsOptions, stdout, stderr io.Writer) int {
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
	cams, err := openCameras(ctx, sel, c.controlWait, logger)
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
		code = judgeSample(ms, code, o, logger, text, stdout)
	}
	if o.samples > 1 {
		statistics(rep, all, text, stdout)
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

// judgeSample prints one sample's cameras (text) and returns the exit code
// so far: fatal for a failed latch, bad for a camera not OK.
func judgeSample(ms []check.Measurement, code int, o tsOptions, logger *slog.Logger, text bool, stdout io.Writer) int {
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
		if m.Uncertain {
			logger.Warn("latch bracket too wide to judge the camera against the threshold", "serial", m.Serial,
				"delta", time.Duration(m.DeltaNs), "uncertainty", time.Duration(m.UncertaintyNs), "threshold", o.threshold, "latches", m.Latches)
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
	return code
}

// statistics adds the statistics over all samples to rep and prints them
// (text).
func statistics(rep *tsReport, all [][]check.Measurement, text bool, stdout io.Writer) {
	per, maxAbs := check.Statistics(all)
	rep.Statistics, rep.MaxAbsNs = per, &maxAbs
	if !text {
		return
	}
	fmt.Fprintln(stdout, "\n=== Statistics ===")
	for _, s := range per {
		fmt.Fprintf(stdout, "serial=%s, mean_delta_ns=%.1f, stddev_ns=%.1f, max_abs_delta_ns=%d, uncertain_samples=%d, verdict=%s\n",
			s.Serial, s.MeanNs, s.StddevNs, s.MaxAbsNs, s.Uncertain, okNG(s.OK))
	}
	fmt.Fprintf(stdout, "Max_abs_delta_ns=%d\n", maxAbs)
}

func okNG(ok bool) string {
	if ok {
		return "OK"
	}
	return "NG"
}

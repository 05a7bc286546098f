// Command rig brings up a simulated capture rig: network namespaces on a
// bridge, ptp4l as grandmaster in the host namespace and one camsim per
// camera, so that ptpcam's tools can be run and tested without hardware.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/rig"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// options are the parsed command line.
type options struct {
	name, stateDir string
	// up
	cameras   int
	domain    uint8
	specs     []string
	camsimBin string
	noPTP     bool
	unpriv    bool
	trigRate  float64
	// ctl, exec
	ctlSerial string
	ctlKVs    []string
	execArgs  []string
}

func newApp(o *options) *kingpin.Application {
	app := kingpin.New("rig", "A simulated PTP camera rig in network namespaces (needs root).")
	app.Version(version.Print("rig"))
	app.HelpFlag.Short('h')
	app.Flag("name", "Name of the rig; namespaces are NAME-host, NAME-c0, ...").Default("ptpcam").StringVar(&o.name)
	app.Flag("state-dir", "Where rigs keep their state, sockets and logs.").Default(rig.DefaultStateDir).StringVar(&o.stateDir)

	up := app.Command("up", "Create the rig and print it as KEY=VALUE lines.")
	up.Flag("cameras", "Number of cameras (serials 05520125, 05520126, 05520128, 05520129, then 05520130, ...).").Default("4").IntVar(&o.cameras)
	up.Flag("domain", "PTP domain of the grandmaster and, by default, of the cameras.").Default("0").Uint8Var(&o.domain)
	up.Flag("camera", "SERIAL:key=value,... changes that camera or adds one: profile=sfnc|gev|noptp, domain=N, and genicam=FILE (impersonate the camera of that GenICam XML), any camsim flag (offset=5ms, drift-ppm=2, jitter=10us, timescale=utc).").StringsVar(&o.specs)
	up.Flag("camsim", "camsim binary (default: next to rig, or on PATH).").StringVar(&o.camsimBin)
	up.Flag("trigger-rate", "Pulse generator wired to every camera's trigger lines, Hz: a pulse at every k/HZ of the host clock (the rig's PTP timeline); cameras triggered on a Line input take a frame at each (0: none).").Default("0").Float64Var(&o.trigRate)
	up.Flag("no-ptp4l", "Do not run ptp4l on the host.").BoolVar(&o.noPTP)
	up.Flag("unprivileged", "Without root: one user and network namespace (unshare) with only loopback; cameras on 127.0.0.x, ptp4l on lo. The default when not run as root.").Default(strconv.FormatBool(os.Geteuid() != 0)).BoolVar(&o.unpriv)

	app.Command("down", "Stop and remove everything the rig created, also after a crash.")
	app.Command("env", "Print a rig that is up as KEY=VALUE lines.")
	ctlCmd := app.Command("ctl", "Drive a camera's camsim: KEY=VALUE settings (offset, step, drift-ppm, jitter, ptp-status, ptp-domain, drop-percent, unplugged, exit); without any, print its state as JSON.")
	ctlCmd.Arg("serial", "Camera serial.").Required().StringVar(&o.ctlSerial)
	ctlCmd.Arg("settings", "KEY=VALUE settings.").StringsVar(&o.ctlKVs)
	execCmd := app.Command("exec", "Run a command in the rig's host namespace, with the rig's KEY=VALUE lines in its environment.")
	execCmd.Arg("command", "Command and arguments (after --).").Required().StringsVar(&o.execArgs)
	return app
}

func run(args []string) int {
	var o options
	cmd, err := newApp(&o).Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rig: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cmd == "up" {
		err = up(ctx, o)
	} else {
		var r *rig.Rig
		r, err = rig.Load(o.stateDir, o.name)
		switch {
		case err != nil && cmd == "down":
			// Nothing recorded: still remove namespaces a crashed run may
			// have left under the rig's name.
			return downByName(o.name, err)
		case err != nil:
		case cmd == "down":
			err = r.Down()
		case cmd == "env":
			fmt.Println(strings.Join(r.Env(), "\n"))
		case cmd == "ctl":
			err = ctl(ctx, r, o.ctlSerial, o.ctlKVs)
		case cmd == "exec":
			return execIn(r, o.execArgs)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rig %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// up brings the rig up and prints it.
func up(ctx context.Context, o options) error {
	cams, err := buildCameras(o.cameras, int(o.domain), o.specs)
	if err != nil {
		return err
	}
	uctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	r, err := rig.Up(uctx, rig.Config{Name: o.name, StateDir: o.stateDir, Domain: o.domain, Cameras: cams,
		Camsim: o.camsimBin, NoPTP4L: o.noPTP, Unprivileged: o.unpriv, TriggerRate: o.trigRate})
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(r.Env(), "\n"))
	return nil
}

// execIn runs a command in the rig's host namespace and returns its exit
// code.
func execIn(r *rig.Rig, args []string) int {
	c := r.Host().Command(context.Background(), args[0], args[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.Env = append(os.Environ(), r.Env()...)
	c.Cancel = nil
	// The child gets the terminal's signals itself; rig only waits.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := c.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "rig exec: %v\n", err)
		return 1
	}
	return 0
}

// ctl applies settings to a camera's camsim, or prints its state.
func ctl(ctx context.Context, r *rig.Rig, serial string, kvs []string) error {
	c, err := r.Camera(serial)
	if err != nil {
		return err
	}
	cl := camsim.DialControl(c.Control)
	if len(kvs) == 0 {
		st, err := cl.State(ctx)
		if err != nil {
			return fmt.Errorf("camera %s: %w", serial, err)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	v := url.Values{}
	for _, kv := range kvs {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		v.Add(k, val)
	}
	if err := cl.SetMany(ctx, v); err != nil {
		return fmt.Errorf("camera %s: %w", serial, err)
	}
	return nil
}

func downByName(name string, loadErr error) int {
	out, _ := exec.Command("ip", "netns", "list").Output()
	removed := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		n := f[0]
		if n == name+"-host" || isCameraNetns(name, n) {
			if err := rig.DeleteNetns(n); err != nil {
				fmt.Fprintf(os.Stderr, "rig down: %v\n", err)
				return 1
			}
			removed++
		}
	}
	if removed == 0 {
		fmt.Fprintf(os.Stderr, "rig down: nothing to do: %v\n", loadErr)
	}
	return 0
}

// isCameraNetns: rig NAME's cameras live in NAME-c0, NAME-c1, ...
func isCameraNetns(name, ns string) bool {
	rest, ok := strings.CutPrefix(ns, name+"-c")
	if !ok || rest == "" {
		return false
	}
	_, err := strconv.Atoi(rest)
	return err == nil
}

// buildCameras applies --camera specs to n default cameras.
func buildCameras(n, domain int, specs []string) ([]rig.Camera, error) {
	if n < 0 {
		return nil, fmt.Errorf("--cameras %d: must be >= 0", n)
	}
	cams := rig.DefaultCameras(n, domain)
	for _, spec := range specs {
		serial, opts, _ := strings.Cut(spec, ":")
		if serial == "" || strings.ContainsAny(serial, "/ ") {
			return nil, fmt.Errorf("--camera %q: want SERIAL:key=value,...", spec)
		}
		idx := -1
		for i, c := range cams {
			if c.Serial == serial {
				idx = i
			}
		}
		if idx < 0 {
			cams = append(cams, rig.Camera{Serial: serial, Profile: "sfnc", Domain: domain})
			idx = len(cams) - 1
		}
		c := &cams[idx]
		if opts == "" {
			continue
		}
		for _, kv := range strings.Split(opts, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--camera %q: %q is not key=value", spec, kv)
			}
			switch k {
			case "profile":
				if v != "sfnc" && v != "gev" && v != "noptp" {
					return nil, fmt.Errorf("--camera %q: profile %q: want sfnc, gev or noptp", spec, v)
				}
				c.Profile = v
			case "genicam":
				abs, err := filepath.Abs(v)
				if err == nil {
					_, err = camsim.LoadGenICam(abs)
				}
				if err != nil {
					return nil, fmt.Errorf("--camera %q: genicam: %w", spec, err)
				}
				c.Args = append(c.Args, "--genicam="+abs)
				c.GenICam = abs
			case "domain":
				d, err := strconv.ParseUint(v, 10, 8)
				if err != nil {
					return nil, fmt.Errorf("--camera %q: domain %q: %w", spec, v, err)
				}
				c.Domain = int(d)
			default:
				c.Args = append(c.Args, "--"+k+"="+v)
			}
		}
	}
	return cams, nil
}

package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultStateDir is where `rig up` keeps each rig's sockets, logs and state.
const DefaultStateDir = "/run/ptpcam-rig"

// DefaultSerials are the serials of the original recorder's cameras, used
// first so that examples from the original scripts work as they are.
var DefaultSerials = []string{"05520125", "05520126", "05520128", "05520129"}

// Camera is one simulated camera of a rig.
type Camera struct {
	Serial  string `json:"serial"`
	Profile string `json:"profile"` // sfnc, gev or noptp
	Domain  int    `json:"domain"`
	// GenICam is the XML file the camera impersonates (genicam=FILE); its
	// --genicam flag is in Args.
	GenICam string `json:"genicam,omitempty"`
	// Args are extra camsim flags (--offset 5ms, --drift-ppm 3, ...).
	Args []string `json:"args,omitempty"`

	Address   string `json:"address"`
	Control   string `json:"control"` // camsim's control endpoint
	Netns     string `json:"netns"`
	Interface string `json:"interface"` // the camera's bridge port in the host namespace
}

// Config describes a rig to bring up.
type Config struct {
	Name     string
	StateDir string // DefaultStateDir when empty
	Domain   uint8  // the grandmaster's domain, default of the cameras
	Cameras  []Camera
	// Camsim is the camsim binary; found next to the running program or on
	// PATH when empty.
	Camsim string
	// NoPTP4L leaves the host without ptp4l (cameras then become masters).
	NoPTP4L bool
	// TriggerRate is the pulse generator wired to every camera's trigger
	// lines, Hz (camsim --trigger-rate: pulses at k/HZ of the host clock);
	// 0: none.
	TriggerRate float64
	// Unprivileged builds the rig without root: one user and network
	// namespace with only loopback, cameras on 127.0.0.x, ptp4l on lo.
	Unprivileged bool
}

// Rig is a simulated rig: a host namespace with a bridge and ptp4l as
// grandmaster, and one namespace per camera running camsim.
type Rig struct {
	Name          string   `json:"name"`
	Dir           string   `json:"dir"`
	HostNetns     string   `json:"host_netns"`
	HostInterface string   `json:"host_interface"`
	HostAddress   string   `json:"host_address"`
	Socket        string   `json:"ptp_socket"` // ptp4l's management socket ("" without ptp4l)
	Domain        uint8    `json:"domain"`
	Cameras       []Camera `json:"cameras"`
	Namespaces    []string `json:"namespaces"`
	// HolderPID is the process holding an unprivileged rig's namespace.
	HolderPID int `json:"holder_pid,omitempty"`
}

const (
	subnet     = "10.213.0."
	hostIf     = "ptp0"
	hostOctet  = 1
	firstOctet = 10
	maxCameras = 64
)

// Up creates the rig. On failure everything created so far is removed. The
// processes it starts keep running after Up returns, until Down.
func Up(ctx context.Context, cfg Config) (r *Rig, err error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	camsim, err := findCamsim(cfg.Camsim, len(cfg.Cameras))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.StateDir, cfg.Name)
	if _, err := os.Stat(filepath.Join(dir, "rig.json")); err == nil {
		return nil, fmt.Errorf("rig %s is already up (%s); `rig down --name %s` first", cfg.Name, dir, cfg.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rig %s: %w", cfg.Name, err)
	}
	r = &Rig{Name: cfg.Name, Dir: dir, HostNetns: cfg.Name + "-host", HostInterface: hostIf,
		HostAddress: subnet + strconv.Itoa(hostOctet), Domain: cfg.Domain}
	defer func() {
		if err != nil {
			r.Down()
		}
	}()
	if cfg.Unprivileged {
		return r, r.upUnprivileged(ctx, cfg, camsim)
	}
	host, err := r.upHost(ctx)
	if err != nil {
		return r, err
	}
	if !cfg.NoPTP4L {
		if err := r.startGrandmaster(ctx, host); err != nil {
			return r, err
		}
	}
	for i, c := range cfg.Cameras {
		if err := r.addCamera(ctx, host, camsim, i, c); err != nil {
			return r, err
		}
	}
	return r, r.save()
}

// normalize fills in the defaults and checks the configuration before
// anything is created.
func (cfg *Config) normalize() error {
	if cfg.Name == "" {
		cfg.Name = "ptpcam"
	}
	if len(cfg.Name) > 20 || strings.ContainsAny(cfg.Name, "/ \t") {
		return fmt.Errorf("rig name %q: at most 20 characters, no slash or space", cfg.Name)
	}
	if len(cfg.Cameras) > maxCameras {
		return fmt.Errorf("rig %s: %d cameras, at most %d", cfg.Name, len(cfg.Cameras), maxCameras)
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.TriggerRate < 0 || cfg.TriggerRate > 10000 || cfg.TriggerRate != cfg.TriggerRate {
		return fmt.Errorf("rig %s: trigger rate %v Hz: want 0 (none) to 10000", cfg.Name, cfg.TriggerRate)
	}
	cams := make([]Camera, len(cfg.Cameras))
	for i, c := range cfg.Cameras {
		if c.Serial == "" {
			return fmt.Errorf("rig %s: camera %d has no serial", cfg.Name, i)
		}
		if c.Profile == "" {
			c.Profile = "sfnc"
		}
		if cfg.TriggerRate > 0 {
			c.Args = append(slices.Clone(c.Args), "--trigger-rate="+strconv.FormatFloat(cfg.TriggerRate, 'g', -1, 64))
		}
		cams[i] = c
	}
	cfg.Cameras = cams
	return nil
}

// upHost creates the host namespace: a bridge, and the host's veth whose
// peer is a bridge port.
func (r *Rig) upHost(ctx context.Context) (*Netns, error) {
	// The state is saved before anything exists, so that a crash at any
	// point leaves `rig down` enough to clean up.
	r.Namespaces = append(r.Namespaces, r.HostNetns)
	if err := r.save(); err != nil {
		return nil, err
	}
	host, err := NewNetns(ctx, r.HostNetns)
	if err != nil {
		return nil, err
	}
	if err := host.IP(ctx, "link", "add", "br0", "type", "bridge"); err != nil {
		return nil, err
	}
	if err := host.IP(ctx, "link", "set", "br0", "up"); err != nil {
		return nil, err
	}
	// br0 has no address of its own, but by default Linux answers ARP for
	// any local address on any interface: cameras would learn br0's MAC for
	// the host's address and stream to br0, bypassing the host veth (a
	// packet socket or capture on it sees nothing). A switch port does not
	// do that; arp_ignore=1 answers only for the receiving interface's own.
	if err := host.Sysctl(ctx, "net.ipv4.conf.br0.arp_ignore", "1"); err != nil {
		return nil, err
	}
	// ptp4l cannot timestamp on a bridge: it gets a veth whose peer is a port.
	if err := VethPair(ctx, host, hostIf, r.HostAddress+"/24", host, hostIf+"p", ""); err != nil {
		return nil, err
	}
	if err := host.IP(ctx, "link", "set", hostIf+"p", "master", "br0"); err != nil {
		return nil, err
	}
	return host, nil
}

// startGrandmaster starts ptp4l on the host's interface as the rig's
// grandmaster.
func (r *Rig) startGrandmaster(ctx context.Context, host *Netns) error {
	pdir := filepath.Join(r.Dir, "ptp4l")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return err
	}
	p, err := StartPTP4L(ctx, host, PTP4LConfig{Interface: r.HostInterface, Dir: pdir, Domain: r.Domain, Priority1: 100,
		LogFile: filepath.Join(r.Dir, "ptp4l.log")})
	if err != nil {
		return err
	}
	r.Socket = p.Socket
	return nil
}

// addCamera gives camera i a namespace with a veth on the bridge and starts
// its camsim there.
func (r *Rig) addCamera(ctx context.Context, host *Netns, camsim string, i int, c Camera) error {
	c.Address = subnet + strconv.Itoa(firstOctet+i)
	c.Netns = fmt.Sprintf("%s-c%d", r.Name, i)
	c.Interface = fmt.Sprintf("cam%d", i)
	c.Control = "unix:" + filepath.Join(r.Dir, c.Serial+".sock")
	r.Namespaces = append(r.Namespaces, c.Netns)
	r.Cameras = append(r.Cameras, c)
	if err := r.save(); err != nil {
		return err
	}
	ns, err := NewNetns(ctx, c.Netns)
	if err != nil {
		return err
	}
	if err := VethPair(ctx, ns, "eth0", c.Address+"/24", host, c.Interface, ""); err != nil {
		return err
	}
	if err := SegmentUDPInSoftware(ns, "eth0"); err != nil {
		return err
	}
	if err := host.IP(ctx, "link", "set", c.Interface, "master", "br0"); err != nil {
		return err
	}
	if err := startCamsim(ctx, ns, camsim, c, filepath.Join(r.Dir, c.Serial+".log")); err != nil {
		return fmt.Errorf("rig %s: camera %s: %w", r.Name, c.Serial, err)
	}
	return nil
}

// upUnprivileged builds the rig in one user and network namespace: ptp4l on
// lo, cameras on 127.0.0.10, 127.0.0.11, ...
func (r *Rig) upUnprivileged(ctx context.Context, cfg Config, camsim string) error {
	host, err := NewUserNetns(ctx, r.HostNetns)
	if err != nil {
		return err
	}
	r.HolderPID, r.HostInterface, r.HostAddress = host.PID, "lo", "127.0.0.1"
	if err := r.save(); err != nil {
		return err
	}
	if !cfg.NoPTP4L {
		if err := r.startGrandmaster(ctx, host); err != nil {
			return err
		}
	}
	for i, c := range cfg.Cameras {
		c.Address = "127.0.0." + strconv.Itoa(firstOctet+i)
		c.Netns, c.Interface = r.HostNetns, "lo"
		c.Control = "unix:" + filepath.Join(r.Dir, c.Serial+".sock")
		r.Cameras = append(r.Cameras, c)
		if err := startCamsim(ctx, host, camsim, c, filepath.Join(r.Dir, c.Serial+".log")); err != nil {
			return fmt.Errorf("rig %s: camera %s: %w", cfg.Name, c.Serial, err)
		}
	}
	return r.save()
}

func findCamsim(path string, cameras int) (string, error) {
	if cameras == 0 {
		return "", nil
	}
	if path != "" {
		return path, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "camsim")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("camsim")
	if err != nil {
		return "", errors.New("camsim binary not found next to this program nor on PATH (build it: go build -o .build/ ./cmd/...)")
	}
	return p, nil
}

func startCamsim(ctx context.Context, ns *Netns, bin string, c Camera, logFile string) error {
	args := append([]string{"--address", c.Address, "--serial", c.Serial, "--profile", c.Profile,
		"--ptp-domain", strconv.Itoa(c.Domain), "--control-address", c.Control}, c.Args...)
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := ns.Command(context.Background(), bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	sock := strings.TrimPrefix(c.Control, "unix:")
	for {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logFile)
			return fmt.Errorf("camsim exited: %v: %s", err, strings.TrimSpace(string(b)))
		case <-ctx.Done():
			return fmt.Errorf("camsim: waiting for %s: %w", sock, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *Rig) save() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(r.Dir, "rig.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("rig %s: %w", r.Name, err)
	}
	return os.Rename(tmp, filepath.Join(r.Dir, "rig.json"))
}

// Load reads the state of a rig that is up.
func Load(stateDir, name string) (*Rig, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	b, err := os.ReadFile(filepath.Join(stateDir, name, "rig.json"))
	if err != nil {
		return nil, fmt.Errorf("rig %s is not up: %w", name, err)
	}
	r := &Rig{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("rig %s: state %s: %w", name, filepath.Join(stateDir, name, "rig.json"), err)
	}
	return r, nil
}

// Down stops every process of the rig and removes its namespaces and state.
// It works on a half-built or crashed rig, and twice.
func (r *Rig) Down() error {
	var errs []error
	if r.HolderPID != 0 {
		// Only while the PID is still our holder: not a PID reused later.
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", r.HolderPID)); err == nil && strings.TrimSpace(string(comm)) == "sleep" {
			if err := r.Host().Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Cameras first, the host (with the bridge) last.
	for i := len(r.Namespaces) - 1; i >= 0; i-- {
		if err := DeleteNetns(r.Namespaces[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(r.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Camera returns the camera with the serial.
func (r *Rig) Camera(serial string) (Camera, error) {
	var found []string
	for _, c := range r.Cameras {
		if c.Serial == serial {
			return c, nil
		}
		found = append(found, c.Serial)
	}
	return Camera{}, fmt.Errorf("rig %s: no camera %q (cameras: %s)", r.Name, serial, strings.Join(found, ", "))
}

// Host returns the rig's host namespace, where the exporter, the checks and
// the recorder run and where camera discovery is allowed.
func (r *Rig) Host() *Netns { return &Netns{Name: r.HostNetns, PID: r.HolderPID} }

// Env returns the rig as KEY=VALUE lines, as `rig up` prints them.
func (r *Rig) Env() []string {
	env := []string{
		"RIG_NAME=" + r.Name,
		"RIG_DIR=" + r.Dir,
		"RIG_HOST_NETNS=" + r.HostNetns,
		"RIG_HOST_INTERFACE=" + r.HostInterface,
		"RIG_HOST_ADDRESS=" + r.HostAddress,
		"PTP_SOCKET=" + r.Socket,
		"PTP_DOMAIN=" + strconv.Itoa(int(r.Domain)),
	}
	var serials []string
	for i, c := range r.Cameras {
		p := fmt.Sprintf("CAMERA_%d_", i)
		env = append(env, p+"SERIAL="+c.Serial, p+"ADDRESS="+c.Address, p+"CONTROL="+c.Control,
			p+"PROFILE="+c.Profile, p+"DOMAIN="+strconv.Itoa(c.Domain), p+"NETNS="+c.Netns)
		serials = append(serials, c.Serial)
	}
	return append(env, "CAMERAS="+strings.Join(serials, ","))
}

// DefaultCameras returns n cameras with the default serials (then 05520130,
// 05520131, ...), sfnc profile and the given domain.
func DefaultCameras(n int, domain int) []Camera {
	cams := make([]Camera, n)
	next := 5520130
	for i := range cams {
		s := ""
		if i < len(DefaultSerials) {
			s = DefaultSerials[i]
		} else {
			s = fmt.Sprintf("%08d", next)
			next++
		}
		cams[i] = Camera{Serial: s, Profile: "sfnc", Domain: domain}
	}
	return cams
}

// StopPTP4L stops the rig's ptp4l, as an operator's outage would.
func (r *Rig) StopPTP4L(ctx context.Context) error {
	host := r.Host()
	var pids []int
	for _, p := range host.PIDs(ctx) {
		comm, err := os.ReadFile("/proc/" + p + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == "ptp4l" {
			pid, _ := strconv.Atoi(p)
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return fmt.Errorf("rig %s: no ptp4l running", r.Name)
	}
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Signal(syscall.SIGTERM)
		}
	}
	for {
		alive := false
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				alive = true
			}
		}
		if !alive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rig %s: ptp4l still running: %w", r.Name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartPTP4L starts the rig's ptp4l again after StopPTP4L.
func (r *Rig) StartPTP4L(ctx context.Context) error {
	_, err := StartPTP4L(ctx, r.Host(), PTP4LConfig{Interface: r.HostInterface, Dir: filepath.Dir(r.Socket), Domain: r.Domain,
		Priority1: 100, LogFile: filepath.Join(r.Dir, "ptp4l.log")})
	return err
}

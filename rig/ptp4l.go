package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// PTP4LConfig describes one ptp4l instance of the rig.
type PTP4LConfig struct {
	// Interface ptp4l runs on. ptp4l refuses a bridge with software
	// timestamping: use a veth whose peer is a bridge port, or lo.
	Interface string
	// Dir holds the configuration file, the management socket (Dir/ptp4l) and
	// nothing else; a test's t.TempDir() is the usual choice.
	Dir string
	// Domain is the PTP domainNumber.
	Domain uint8
	// SlaveOnly makes the instance a slave-only ordinary clock.
	SlaveOnly bool
	// Priority1 for the BMCA; 0 means 128, the default of IEEE 1588.
	Priority1 uint8
	// ExtraConfig is appended to the [global] section verbatim.
	ExtraConfig string
	// LogFile, when set, receives ptp4l's output instead of memory, so that
	// ptp4l outlives the process that started it (`rig up`).
	LogFile string
}

// PTP4L is a running ptp4l.
type PTP4L struct {
	// Socket is the path of the management (UDS) socket.
	Socket string
	// ConfigFile is the path of the generated configuration.
	ConfigFile string

	cmd     *exec.Cmd
	log     *logBuffer
	logFile string
	done    chan struct{}
	err     error
}

// StartPTP4L starts ptp4l inside ns with software timestamping and
// free_running 1, and waits until its management socket exists. ptp4l with
// software timestamping steers CLOCK_REALTIME, which namespaces do not
// isolate: free_running is what keeps a slave from stepping the machine's
// clock, so it cannot be turned off here.
func StartPTP4L(ctx context.Context, ns *Netns, cfg PTP4LConfig) (*PTP4L, error) {
	if cfg.Interface == "" || cfg.Dir == "" {
		return nil, errors.New("ptp4l: Interface and Dir are required")
	}
	if cfg.Priority1 == 0 {
		cfg.Priority1 = 128
	}
	socket := filepath.Join(cfg.Dir, "ptp4l")
	slaveOnly := 0
	if cfg.SlaveOnly {
		slaveOnly = 1
	}
	conf := fmt.Sprintf(`[global]
domainNumber %d
priority1 %d
slaveOnly %d
free_running 1
time_stamping software
uds_address %s
logAnnounceInterval 0
announceReceiptTimeout 3
logSyncInterval 0
%s
`, cfg.Domain, cfg.Priority1, slaveOnly, socket, cfg.ExtraConfig)
	// A socket left by an earlier ptp4l would look like readiness.
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ptp4l: %w", err)
	}
	confFile := filepath.Join(cfg.Dir, "ptp4l.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("ptp4l: %w", err)
	}
	p := &PTP4L{Socket: socket, ConfigFile: confFile, log: &logBuffer{}, logFile: cfg.LogFile, done: make(chan struct{})}
	// Its own context: the caller's ctx bounds the start, Stop ends the run.
	p.cmd = ns.Command(context.Background(), "ptp4l", "-f", confFile, "-i", cfg.Interface, "-S", "-m", "-q")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("ptp4l: %w", err)
		}
		defer f.Close()
		p.cmd.Stdout, p.cmd.Stderr = f, f
	}
	detach(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("ptp4l in %s: %w", ns.Name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	for {
		if _, err := os.Stat(socket); err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("ptp4l in %s exited before its socket %s appeared: %v: %s", ns.Name, socket, p.err, p.Log())
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("ptp4l in %s: waiting for %s: %w: %s", ns.Name, socket, ctx.Err(), p.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Log returns what ptp4l printed so far.
func (p *PTP4L) Log() string {
	if p.logFile != "" {
		b, _ := os.ReadFile(p.logFile)
		return string(b)
	}
	return p.log.String()
}

// WaitLog waits until ptp4l's output contains substr.
func (p *PTP4L) WaitLog(ctx context.Context, substr string) error {
	for !strings.Contains(p.Log(), substr) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("ptp4l: waiting for %q: %w; log:\n%s", substr, ctx.Err(), p.Log())
		case <-p.done:
			return fmt.Errorf("ptp4l exited (%v) before printing %q; log:\n%s", p.err, substr, p.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// Done is closed when ptp4l has exited.
func (p *PTP4L) Done() <-chan struct{} { return p.done }

// Stop terminates ptp4l (SIGTERM, then SIGKILL after 3 s) and waits for it.
// Calling it again is harmless.
func (p *PTP4L) Stop() {
	StopProcess(p.cmd.Process, p.done, syscall.SIGTERM, 3*time.Second)
}

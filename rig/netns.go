package rig

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Netns is a network namespace created with `ip netns add`, or, with PID
// set, the user and network namespace of an unprivileged holder process
// (NewUserNetns). Close kills what still runs in it and deletes it.
type Netns struct {
	Name string
	PID  int
}

// NewNetns creates the namespace name with its loopback up. It fails if the
// namespace exists already: a leftover of a crashed run is removed by its own
// owner (`rig down`), never silently reused.
func NewNetns(ctx context.Context, name string) (*Netns, error) {
	if err := ip(ctx, "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &Netns{Name: name}
	if err := ns.IP(ctx, "link", "set", "lo", "up"); err != nil {
		ns.Close()
		return nil, err
	}
	return ns, nil
}

// UniqueName returns prefix followed by a short random suffix, for namespaces
// of tests that may run side by side.
func UniqueName(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Command returns a command that runs prog inside the namespace. `ip netns exec`
// execs prog, so the process of the command is prog itself.
func (n *Netns) Command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, prog}, args...)...)
	if n.PID != 0 {
		// nsenter execs prog (it forks only to enter a PID namespace).
		cmd = exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(n.PID), "--user", "--net",
			"--preserve-credentials", prog}, args...)...)
	}
	// A test's context ending must not leave ptp4l or camsim behind, nor
	// kill them so hard they cannot clean up their sockets.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	return cmd
}

// detach puts a child in its own session, so that a terminal's Ctrl-C
// reaches the rig's own command only and `rig up` can leave it running.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// IP runs `ip -n NAME args...`.
func (n *Netns) IP(ctx context.Context, args ...string) error {
	if n.PID != 0 {
		if out, err := n.Command(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: ip %s: %w: %s", n.Name, strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	return ip(ctx, append([]string{"-n", n.Name}, args...)...)
}

// Sysctl sets a network sysctl (net.ipv4.conf.IF.KEY) of the namespace,
// through /proc/sys as seen from inside it.
func (n *Netns) Sysctl(ctx context.Context, key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	out, err := n.Command(ctx, "sh", "-c", `printf '%s\n' "$1" > "$2"`, "sh", value, path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: sysctl %s=%s: %w: %s", n.Name, key, value, err, bytes.TrimSpace(out))
	}
	return nil
}

// PIDs lists the processes running in the namespace.
func (n *Netns) PIDs(ctx context.Context) []string {
	if n.PID != 0 {
		return n.userPIDs()
	}
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", n.Name).Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// Close kills every process left in the namespace and deletes it.
func (n *Netns) Close() error {
	if n.PID != 0 {
		return n.closeUser()
	}
	return DeleteNetns(n.Name)
}

// DeleteNetns kills the processes of namespace name and deletes it; a missing
// namespace is not an error.
func DeleteNetns(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := &Netns{Name: name}
	for _, sig := range []string{"TERM", "KILL"} {
		pids := n.PIDs(ctx)
		if len(pids) == 0 {
			break
		}
		_ = exec.CommandContext(ctx, "kill", append([]string{"-" + sig}, pids...)...).Run()
		for i := 0; i < 30 && len(n.PIDs(ctx)) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	err := ip(ctx, "netns", "del", name)
	if err != nil && strings.Contains(err.Error(), "No such file") {
		return nil
	}
	return err
}

// VethPair joins namespaces a and b with a veth pair, interface aIf in a with
// address aAddr (CIDR, may be empty) and bIf in b with bAddr, both up.
func VethPair(ctx context.Context, a *Netns, aIf, aAddr string, b *Netns, bIf, bAddr string) error {
	if err := a.IP(ctx, "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name); err != nil {
		return err
	}
	for _, e := range []struct {
		ns        *Netns
		ifc, addr string
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if e.addr != "" {
			if err := e.ns.IP(ctx, "addr", "add", e.addr, "dev", e.ifc); err != nil {
				return err
			}
		}
		if err := e.ns.IP(ctx, "link", "set", e.ifc, "up"); err != nil {
			return err
		}
	}
	return nil
}

func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// logBuffer collects a child's output for error messages and tests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Bound the memory a long-running child can take.
	if l.buf.Len() > 1<<20 {
		l.buf.Next(l.buf.Len() - 1<<19)
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

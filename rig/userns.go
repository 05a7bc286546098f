package rig

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Without root, `ip netns` is not available; a user namespace with its own
// network namespace is (where the kernel allows unprivileged user
// namespaces). A holder process (`unshare --user --map-root-user --net sleep
// infinity`) keeps that namespace alive; programs enter it with nsenter, and
// it has only a loopback interface: cameras sit on 127.0.0.x, ptp4l runs on lo.

// NewUserNetns starts a holder of a new user and network namespace and
// returns it as a Netns (named name, for messages), with lo up and
// multicast-capable so that ptp4l and camsim can use it.
func NewUserNetns(ctx context.Context, name string) (*Netns, error) {
	holder := exec.Command("unshare", "--user", "--map-root-user", "--net", "sleep", "infinity")
	detach(holder)
	if err := holder.Start(); err != nil {
		return nil, fmt.Errorf("user namespace %s: unshare: %w", name, err)
	}
	go holder.Wait() // reaped when Close kills it
	n := &Netns{Name: name, PID: holder.Process.Pid}
	// unshare execs sleep only after unsharing: wait for the namespace.
	self, _ := os.Readlink("/proc/self/ns/net")
	for {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", n.PID)); err == nil && ns != self {
			break
		}
		if holder.ProcessState != nil {
			return nil, fmt.Errorf("user namespace %s: unshare exited (unprivileged user namespaces disabled?)", name)
		}
		select {
		case <-ctx.Done():
			n.Close()
			return nil, fmt.Errorf("user namespace %s: %w", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"link", "set", "lo", "multicast", "on"}} {
		if err := n.IP(ctx, args...); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// userPIDs lists the processes in the holder's network namespace.
func (n *Netns) userPIDs() []string {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", n.PID))
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/net"); err == nil && ns == want {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// closeUser kills every process of the holder's namespace, the holder last.
func (n *Netns) closeUser() error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		pids := n.userPIDs()
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			pid, _ := strconv.Atoi(p)
			if pid != n.PID || sig == syscall.SIGKILL || len(pids) == 1 {
				_ = syscall.Kill(pid, sig)
			}
		}
		for i := 0; i < 30 && len(n.userPIDs()) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if left := n.userPIDs(); len(left) > 0 {
		return fmt.Errorf("user namespace %s: processes left: %s", n.Name, strings.Join(left, " "))
	}
	return nil
}

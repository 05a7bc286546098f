package testenv

import (
	"bytes"
	"os/exec"
	"sync"
	"testing"
)

// LockedBuffer collects a process's output (exec.Cmd's Stdout and Stderr)
// while the test reads it: Write and String may be called from different
// goroutines. The zero value is ready to use.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start starts cmd with its output (Stdout and Stderr) in a LockedBuffer
// and returns that and a channel closed once cmd has exited and been
// waited for. Stopping it is the caller's, in a cleanup.
func Start(t testing.TB, cmd *exec.Cmd) (*LockedBuffer, <-chan struct{}) {
	t.Helper()
	out := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return out, done
}

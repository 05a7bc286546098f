package rig

import (
	"os"
	"time"
)

// StopProcess ends a started process whose exit closes done: it sends sig,
// kills the process if it has not exited within grace, and waits for done.
// A process that has already exited is left alone, so calling it again is
// harmless.
func StopProcess(p *os.Process, done <-chan struct{}, sig os.Signal, grace time.Duration) {
	select {
	case <-done:
		return
	default:
	}
	_ = p.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.Kill()
		<-done
	}
}

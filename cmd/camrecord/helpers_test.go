package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// startRecordAt runs camrecord in the rig's host namespace serving metrics
// at addr, with the test's output dir, the rig's socket, a 3 s lead time
// and 2 s progress lines before args. The cleanup kills it if it is still
// running and shows its output when the test fails.
func startRecordAt(t testing.TB, r *rig.Rig, addr string, args ...string) *recording {
	t.Helper()
	bin := filepath.Join(testenv.Build(t, "camrecord"), "camrecord")
	dir := t.TempDir()
	all := append([]string{"--output-dir", dir, "--ptp.socket", r.Socket, "--web.listen-address", addr,
		"--lead-time", "3s", "--progress.interval", "2s"}, args...)
	rec := &recording{out: &testenv.LockedBuffer{}, dir: dir, done: make(chan struct{})}
	rec.cmd = r.Host().Command(context.Background(), bin, all...)
	rec.cmd.Stdout, rec.cmd.Stderr = rec.out, rec.out
	if err := rec.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		rec.waited = rec.cmd.Wait()
		rec.code = rec.cmd.ProcessState.ExitCode()
		close(rec.done)
	}()
	t.Cleanup(func() {
		select {
		case <-rec.done:
		default:
			_ = rec.cmd.Process.Kill()
			<-rec.done
		}
		if t.Failed() {
			t.Logf("camrecord (%s) output:\n%s", addr, rec.out.String())
		}
	})
	return rec
}

package rig_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// A grandmaster and a slave-only ptp4l on a veth pair: the slave hears the
// grandmaster and leaves LISTENING, and nothing escapes the namespaces.
func TestPTP4LPair(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	gmNS, slNS := testenv.NetnsPair(t, "ptpcam-t-")
	slDir := t.TempDir()
	gm := testenv.PTP4L(t, gmNS, rig.PTP4LConfig{Interface: "veth0", Priority1: 100})
	sl := testenv.PTP4L(t, slNS, rig.PTP4LConfig{Interface: "veth0", Dir: slDir, SlaveOnly: true})

	if err := gm.WaitLog(ctx, "assuming the grand master role"); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitLog(ctx, "LISTENING to UNCALIBRATED"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{gm.Socket, sl.Socket} {
		if fi, err := os.Stat(s); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Fatalf("management socket %s: %v %v", s, fi, err)
		}
	}
	sl.Stop()
	select {
	case <-sl.Done():
	default:
		t.Fatal("slave still running after Stop")
	}
	if filepath.Dir(sl.Socket) != slDir {
		t.Fatalf("socket %s outside %s", sl.Socket, slDir)
	}
}

// A listener made through Listen lives in the namespace: reachable with
// DialContext through the namespace, not from the test's own loopback.
func TestNetnsSockets(t *testing.T) {
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ns := testenv.Netns(t, "ptpcam-t-")
	l, err := ns.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	c, err := ns.DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	c.Close()
	// The machine's own loopback does not have it (a refused or foreign port).
	if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		b := make([]byte, 5)
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := io.ReadFull(c, b)
		c.Close()
		if string(b[:n]) == "hello" {
			t.Fatal("namespace listener reachable from the machine's namespace")
		}
	}
}

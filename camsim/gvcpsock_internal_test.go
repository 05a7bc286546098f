package camsim

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// The raw responder answers, leaves the process-wide GOMAXPROCS alone and
// closes its socket when ctx ends.
func TestRawSocketServe(t *testing.T) {
	sock, err := openRawSocket(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	sa, err := syscallGetsockname(sock.fd)
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- sock.serve(ctx, func(pkt []byte, src netip.AddrPort) {
			_ = sock.send(append([]byte("echo:"), pkt...), src)
		})
	}()

	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	buf := make([]byte, 64)
	for i := range 3 {
		if _, err := client.WriteToUDPAddrPort([]byte{byte(i)}, sa); err != nil {
			t.Fatal(err)
		}
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := client.Read(buf)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if want := []byte{'e', 'c', 'h', 'o', ':', byte(i)}; !bytes.Equal(buf[:n], want) {
			t.Fatalf("answer %d: %q, want %q", i, buf[:n], want)
		}
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS while serving: %d, want %d (unchanged)", got, procs)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return within 5 s of cancel")
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS after serve: %d, want %d", got, procs)
	}
	// The port is free again: the socket was closed.
	l, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(sa))
	if err != nil {
		t.Fatalf("port of the closed responder: %v", err)
	}
	l.Close()
}

// Garbage collection stops the world, which waits for the P the responder
// holds while it blocks in recvfrom(2). If that wait were unbounded the whole
// process would hang, this test's own timers included, so a child process
// does it under the parent's watch.
func TestRawSocketLetsGCThrough(t *testing.T) {
	if os.Getenv("CAMSIM_RAW_GC_CHILD") == "" {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestRawSocketLetsGCThrough$", "-test.count", "1")
		cmd.Env = append(os.Environ(), "CAMSIM_RAW_GC_CHILD=1")
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("the child did not finish 5 garbage collections within 30 s: the responder blocks stop-the-world\n%s", out)
		}
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("gc done")) {
			t.Fatalf("child output lacks its report:\n%s", out)
		}
		return
	}
	sock, err := openRawSocket(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sock.serve(ctx, func([]byte, netip.AddrPort) {}) }()
	time.Sleep(50 * time.Millisecond) // let it block in recvfrom(2)
	start := time.Now()
	for range 5 {
		runtime.GC()
	}
	fmt.Printf("gc done: 5 collections in %v\n", time.Since(start))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A send to a non-IPv4 address is an error naming it, not a panic.
func TestRawSocketSendIPv6(t *testing.T) {
	sock, err := openRawSocket(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.closeUnserved()
	err = sock.send([]byte{1}, netip.MustParseAddrPort("[::1]:3956"))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("[::1]:3956")) {
		t.Fatalf("send to ::1: %v, want an error naming the address", err)
	}
	if _, err := openRawSocket(netip.MustParseAddrPort("[::1]:0")); err == nil {
		t.Fatal("openRawSocket([::1]:0) succeeded, want an error")
	}
}

func syscallGetsockname(fd int) (netip.AddrPort, error) {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("getsockname: %T", sa)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port)), nil
}

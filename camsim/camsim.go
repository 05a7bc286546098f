package camsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Run simulates the camera cfg until ctx ends or the control endpoint asks it
// to exit; both return nil. It fails early when a socket cannot be opened.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("serial", cfg.Serial)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	c, err := newCamera(cfg, log)
	if err != nil {
		return err
	}
	c.ctx = ctx
	s, err := openSockets(ctx, cfg, log)
	if err != nil {
		return err
	}
	c.str = newStreamer(s.stream, c.unplugged.Load, log)
	c.sched = newScheduler(ctx, c.clock, c.fireAction0)
	if cfg.TriggerRate > 0 {
		go c.runPulses(ctx, cfg.TriggerRate) // line.go
	}

	g := &group{errc: make(chan error, 8)}
	c.serve(ctx, g, s)
	srv, err := c.serveControl(g, cancel)
	if err != nil {
		cancel()
		s.close()
		g.wg.Wait()
		return fmt.Errorf("camsim %s: %w", cfg.Serial, err)
	}
	profile := string(cfg.Profile)
	if !c.own {
		profile = "genicam" // the impersonated XML decides
	}
	log.Info("camsim running", "address", cfg.Address, "interface", cfg.Interface, "profile", profile,
		"mac", cfg.MAC.String(), "control", cfg.ControlAddress)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-g.errc:
	}
	cancel()
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	s.close()
	g.wg.Wait()
	if runErr != nil {
		return fmt.Errorf("camsim %s: %w", cfg.Serial, runErr)
	}
	log.Info("camsim stopped")
	return nil
}

// group runs the camera's goroutines; the first error ends the run.
type group struct {
	wg   sync.WaitGroup
	errc chan error
}

func (g *group) goRun(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.errc <- err
		}
	}()
}

// sockets are a camera's: the raw responder on its own address, broadcast
// DISCOVERY listeners and the stream socket.
type sockets struct {
	unicast   *rawSocket
	broadcast []*net.UDPConn
	stream    *net.UDPConn
}

func (s *sockets) close() {
	closeAll(s.broadcast)
	s.stream.Close()
}

// openSockets opens the camera's sockets. The camera's own address is
// served by a raw socket that answers without waking other threads
// (gvcpsock.go); broadcast DISCOVERY through the netpoller.
func openSockets(ctx context.Context, cfg Config, log *slog.Logger) (*sockets, error) {
	gvcpAddr := netip.AddrPortFrom(cfg.Address, uint16(cfg.GVCPPort))
	unicast, err := openRawSocket(gvcpAddr)
	if err != nil {
		return nil, fmt.Errorf("camsim %s: gvcp: %w", cfg.Serial, err)
	}
	s := &sockets{unicast: unicast}
	// Broadcast DISCOVERY goes to 255.255.255.255 or the subnet's broadcast
	// address; a socket bound to the camera's own address sees neither.
	for _, b := range broadcastAddrs(cfg) {
		bc, err := listenUDP(ctx, netip.AddrPortFrom(b, uint16(cfg.GVCPPort)))
		if err != nil {
			log.Warn("gvcp: no broadcast discovery", "address", b, "err", err)
			continue
		}
		s.broadcast = append(s.broadcast, bc)
	}
	s.stream, err = listenUDP(ctx, netip.AddrPortFrom(cfg.Address, 0))
	if err != nil {
		closeAll(s.broadcast)
		unicast.closeUnserved()
		return nil, fmt.Errorf("camsim %s: gvsp: %w", cfg.Serial, err)
	}
	_ = s.stream.SetWriteBuffer(4 << 20)
	return s, nil
}

// serve starts the camera's goroutines: GVCP on every socket, the stream,
// the heartbeat watch and PTP where the camera has it.
func (c *camera) serve(ctx context.Context, g *group, s *sockets) {
	g.goRun(func() error {
		return s.unicast.serve(ctx, func(pkt []byte, src netip.AddrPort) { c.answerGVCP(pkt, src, s.unicast) })
	})
	for _, conn := range s.broadcast {
		g.goRun(func() error { return c.serveGVCP(ctx, conn, s.unicast) })
	}
	g.goRun(func() error { c.str.run(ctx.Done()); return nil })
	g.goRun(func() error { c.watchHeartbeat(ctx); return nil })
	if !c.hasPTP() {
		return
	}
	g.goRun(func() error {
		if err := c.ptp.run(ctx, c.cfg.Interface, c.cfg.PTPPort); err != nil {
			// Without multicast (lo without `multicast on`) the camera
			// still works; it just never hears a grandmaster.
			c.log.Warn("ptp: not listening", "err", err)
			c.ptp.tickWithoutListener(ctx)
		}
		return nil
	})
}

// serveControl starts the fault-injection endpoint, if configured; its
// exit control calls cancel.
func (c *camera) serveControl(g *group, cancel context.CancelFunc) (*http.Server, error) {
	if c.cfg.ControlAddress == "" {
		return nil, nil
	}
	l, err := controlListener(c.cfg.ControlAddress)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: c.controlHandler(func() {
		c.log.Info("exit requested on the control endpoint")
		// Let the answer go out first.
		time.AfterFunc(50*time.Millisecond, cancel)
	}), ReadHeaderTimeout: 5 * time.Second}
	g.goRun(func() error {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("control endpoint: %w", err)
		}
		return nil
	})
	return srv, nil
}

func closeAll(conns []*net.UDPConn) {
	for _, c := range conns {
		c.Close()
	}
}

// listenUDP binds with SO_REUSEADDR so that several cameras in one namespace
// can all receive broadcast DISCOVERY.
func listenUDP(ctx context.Context, ap netip.AddrPort) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", ap.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// broadcastAddrs lists the broadcast addresses DISCOVERY may arrive on.
func broadcastAddrs(cfg Config) []netip.Addr {
	out := []netip.Addr{netip.AddrFrom4([4]byte{255, 255, 255, 255})}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil || ifi.Flags&net.FlagBroadcast == 0 {
		return out
	}
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil || !ipn.Contains(net.IP(cfg.Address.AsSlice())) {
			continue
		}
		ip4, mask := ipn.IP.To4(), net.IP(ipn.Mask).To4()
		if mask == nil {
			mask = net.IP(ipn.Mask[len(ipn.Mask)-4:])
		}
		var b [4]byte
		for i := range b {
			b[i] = ip4[i] | ^mask[i]
		}
		if bc := netip.AddrFrom4(b); bc != out[0] && bc != cfg.Address {
			out = append(out, bc)
		}
	}
	return out
}

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

	gvcpAddr := netip.AddrPortFrom(cfg.Address, uint16(cfg.GVCPPort))
	// The camera's own address is served by a raw socket that answers
	// without waking other threads (gvcpsock.go); broadcast DISCOVERY
	// through the netpoller.
	unicast, err := openRawSocket(gvcpAddr)
	if err != nil {
		return fmt.Errorf("camsim %s: gvcp: %w", cfg.Serial, err)
	}
	var conns []*net.UDPConn
	// Broadcast DISCOVERY goes to 255.255.255.255 or the subnet's broadcast
	// address; a socket bound to the camera's own address sees neither.
	for _, b := range broadcastAddrs(cfg) {
		bc, err := listenUDP(ctx, netip.AddrPortFrom(b, uint16(cfg.GVCPPort)))
		if err != nil {
			log.Warn("gvcp: no broadcast discovery", "address", b, "err", err)
			continue
		}
		conns = append(conns, bc)
	}
	streamConn, err := listenUDP(ctx, netip.AddrPortFrom(cfg.Address, 0))
	if err != nil {
		closeAll(conns)
		unicast.closeUnserved()
		return fmt.Errorf("camsim %s: gvsp: %w", cfg.Serial, err)
	}
	conns = append(conns, streamConn)
	_ = streamConn.SetWriteBuffer(4 << 20)

	c.str = newStreamer(streamConn, c.unplugged.Load, log)
	c.sched = newScheduler(ctx, c.clock, c.fireAction0)

	var wg sync.WaitGroup
	errc := make(chan error, 8)
	goRun := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errc <- err
			}
		}()
	}
	goRun(func() error {
		return unicast.serve(ctx, func(pkt []byte, src netip.AddrPort) { c.answerGVCP(pkt, src, unicast) })
	})
	for _, conn := range conns[:len(conns)-1] {
		goRun(func() error { return c.serveGVCP(ctx, conn, unicast) })
	}
	goRun(func() error { c.str.run(ctx.Done()); return nil })
	goRun(func() error { c.watchHeartbeat(ctx); return nil })
	if c.hasPTP() {
		goRun(func() error {
			err := c.ptp.run(ctx, cfg.Interface, cfg.PTPPort)
			if err != nil {
				// Without multicast (lo without `multicast on`) the camera
				// still works; it just never hears a grandmaster.
				log.Warn("ptp: not listening", "err", err)
				c.ptp.tickWithoutListener(ctx)
			}
			return nil
		})
	}
	var srv *http.Server
	if cfg.ControlAddress != "" {
		l, err := controlListener(cfg.ControlAddress)
		if err != nil {
			cancel()
			closeAll(conns)
			wg.Wait()
			return fmt.Errorf("camsim %s: %w", cfg.Serial, err)
		}
		srv = &http.Server{Handler: c.controlHandler(func() {
			log.Info("exit requested on the control endpoint")
			// Let the answer go out first.
			time.AfterFunc(50*time.Millisecond, cancel)
		}), ReadHeaderTimeout: 5 * time.Second}
		goRun(func() error {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("control endpoint: %w", err)
			}
			return nil
		})
	}
	profile := string(cfg.Profile)
	if c.gc != nil {
		profile = "genicam" // the impersonated XML decides
	}
	log.Info("camsim running", "address", cfg.Address, "interface", cfg.Interface, "profile", profile,
		"mac", cfg.MAC.String(), "control", cfg.ControlAddress)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	closeAll(conns)
	wg.Wait()
	if runErr != nil {
		return fmt.Errorf("camsim %s: %w", cfg.Serial, runErr)
	}
	log.Info("camsim stopped")
	return nil
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

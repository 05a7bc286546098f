package genicam

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ActionSender sends ACTION_CMDs from one UDP socket kept for its life (a
// take), with each target's broadcast-ness resolved once: SendActionCommand
// opens a socket and lists the host's interfaces on every call, which on a
// loaded host costs a frame's action window. One goroutine reads every
// acknowledge and hands it to the Send waiting on its request id, so Sends
// may run concurrently (one per frame) and a late ack of an earlier command
// is never taken for a later one's.
//
// A command with no acknowledge is not sent again: a camera executes every
// ACTION_CMD it gets (camsim, like the cameras whose behaviour it follows,
// keeps no per-request-id memory for actions), so a resend whose first copy
// did arrive would schedule the action twice.
type ActionSender struct {
	conn *net.UDPConn

	mu      sync.Mutex
	waiters map[uint16]chan ActionAck
	bcast   map[netip.Addr]bool
	done    chan struct{}
}

// NewActionSender opens the sender's socket (broadcast allowed) and starts
// its reader. Close it when the take ends.
func NewActionSender() (*ActionSender, error) {
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return nil, fmt.Errorf("action sender: %w", err)
	}
	if err := setBroadcast(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("action sender: %w", err)
	}
	s := &ActionSender{conn: conn, waiters: map[uint16]chan ActionAck{}, bcast: map[netip.Addr]bool{},
		done: make(chan struct{})}
	go s.read()
	return s, nil
}

// Close closes the socket and waits for the reader to end.
func (s *ActionSender) Close() error {
	err := s.conn.Close()
	<-s.done
	return err
}

// read hands each acknowledge to the Send waiting for its request id;
// strays, stale ones and ones for no waiter are dropped.
func (s *ActionSender) read() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		st, id, perr := parseActionAck(buf[:n])
		if perr != nil {
			continue
		}
		s.mu.Lock()
		ch := s.waiters[id]
		s.mu.Unlock()
		if ch == nil {
			continue
		}
		select {
		case ch <- ActionAck{From: from.Addr().Unmap(), Status: st}:
		default: // more answers than it waits for: a duplicate
		}
	}
}

// isBroadcast is isBroadcast(a), the host's interfaces listed once per
// target for the sender's life.
func (s *ActionSender) isBroadcast(a netip.Addr) bool {
	s.mu.Lock()
	b, ok := s.bcast[a]
	s.mu.Unlock()
	if ok {
		return b
	}
	b = isBroadcast(a)
	s.mu.Lock()
	s.bcast[a] = b
	s.mu.Unlock()
	return b
}

// Send is SendActionCommand on the sender's socket: cmd to every target,
// then, with cmd.Ack, the acknowledges until each unicast target answered
// (and, for a broadcast, until the wait ends), ctx ends or 500 ms pass.
func (s *ActionSender) Send(ctx context.Context, targets []netip.Addr, cmd ActionCommand) ([]ActionAck, error) {
	if len(targets) == 0 {
		return nil, errors.New("action command: no targets")
	}
	port := cmd.Port
	if port == 0 {
		port = gvcpPort
	}
	unicast, anyBcast := 0, false
	for _, t := range targets {
		if !t.Is4() {
			return nil, fmt.Errorf("action command: target %s: GVCP is IPv4 only", t)
		}
		if s.isBroadcast(t) {
			anyBcast = true
		} else {
			unicast++
		}
	}
	reqID := uint16(actionReqID.Add(1)%0xffff + 1) // 0 is not a valid req_id
	var ch chan ActionAck
	if cmd.Ack {
		ch = make(chan ActionAck, len(targets)+16)
		s.mu.Lock()
		s.waiters[reqID] = ch
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.waiters, reqID)
			s.mu.Unlock()
		}()
	}
	pkt := cmd.marshal(reqID)
	for _, t := range targets {
		if _, err := s.conn.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(t, port)); err != nil {
			return nil, fmt.Errorf("action command to %s: %w", t, err)
		}
	}
	if !cmd.Ack {
		return nil, nil
	}
	return s.collect(ctx, targets, ch, unicast, anyBcast)
}

// collect gathers a Send's acknowledges from ch and judges them as
// SendActionCommand does.
func (s *ActionSender) collect(ctx context.Context, targets []netip.Addr, ch chan ActionAck, unicast int, anyBcast bool) ([]ActionAck, error) {
	pending := make(map[netip.Addr]bool, unicast)
	for _, t := range targets {
		if !s.isBroadcast(t) {
			pending[t] = true
		}
	}
	timer := time.NewTimer(actionDefaultWait)
	defer timer.Stop()
	var acks []ActionAck
	var errs []error
wait:
	for len(pending) > 0 || anyBcast {
		select {
		case a := <-ch:
			acks = append(acks, a)
			delete(pending, a.From)
			switch {
			case a.Status == gvcpStatusLate:
				errs = append(errs, fmt.Errorf("action command to %s: %w", a.From, ErrActionLate))
			case a.Status != 0:
				errs = append(errs, fmt.Errorf("action command to %s: ack status 0x%04x", a.From, a.Status))
			}
		case <-ctx.Done():
			break wait
		case <-timer.C:
			break wait
		}
	}
	for t := range pending {
		errs = append(errs, fmt.Errorf("action command to %s: no acknowledge", t))
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("action command: %w", err))
	}
	return acks, errors.Join(errs...)
}

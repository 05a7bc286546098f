package genicam

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// ackResponder answers every ACTION_CMD asking for one on 127.0.0.1, with
// status 0x8016 for action time 1; with stale, it first sends a "late" ack
// for a request id no Send waits on (a long-gone command's answer). It counts the
// commands it got.
type ackResponder struct {
	pc    *net.UDPConn
	stale bool
	mu    sync.Mutex
	got   int
}

func newAckResponder(t testing.TB, stale bool) *ackResponder {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &ackResponder{pc: pc, stale: stale}
	t.Cleanup(func() { pc.Close() })
	go r.serve()
	return r
}

func (r *ackResponder) port() uint16 { return uint16(r.pc.LocalAddr().(*net.UDPAddr).Port) }

func (r *ackResponder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

func (r *ackResponder) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := r.pc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		p := buf[:n]
		if n < 8 || binary.BigEndian.Uint16(p[2:]) != gvcpCmdAction {
			continue
		}
		r.mu.Lock()
		r.got++
		r.mu.Unlock()
		if p[1]&gvcpFlagAck == 0 {
			continue
		}
		status := uint16(0)
		if p[1]&gvcpFlagActTime != 0 && n >= 28 && binary.BigEndian.Uint64(p[20:]) == 1 {
			status = gvcpStatusLate
		}
		id := binary.BigEndian.Uint16(p[6:])
		if r.stale {
			_, _ = r.pc.WriteToUDP(ackBytes(gvcpStatusLate, id+0x8000), from)
		}
		_, _ = r.pc.WriteToUDP(ackBytes(status, id), from)
	}
}

func ackBytes(status, id uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, status)
	b = binary.BigEndian.AppendUint16(b, gvcpAckAction)
	b = binary.BigEndian.AppendUint16(b, 0)
	return binary.BigEndian.AppendUint16(b, id)
}

var loopback = []netip.Addr{netip.MustParseAddr("127.0.0.1")}

// TestActionSender: one socket for many commands, concurrent ones each
// getting its own ack (a stale ack of another request id is not taken),
// late and missing acks reported as SendActionCommand reports them.
func TestActionSender(t *testing.T) {
	r := newAckResponder(t, true)
	s, err := NewActionSender()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			at := uint64(time.Now().UnixNano())
			acks, err := s.Send(ctx, loopback, ActionCommand{Time: &at, Ack: true, Port: r.port()})
			if err == nil && (len(acks) != 1 || acks[0].Status != 0 || acks[0].From != loopback[0]) {
				err = errors.New("wrong acks")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent send (a stale ack before each): %v", err)
		}
	}
	if n := r.count(); n != 32 {
		t.Errorf("responder got %d commands, want 32 (each sent once)", n)
	}
	one := uint64(1)
	if _, err := s.Send(ctx, loopback, ActionCommand{Time: &one, Ack: true, Port: r.port()}); !errors.Is(err, ErrActionLate) {
		t.Errorf("late: %v", err)
	}
	dead, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	dport := uint16(dead.LocalAddr().(*net.UDPAddr).Port)
	dead.Close()
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.Send(tctx, loopback, ActionCommand{Ack: true, Port: dport}); err == nil || !strings.Contains(err.Error(), "127.0.0.1: no acknowledge") {
		t.Errorf("no responder: %v", err)
	}
	if _, err := s.Send(ctx, nil, ActionCommand{}); err == nil {
		t.Error("no targets accepted")
	}
	if _, err := s.Send(ctx, []netip.Addr{netip.MustParseAddr("::1")}, ActionCommand{}); err == nil || !strings.Contains(err.Error(), "IPv4 only") {
		t.Errorf("IPv6 target: %v", err)
	}
}

// BenchmarkActionCommand: one acknowledged scheduled ACTION_CMD to a
// loopback responder, SendActionCommand (socket and interface list per
// call) against ActionSender (kept socket), taking turns in every
// iteration so both see the same machine; old/new is the ratio of their
// mean costs.
func BenchmarkActionCommand(b *testing.B) {
	r := newAckResponder(b, false)
	s, err := NewActionSender()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var old, cur time.Duration
	for b.Loop() {
		at := uint64(time.Now().UnixNano())
		cmd := ActionCommand{Time: &at, Ack: true, Port: r.port()}
		t0 := time.Now()
		if _, err := SendActionCommand(ctx, loopback, cmd); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.Send(ctx, loopback, cmd); err != nil {
			b.Fatal(err)
		}
		old, cur = old+t1.Sub(t0), cur+time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(old)/1e3/n, "old-µs/cmd")
	b.ReportMetric(float64(cur)/1e3/n, "new-µs/cmd")
	if cur > 0 {
		b.ReportMetric(float64(old)/float64(cur), "old/new")
	}
}

// Action mode: the host sends each frame's scheduled ACTION_CMD ahead of its
// time, to every camera of the take in that mode with one action_time.

package record

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

// minActionLead is how far ahead of its time a command must still go out
// (a LAN round trip, with margin for a loaded host).
const minActionLead = time.Millisecond

// ACTION_CMD acknowledge statuses (GigE Vision 2.0).
const (
	ackOverflow = 0x8015 // the camera's action queue is full
	ackLate     = 0x8016 // the action time had passed
)

// Action command outcomes, per camera and frame (the metric's result
// label): a command refused for a full queue is sent again while it can
// still be in time, so overflow counts the frames it never got in.
const (
	actOK = iota
	actLate
	actOverflow
	actNoAck
	actError
	actSkipped // the sender was too late to send it: not sent
	actResults
)

var actionResultNames = [actResults]string{"ok", "late", "overflow", "no_ack", "error", "skipped"}

// actionCounts are one camera's action command outcomes.
type actionCounts [actResults]atomic.Uint64

// sendActionFunc sends one ACTION_CMD (the take's genicam.ActionSender;
// tests replace it). It may be called concurrently.
type sendActionFunc func(ctx context.Context, targets []netip.Addr, cmd genicam.ActionCommand) ([]genicam.ActionAck, error)

// actionSender sends frame k's command once frame k−queue has fired, so that
// no camera ever holds more than its queue, and as far ahead as that allows.
type actionSender struct {
	send   sendActionFunc
	cams   []*camRec
	byAddr map[netip.Addr]*camRec
	// addr and hz are each camera's address and action_time unit (one
	// command per unit, all for the same instant).
	addr      map[*camRec]netip.Addr
	hz        map[*camRec]uint64
	start     int64 // device ns of frame 0
	hostStart time.Time
	interval  time.Duration
	total     int64
	queue     int
	// close ends the take's persistent sender (nil when tests send).
	close func() error
}

// newActionSender is nil when no camera of the take is in action mode.
func (r *Recorder) newActionSender(t *take) (*actionSender, error) {
	s := &actionSender{send: r.sendAction, byAddr: map[netip.Addr]*camRec{}, addr: map[*camRec]netip.Addr{},
		hz: map[*camRec]uint64{}, start: t.start, hostStart: t.hostStart,
		interval: r.cfg.Interval(), total: r.cfg.Frames(), queue: 1 << 30}
	for _, cr := range t.recs {
		if cr.mode != SyncAction {
			continue
		}
		a, err := netip.ParseAddr(cr.cam.(actionCamera).Info().Address)
		if err != nil {
			return nil, fmt.Errorf("camera %s: action commands need its IPv4 address: %w", cr.serial, err)
		}
		s.cams = append(s.cams, cr)
		s.addr[cr], s.hz[cr] = a, tickHz(cr.cam)
		s.byAddr[a] = cr
		s.queue = min(s.queue, queueSize(cr.cam))
	}
	if len(s.cams) == 0 {
		return nil, nil
	}
	if s.send == nil {
		gs, err := genicam.NewActionSender()
		if err != nil {
			return nil, fmt.Errorf("action commands: %w", err)
		}
		s.send, s.close = gs.Send, gs.Close
	}
	return s, nil
}

// sendTime is when frame k's command goes: just after frame k−queue fired
// (the first queue frames at once).
func (s *actionSender) sendTime(k int64) time.Time {
	if k < int64(s.queue) {
		return time.Time{}
	}
	return s.hostStart.Add(time.Duration(k-int64(s.queue))*s.interval + s.interval/10)
}

// run sends every frame's command until the take's last or ctx ends. It
// never waits on acquisition nor on acknowledges: each frame's command is
// sent and answered in a goroutine of its own, woken at its send time (as
// soon as frame k−queue fired); only frame k−1's first send, never its
// retries after an overflow, goes before frame k's. A command that cannot
// be sent in time is skipped (a gap), never sent late.
func (s *actionSender) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		if s.close != nil {
			_ = s.close()
		}
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	// Commands go on the wire in frame order (a camera queues actions in
	// arrival order): frame k's first send waits for frame k−1's (prev).
	prev := make(chan struct{})
	close(prev)
	for k := int64(0); s.total <= 0 || k < s.total; k++ {
		if d := time.Until(s.sendTime(k)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		due := s.hostStart.Add(time.Duration(k) * s.interval)
		after, gate := prev, make(chan struct{})
		wg.Go(func() { s.sendFrame(ctx, k, due, after, gate) })
		prev = gate
	}
}

// skip counts frame k's command as not sent in time (a gap).
func (s *actionSender) skip(k int64, due time.Time) {
	s.cams[0].log.Debug("Action command not sent in time: a gap", "grid_index", k, "late", time.Since(due))
	for _, cr := range s.cams {
		cr.actions[actSkipped].Add(1)
	}
}

// actionRetry is the pause before a command a full queue refused goes
// again: a camera frees its slot at its action's instant, a simulated one
// (or one whose clock lags the host's a little) a little later.
const actionRetry = 2 * time.Millisecond

// sendFrame sends frame k's command to every camera, again to those whose
// queue was full while it can still arrive ahead of its time; each camera's
// final answer is counted (an overflow: a gap).
func (s *actionSender) sendFrame(ctx context.Context, k int64, due time.Time, prev <-chan struct{}, sent chan<- struct{}) {
	select {
	case <-prev:
	case <-ctx.Done():
	}
	// A command arriving after its time fires the frame off the grid: one
	// that cannot make it is a gap instead.
	if ctx.Err() != nil || time.Until(due) < minActionLead {
		close(sent)
		if ctx.Err() == nil {
			s.skip(k, due)
		}
		return
	}
	cams := s.cams
	for first := true; ; first = false {
		full := s.sendOne(ctx, k, due, cams)
		if first {
			close(sent)
		}
		if len(full) == 0 {
			return
		}
		if !s.retryWait(ctx, due) {
			for _, cr := range full {
				cr.actions[actOverflow].Add(1)
				cr.log.Debug("Action queue full: a gap", "grid_index", k)
			}
			return
		}
		cams = full
	}
}

// retryWait pauses actionRetry before a refused command goes again and
// says whether it still can go in time (checked again after the pause: a
// loaded host may wake late).
func (s *actionSender) retryWait(ctx context.Context, due time.Time) bool {
	if ctx.Err() != nil || time.Until(due) < minActionLead+actionRetry {
		return false
	}
	t := time.NewTimer(actionRetry)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	return time.Until(due) >= minActionLead
}

// sendOne sends frame k's command to cams and counts their answers but for
// overflows, which it returns; it waits for acknowledges at most until
// half-way to the frame's time.
func (s *actionSender) sendOne(ctx context.Context, k int64, due time.Time, cams []*camRec) []*camRec {
	ns := uint64(s.start + k*int64(s.interval))
	wait := min(time.Until(due)/2, s.interval/2)
	actx, cancel := context.WithTimeout(ctx, max(wait, minActionLead))
	defer cancel()
	groups := map[uint64][]netip.Addr{}
	for _, cr := range cams {
		groups[s.hz[cr]] = append(groups[s.hz[cr]], s.addr[cr])
	}
	var acks []genicam.ActionAck
	for hz, targets := range groups {
		at := nsToTicks(ns, hz)
		a, _ := s.send(actx, targets, genicam.ActionCommand{DeviceKey: actionDeviceKey, GroupKey: actionGroupKey,
			GroupMask: actionGroupMask, Time: &at, Ack: true})
		acks = append(acks, a...)
	}
	answered := map[*camRec]bool{}
	var full []*camRec
	for _, a := range acks {
		cr := s.byAddr[a.From]
		if cr == nil || answered[cr] {
			continue
		}
		answered[cr] = true
		switch a.Status {
		case 0:
			cr.actions[actOK].Add(1)
		case ackOverflow:
			full = append(full, cr)
		case ackLate:
			cr.actions[actLate].Add(1)
		default:
			cr.actions[actError].Add(1)
		}
		if a.Status != 0 && a.Status != ackOverflow {
			cr.log.Debug("Action command refused", "grid_index", k, "status", fmt.Sprintf("0x%04x", a.Status))
		}
	}
	for _, cr := range cams {
		if !answered[cr] {
			cr.actions[actNoAck].Add(1)
		}
	}
	return full
}

// actionSummary is one camera's counts by result name (session JSON, log).
func (cr *camRec) actionSummary() map[string]uint64 {
	if cr.mode != SyncAction {
		return nil
	}
	m := map[string]uint64{}
	for i, n := range actionResultNames {
		m[n] = cr.actions[i].Load()
	}
	return m
}

// tickHz is the unit of the camera's action_time: its tick frequency where
// its timestamps count ticks, else 1e9 (ns).
func tickHz(cam Camera) uint64 {
	cp, ok := cam.(capable)
	if !ok || cp.Capabilities().LatchUnit != genicam.LatchTicks {
		return 1e9
	}
	if tc, ok := cam.(interface{ TickFrequency() uint64 }); ok && tc.TickFrequency() > 0 {
		return tc.TickFrequency()
	}
	return 1e9
}

// nsToTicks converts device ns to ticks at hz without overflowing.
func nsToTicks(ns, hz uint64) uint64 {
	if hz == 1e9 {
		return ns
	}
	return ns/1e9*hz + ns%1e9*hz/1e9
}

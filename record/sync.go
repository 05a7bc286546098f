// Start modes: how each camera of a take starts its frames on the common
// grid (start + k·interval on the PTP timeline), chosen per camera from its
// GenICam capabilities.

package record

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

// SyncMode is how a camera's frames are started.
type SyncMode string

// Start modes.
const (
	// SyncAuto picks, per camera, the first of scheduler, action, line it
	// can do (free only with --force).
	SyncAuto SyncMode = "auto"
	// SyncScheduler: the camera's own ActionScheduler (TIS firmware).
	SyncScheduler SyncMode = "scheduler"
	// SyncAction: GigE Vision 2.0 scheduled action commands, one per frame,
	// sent ahead within the camera's ActionQueueSize.
	SyncAction SyncMode = "action"
	// SyncLine: an external trigger on one of the camera's Line inputs,
	// wired to a pulse generator on the grid.
	SyncLine SyncMode = "line"
	// SyncFree: free-run at the frame rate, placed on the grid by
	// timestamp afterwards (needs force).
	SyncFree SyncMode = "free"
)

// SyncModes lists the accepted values of Config.Sync.
var SyncModes = []string{string(SyncAuto), string(SyncScheduler), string(SyncAction), string(SyncLine), string(SyncFree)}

// ParseSyncMode checks a --sync value.
func ParseSyncMode(s string) (SyncMode, error) {
	if s == "" {
		return SyncAuto, nil
	}
	if !slices.Contains(SyncModes, s) {
		return "", fmt.Errorf("sync mode %q: one of %s", s, strings.Join(SyncModes, ", "))
	}
	return SyncMode(s), nil
}

// capable is the part of a camera that tells its capabilities
// (*genicam.Camera has it). A camera without it can do scheduler and free.
type capable interface {
	Capabilities() genicam.Capabilities
}

// triggerCamera sets the camera's FrameStart trigger source ("" = off).
type triggerCamera interface {
	SetFrameTrigger(ctx context.Context, source string) error
}

// actionCamera is what action mode needs: keys, trigger and an address.
type actionCamera interface {
	triggerCamera
	SetActionKeys(ctx context.Context, deviceKey, groupKey, groupMask uint32) error
	Info() genicam.DeviceInfo
}

// lineSource is the camera's first Line entry of TriggerSource ("" if none).
func lineSource(c genicam.Capabilities) string {
	for _, s := range c.TriggerSources {
		if strings.HasPrefix(s, "Line") {
			return s
		}
	}
	return ""
}

// cameraModes is what a camera can do, best first (free last, always).
func cameraModes(cam Camera) []SyncMode {
	cp, ok := cam.(capable)
	if !ok {
		return []SyncMode{SyncScheduler, SyncFree}
	}
	c := cp.Capabilities()
	var m []SyncMode
	if c.Action == genicam.ActionScheduler && c.ActionTrigger != "" {
		m = append(m, SyncScheduler)
	}
	if _, ok := cam.(actionCamera); ok && c.Action != genicam.ActionNone && c.Action != "" && c.ActionTrigger != "" {
		m = append(m, SyncAction)
	}
	if _, ok := cam.(triggerCamera); ok && lineSource(c) != "" {
		m = append(m, SyncLine)
	}
	return append(m, SyncFree)
}

// chooseMode is the start mode of one camera for the requested one.
func chooseMode(cam Camera, want SyncMode, force bool) (SyncMode, error) {
	can := cameraModes(cam)
	names := make([]string, len(can))
	for i, m := range can {
		names[i] = string(m)
	}
	mode := want
	if want == SyncAuto {
		mode = can[0]
	} else if !slices.Contains(can, want) {
		return "", fmt.Errorf("camera %s: sync mode %s not supported; this camera can do: %s", cam.Serial(), want, strings.Join(names, ", "))
	}
	if mode == SyncFree && !force {
		if want == SyncAuto {
			return "", fmt.Errorf("camera %s: no way to start frames on a PTP instant (it can do: %s); free-run needs --sync free --force", cam.Serial(), strings.Join(names, ", "))
		}
		return "", fmt.Errorf("camera %s: sync mode free needs --force (frames are only aligned to the grid afterwards)", cam.Serial())
	}
	return mode, nil
}

// chooseModes picks every camera's mode; the error names each camera that
// cannot do what was asked.
func (r *Recorder) chooseModes(cams []Camera) ([]SyncMode, error) {
	modes := make([]SyncMode, len(cams))
	var errs []string
	for i, c := range cams {
		m, err := chooseMode(c, r.cfg.Sync, r.cfg.Force)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		modes[i] = m
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return modes, nil
}

// queueSize is how many scheduled actions the camera holds (1 where it
// declares none).
func queueSize(cam Camera) int {
	if cp, ok := cam.(capable); ok && cp.Capabilities().ActionQueueSize > 0 {
		return int(cp.Capabilities().ActionQueueSize)
	}
	return 1
}

// Action keys of every camera of a take in action mode: one command reaches
// them all.
const (
	actionDeviceKey = 0x50544341 // "PTCA"
	actionGroupKey  = 0x00000001
	actionGroupMask = 0x00000001
)

// armMode readies one camera's trigger for its mode (before its stream
// starts): the scheduler programmed, action keys and trigger set, the line
// trigger set, or triggering off for free-run.
func (r *Recorder) armMode(ctx context.Context, cr *camRec, start int64) error {
	switch cr.mode {
	case SyncScheduler, "":
		if err := cr.cam.ProgramScheduler(ctx, start, r.cfg.Interval()); err != nil {
			return fmt.Errorf("camera %s: program scheduler: %w", cr.serial, err)
		}
	case SyncAction:
		ac := cr.cam.(actionCamera)
		if err := ac.SetActionKeys(ctx, actionDeviceKey, actionGroupKey, actionGroupMask); err != nil {
			return fmt.Errorf("camera %s: action keys: %w", cr.serial, err)
		}
		if err := ac.SetFrameTrigger(ctx, cr.cam.(capable).Capabilities().ActionTrigger); err != nil {
			return fmt.Errorf("camera %s: action trigger: %w", cr.serial, err)
		}
	case SyncLine:
		src := lineSource(cr.cam.(capable).Capabilities())
		if err := cr.cam.(triggerCamera).SetFrameTrigger(ctx, src); err != nil {
			return fmt.Errorf("camera %s: line trigger %s: %w", cr.serial, src, err)
		}
	case SyncFree:
		if tc, ok := cr.cam.(triggerCamera); ok {
			if err := tc.SetFrameTrigger(ctx, ""); err != nil {
				return fmt.Errorf("camera %s: trigger off for free-run: %w", cr.serial, err)
			}
		}
	}
	return nil
}

// alignStart is the take's start from the latest latched device time: the
// --start-at instant (which must leave the lead time), else latest + lead;
// with a camera on a line trigger, the next pulse instant (a multiple of the
// interval on the PTP timeline).
func (r *Recorder) alignStart(latest int64, latestSerial string, modes []SyncMode) (int64, error) {
	lead := int64(r.cfg.LeadTime)
	start := latest + lead
	if !r.cfg.StartAt.IsZero() {
		at := r.cfg.StartAt.UnixNano()
		if at < start {
			return 0, fmt.Errorf("--start-at %s: only %v ahead of camera %s's clock (%s), less than the lead time %v",
				r.cfg.StartAt.Format(time.RFC3339Nano), time.Duration(at-latest).Round(time.Millisecond), latestSerial,
				time.Unix(0, latest).UTC().Format(time.RFC3339Nano), r.cfg.LeadTime)
		}
		start = at
	}
	if slices.Contains(modes, SyncLine) {
		iv := int64(r.cfg.Interval())
		start = (start + iv - 1) / iv * iv
	}
	return start, nil
}

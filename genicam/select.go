package genicam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Selection says which cameras a command or the exporter takes: discovery
// (through one host interface or all), then the given serials or, without
// serials, every discovered camera up to Max. Every command and the camera
// collector select through it.
type Selection struct {
	// Interface restricts discovery to cameras reached through this host
	// interface ("" = all).
	Interface string
	// Serials are the cameras to take, in this order; empty takes every
	// discovered camera (by serial), up to Max.
	Serials []string
	// Max bounds the cameras taken when Serials is empty; 0 = no bound.
	Max int
}

// Validate checks the selection before anything is discovered: no empty,
// blank-containing or repeated serial, no negative Max.
func (s Selection) Validate() error {
	for i, v := range s.Serials {
		switch {
		case v == "":
			return errors.New("camera serial: empty")
		case strings.ContainsAny(v, " \t/,"):
			return fmt.Errorf("camera serial %q: contains a space, comma or slash", v)
		case slices.Contains(s.Serials[:i], v):
			return fmt.Errorf("camera serial %s given twice", v)
		}
	}
	if s.Max < 0 {
		return fmt.Errorf("camera max %d: must be >= 0", s.Max)
	}
	return nil
}

// Match picks the selected cameras out of discovered ones: the serials' in
// their order, or the first Max by serial when no serials are given.
// missing lists the serials that were not discovered.
func (s Selection) Match(devs []DeviceInfo) (picked []DeviceInfo, missing []string) {
	devs = slices.Clone(devs)
	slices.SortFunc(devs, func(a, b DeviceInfo) int { return strings.Compare(a.Serial, b.Serial) })
	if len(s.Serials) == 0 {
		if s.Max > 0 && len(devs) > s.Max {
			devs = devs[:s.Max]
		}
		return devs, nil
	}
	for _, serial := range s.Serials {
		i := slices.IndexFunc(devs, func(d DeviceInfo) bool { return d.Serial == serial })
		if i < 0 {
			missing = append(missing, serial)
			continue
		}
		picked = append(picked, devs[i])
	}
	return picked, missing
}

// Pick is Match that fails when a serial is missing (naming every missing
// serial and every discovered one) or nothing is found.
func (s Selection) Pick(devs []DeviceInfo) ([]DeviceInfo, error) {
	picked, missing := s.Match(devs)
	if len(missing) > 0 {
		found := make([]string, len(devs))
		for i, d := range devs {
			found[i] = d.Serial
		}
		slices.Sort(found)
		list := "none"
		if len(found) > 0 {
			list = strings.Join(found, ", ")
		}
		return nil, fmt.Errorf("camera %s not found; found %d camera(s)%s: %s",
			strings.Join(missing, ", "), len(found), s.where(), list)
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("no camera found%s", s.where())
	}
	return picked, nil
}

func (s Selection) where() string {
	if s.Interface == "" {
		return ""
	}
	return " on " + s.Interface
}

// Find validates the selection, discovers (a broadcast on every interface
// of the network namespace) and picks.
func Find(ctx context.Context, s Selection) ([]DeviceInfo, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	devs, err := Discover(ctx, s.Interface)
	if err != nil {
		return nil, fmt.Errorf("camera discovery: %w", err)
	}
	return s.Pick(devs)
}

// OpenDevice opens a discovered camera by its address (no broadcast) and
// checks that the camera there is the one discovered.
//
// By default the camera is opened for control: while another application
// holds it, the open keeps trying to take it for ControlWait (default
// DefaultControlWait), then fails with a *HeldError naming that
// application. With Monitor the camera is opened and its control left at
// once (see TakeControl).
func OpenDevice(ctx context.Context, d DeviceInfo, opts ...OpenOption) (*Camera, error) {
	cam, err := openAddress(ctx, d.Address, newOpenConfig(opts))
	if errors.Is(err, ErrHeld) {
		return nil, err // it names the camera and the holder
	}
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", d.Serial, err)
	}
	if cam.Serial() != d.Serial {
		cam.Close()
		return nil, fmt.Errorf("camera at %s: serial %q, expected %s", d.Address, cam.Serial(), d.Serial)
	}
	return cam, nil
}

// OpenSelection finds the selected cameras and opens them (as OpenDevice
// does, with opts), in the selection's order; on an error none stays open.
func OpenSelection(ctx context.Context, s Selection, opts ...OpenOption) ([]*Camera, error) {
	devs, err := Find(ctx, s)
	if err != nil {
		return nil, err
	}
	cams := make([]*Camera, 0, len(devs))
	for _, d := range devs {
		cam, err := OpenDevice(ctx, d, opts...)
		if err != nil {
			for _, c := range cams {
				c.Close()
			}
			return nil, err
		}
		cams = append(cams, cam)
	}
	return cams, nil
}

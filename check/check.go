package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/pmc"
)

// Host is the host's PTP state as the checks print it.
type Host struct {
	Role                string  `json:"role"`
	StepsRemoved        uint16  `json:"steps_removed"`
	OffsetFromMasterNs  float64 `json:"offset_from_master_ns"`
	MeanPathDelayNs     float64 `json:"mean_path_delay_ns"`
	GrandmasterIdentity string  `json:"grandmaster_identity"`
	ClockIdentity       string  `json:"clock_identity"`
	Domain              uint8   `json:"domain"`
	PTPTimescale        bool    `json:"ptp_timescale"`
	CurrentUTCOffset    int16   `json:"current_utc_offset"`

	role pmc.Role
}

// IsGrandmaster reports whether the host serves the domain's time.
func (h *Host) IsGrandmaster() bool { return h != nil && h.role == pmc.RoleGrandmaster }

// ReadHost reads the host's state from ptp4l's management socket.
func ReadHost(ctx context.Context, cfg pmc.Config) (*Host, error) {
	cl, err := pmc.Dial(cfg)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	snap, err := cl.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return HostFromSnapshot(snap), nil
}

// HostFromSnapshot converts a pmc snapshot.
func HostFromSnapshot(s *pmc.Snapshot) *Host {
	r := pmc.InferRole(s)
	return &Host{
		role:                r,
		Role:                r.String(),
		StepsRemoved:        s.Current.StepsRemoved,
		OffsetFromMasterNs:  s.Current.OffsetFromMaster.Nanoseconds(),
		MeanPathDelayNs:     s.Current.MeanPathDelay.Nanoseconds(),
		GrandmasterIdentity: s.Parent.GrandmasterIdentity.String(),
		ClockIdentity:       s.Default.ClockIdentity.String(),
		Domain:              s.Default.DomainNumber,
		PTPTimescale:        s.TimeProperties.PTPTimescale,
		CurrentUTCOffset:    s.TimeProperties.CurrentUTCOffset,
	}
}

// SyncCamera is what the sync check needs of a camera.
type SyncCamera interface {
	Info() genicam.DeviceInfo
	PTPAvailable() bool
	EnablePTP(ctx context.Context, on bool) error
	PTPEnabled(ctx context.Context) (bool, error)
	PTPStatus(ctx context.Context) (genicam.PTPStatus, error)
}

// CameraStatus is one camera in the sync check.
type CameraStatus struct {
	Index     int    `json:"index"`
	Serial    string `json:"serial"`
	Model     string `json:"model"`
	Interface string `json:"interface"`
	// PTP is Enabled, Disabled, N/A (no PTP features) or StatusOnly (a
	// status but no readable enable).
	PTP    string `json:"ptp"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Capabilities are the camera's, as found at open (where known).
	Capabilities *genicam.Capabilities `json:"capabilities,omitempty"`

	status genicam.PTPStatus
}

// Verdict is the outcome of the sync check.
type Verdict struct {
	Converged bool `json:"converged"`
	// Masters names every master of the domain: "host" and camera serials.
	Masters  []string `json:"masters"`
	Problems []string `json:"problems,omitempty"`
	Hints    []string `json:"hints,omitempty"`
	// NoPTPCameras: cameras were checked and none has PTP.
	NoPTPCameras bool `json:"no_ptp_cameras,omitempty"`
}

// Evaluate judges convergence: exactly one master in the domain (the host
// counts when it is grandmaster) and every other camera with PTP Slave.
// Cameras without PTP features do not block while others have PTP; a rig
// where no camera has PTP has nothing synchronized and is not converged.
func Evaluate(host *Host, cams []CameraStatus) Verdict {
	var v Verdict
	if host.IsGrandmaster() {
		v.Masters = append(v.Masters, "host")
	}
	stuck := map[string][]string{}
	ptpCams := 0
	for _, c := range cams {
		switch {
		case c.Error != "":
			v.Problems = append(v.Problems, fmt.Sprintf("camera %s: %s", c.Serial, c.Error))
		case c.PTP == "N/A":
		case c.status == genicam.PTPMaster:
			ptpCams++
			v.Masters = append(v.Masters, c.Serial)
		case c.status != genicam.PTPSlave:
			ptpCams++
			stuck[c.Status] = append(stuck[c.Status], c.Serial)
		default:
			ptpCams++
		}
	}
	switch {
	case len(v.Masters) > 1:
		v.Problems = append(v.Problems, "several masters: "+strings.Join(v.Masters, ", "))
	case len(v.Masters) == 0:
		v.Problems = append(v.Problems, "no master: neither the host nor any camera is master")
	}
	states := make([]string, 0, len(stuck))
	for s := range stuck {
		states = append(states, s)
	}
	slices.Sort(states)
	for _, s := range states {
		v.Problems = append(v.Problems, fmt.Sprintf("cameras %s (not Slave): %s", s, strings.Join(stuck[s], ", ")))
	}
	if host != nil && !host.IsGrandmaster() && host.Role != pmc.RoleSlave.String() {
		v.Problems = append(v.Problems, "host is "+host.Role+", not Grandmaster or Slave")
	}
	v.NoPTPCameras = ptpCams == 0 && len(cams) > 0 && errored(cams) == 0
	if v.NoPTPCameras && len(v.Problems) == 0 {
		v.Problems = append(v.Problems, "no camera exposes PTP: nothing is synchronized")
	}
	v.Converged = len(v.Problems) == 0
	if !v.Converged {
		v.Hints = syncHints(v, stuck)
	}
	if v.NoPTPCameras {
		v.Hints = append(v.Hints, "None of these cameras has PTP features (PtpEnable/GevIEEE1588/PtpMode): start frames from a trigger line or use cameras with PTP.")
	}
	return v
}

func errored(cams []CameraStatus) int {
	n := 0
	for _, c := range cams {
		if c.Error != "" {
			n++
		}
	}
	return n
}

// syncHints are the original script's hints, chosen by the diagnosis.
func syncHints(v Verdict, stuck map[string][]string) []string {
	var h []string
	if len(v.Masters) > 1 {
		h = append(h, "Cameras that are Master did not hear the grandmaster: check that every camera and ptp4l use the same PTP domain (ptp4l domainNumber).",
			"Only one grandmaster must win the BMCA: check priority1/priority2 of ptp4l and of the cameras.")
	}
	if len(v.Masters) == 0 {
		h = append(h, "Start ptp4l on the host (it is normally the grandmaster) and check its management socket (/var/run/ptp4l).")
	}
	if len(stuck["Listening"]) > 0 || len(stuck["Uncalibrated"]) > 0 || len(v.Masters) > 1 {
		h = append(h, "Check that the switch passes PTP (transparent or boundary clock, or plain forwarding of UDP 319/320).",
			"Check IGMP snooping/multicast: PTP uses 224.0.1.129; an IGMP querier must exist when snooping is on.")
	}
	if len(stuck["Uncalibrated"]) > 0 {
		h = append(h, "Uncalibrated cameras have a master but have not locked yet: wait longer (--timeout) or look for path delay asymmetry.")
	}
	if len(stuck["Disabled"]) > 0 {
		h = append(h, "Disabled cameras have PTP turned off (PtpEnable/GevIEEE1588).")
	}
	return h
}

// capabilitiesOf is what cameras that know their capabilities offer
// (*genicam.Camera does; test fakes may not).
type capabilitiesOf interface {
	Capabilities() genicam.Capabilities
}

// ReadCamera reads one camera's PTP state for the sync check. A camera
// whose enable cannot be read but whose status can (status-only cameras) is
// judged by its status: PTP=StatusOnly.
func ReadCamera(ctx context.Context, i int, c SyncCamera) CameraStatus {
	in := c.Info()
	cs := CameraStatus{Index: i, Serial: in.Serial, Model: in.Model, Interface: in.Interface, PTP: "N/A", Status: "Unknown"}
	if co, ok := c.(capabilitiesOf); ok {
		cp := co.Capabilities()
		cs.Capabilities = &cp
	}
	if !c.PTPAvailable() {
		return cs
	}
	en, enErr := c.PTPEnabled(ctx)
	if enErr == nil {
		cs.PTP = map[bool]string{true: "Enabled", false: "Disabled"}[en]
	} else {
		cs.PTP = "StatusOnly"
	}
	st, err := c.PTPStatus(ctx)
	if err != nil {
		if enErr != nil && !errors.Is(enErr, genicam.ErrNotAvailable) {
			err = fmt.Errorf("%w (and PTP enable: %v)", err, enErr)
		}
		cs.Error = err.Error()
		return cs
	}
	cs.status, cs.Status = st, st.String()
	return cs
}

// CameraSummary counts the cameras by status ("Slave x3, N/A x1") for the
// verdict line; cameras without PTP count as N/A.
func CameraSummary(cams []CameraStatus) string {
	n := map[string]int{}
	var order []string
	for _, c := range cams {
		k := c.Status
		switch {
		case c.Error != "":
			k = "Error"
		case c.PTP == "N/A":
			k = "N/A"
		}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	slices.Sort(order)
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%s x%d", k, n[k]))
	}
	return strings.Join(parts, ", ")
}

// SyncResult is the outcome of WaitSync.
type SyncResult struct {
	Host    *Host          `json:"host"`
	Cameras []CameraStatus `json:"cameras"`
	Verdict Verdict        `json:"verdict"`
	Waited  time.Duration  `json:"-"`
	// WaitedSeconds is Waited for JSON.
	WaitedSeconds float64 `json:"waited_seconds"`
}

// WaitSync enables PTP on the cameras that have it (when enable is set),
// then polls every poll until converged or timeout. readHost errors are
// fatal: without the host's state there is no verdict.
func WaitSync(ctx context.Context, readHost func(context.Context) (*Host, error), cams []SyncCamera, enable bool, poll, timeout time.Duration) (*SyncResult, error) {
	if enable {
		for _, c := range cams {
			if c.PTPAvailable() {
				if err := c.EnablePTP(ctx, true); err != nil {
					return nil, fmt.Errorf("camera %s: enable PTP: %w", c.Info().Serial, err)
				}
			}
		}
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		host, err := readHost(ctx)
		if err != nil {
			return nil, fmt.Errorf("host PTP state: %w", err)
		}
		r := &SyncResult{Host: host}
		for i, c := range cams {
			r.Cameras = append(r.Cameras, ReadCamera(ctx, i, c))
		}
		r.Verdict = Evaluate(host, r.Cameras)
		r.Waited = time.Since(start)
		r.WaitedSeconds = r.Waited.Seconds()
		// No camera with PTP will not change by waiting.
		if r.Verdict.Converged || r.Verdict.NoPTPCameras || !time.Now().Add(poll).Before(deadline) {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, nil
		case <-time.After(poll):
		}
	}
}

package camsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// State is the simulator state GET /state returns.
type State struct {
	Serial    string `json:"serial"`
	Profile   string `json:"profile"`
	Address   string `json:"address"`
	Interface string `json:"interface"`
	MAC       string `json:"mac"`

	PTPEnabled        bool   `json:"ptp_enabled"`
	PTPStatus         string `json:"ptp_status"`
	PTPStatusAuto     string `json:"ptp_status_auto"`
	PTPStatusForced   bool   `json:"ptp_status_forced"`
	PTPDomain         uint8  `json:"ptp_domain"`
	PTPClockID        string `json:"ptp_clock_id"`
	PTPGrandmasterID  string `json:"ptp_grandmaster_id"`
	AnnouncesHeard    uint64 `json:"announces_heard"`
	OffsetFromMasterN int64  `json:"ptp_offset_from_master_ns"`

	Timescale   string  `json:"timescale"`
	UTCOffset   int64   `json:"utc_offset_s"`
	OffsetNS    int64   `json:"offset_ns"`
	DriftPPM    float64 `json:"drift_ppm"`
	DriftNS     int64   `json:"drift_ns"`
	JitterNS    int64   `json:"jitter_ns"`
	DeviceTime  uint64  `json:"device_time_ns"`
	HostTimeNS  int64   `json:"host_time_ns"`
	LatchedTime uint64  `json:"latched_time_ns"`

	Width       uint32  `json:"width"`
	Height      uint32  `json:"height"`
	PixelFormat string  `json:"pixel_format"`
	FrameRate   float64 `json:"frame_rate"`
	Acquiring   bool    `json:"acquiring"`
	TriggerMode string  `json:"trigger_mode"`
	TriggerSrc  string  `json:"trigger_source"`
	Destination string  `json:"stream_destination"`
	PacketSize  uint32  `json:"packet_size"`
	Controller  string  `json:"controller"`

	Unplugged   bool    `json:"unplugged"`
	DropPercent float64 `json:"drop_percent"`

	FramesSent      uint64 `json:"frames_sent"`
	FramesOverrun   uint64 `json:"frames_overrun"`
	PacketsSent     uint64 `json:"packets_sent"`
	PacketsDropped  uint64 `json:"packets_dropped"`
	PacketsResent   uint64 `json:"packets_resent"`
	ResendRequests  uint64 `json:"resend_requests"`
	StreamErrors    uint64 `json:"stream_errors"`
	Latches         uint64 `json:"latches"`
	TimestampResets uint64 `json:"timestamp_resets"`
	PTPLatches      uint64 `json:"ptp_data_set_latches"`
	ActionsFired    uint64 `json:"actions_fired"`
	ActionCommands  uint64 `json:"action_commands"`
	ActionsLate     uint64 `json:"actions_late"`
	SchedulerActive bool   `json:"scheduler_active"`
	SchedulerSkip   uint64 `json:"scheduler_skipped"`
	SoftTriggers    uint64 `json:"software_triggers"`
	GVCPCommands    uint64 `json:"gvcp_commands"`
	GVCPDropped     uint64 `json:"gvcp_dropped"`
	GVCPErrors      uint64 `json:"gvcp_errors"`
	AccessDenied    uint64 `json:"access_denied"`
}

func clockIDString(v uint64) string {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (56 - 8*i))
	}
	// linuxptp's notation: 001122.fffe.334455
	return fmt.Sprintf("%02x%02x%02x.%02x%02x.%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7])
}

func (c *camera) state() State {
	ps := c.ptp.snapshot()
	cs := c.clock.state()
	ts := "tai"
	if !cs.TAI {
		ts = "utc"
	}
	c.mu.Lock()
	s := State{
		Serial: c.cfg.Serial, Profile: string(c.cfg.Profile), Address: c.cfg.Address.String(),
		Interface: c.cfg.Interface, MAC: c.cfg.MAC.String(),
		Width: c.width, Height: c.height, FrameRate: c.frameRate, Acquiring: c.acquiring,
		Destination: c.destLocked().String(), PacketSize: c.words[regSCP0PacketSize] & 0xFFFF, LatchedTime: c.latched,
		TriggerMode: []string{"Off", "On"}[c.trigMode&1],
		TriggerSrc:  []string{"Software", "Action0", "Line0", "?"}[min(c.trigSource, 3)],
	}
	if c.ccp.held() {
		s.Controller = c.ccp.owner.String()
	}
	switch c.pixelFormat {
	case PixelFormatMono8:
		s.PixelFormat = "Mono8"
	case PixelFormatBayerGR8:
		s.PixelFormat = "BayerGR8"
	}
	c.mu.Unlock()
	s.PTPEnabled, s.PTPStatus, s.PTPStatusAuto, s.PTPStatusForced = ps.Enabled, ps.Status.String(), ps.Auto.String(), ps.Forced
	s.PTPDomain, s.PTPClockID, s.PTPGrandmasterID, s.AnnouncesHeard = ps.Domain, clockIDString(ps.Own), clockIDString(ps.GM), ps.Heard
	s.OffsetFromMasterN = offsetFromMaster(ps.Status, c.clock.Error())
	s.Timescale, s.UTCOffset, s.OffsetNS, s.DriftPPM, s.DriftNS, s.JitterNS = ts, cs.UTCOffset, int64(cs.Offset), cs.PPM, int64(cs.Drift), int64(cs.Jitter)
	s.DeviceTime, s.HostTimeNS = c.clock.Read(), time.Now().UnixNano()
	s.Unplugged = c.unplugged.Load()
	s.DropPercent = float64(c.str.dropPermille.Load()) / 10
	s.FramesSent, s.FramesOverrun = c.str.framesSent.Load(), c.str.framesOverrun.Load()
	s.PacketsSent, s.PacketsDropped, s.PacketsResent = c.str.packetsSent.Load(), c.str.packetsDropped.Load(), c.str.packetsResent.Load()
	s.ResendRequests, s.StreamErrors = c.str.resendRequests.Load(), c.str.sendErrors.Load()
	s.Latches, s.TimestampResets, s.PTPLatches = c.latches.Load(), c.timestampReset.Load(), c.ptpLatches.Load()
	s.ActionsFired, s.ActionCommands, s.ActionsLate = c.actionsFired.Load(), c.actionCmds.Load(), c.actionsLate.Load()
	s.SchedulerActive, s.SchedulerSkip, s.SoftTriggers = c.sched.active(), c.sched.skipped.Load(), c.softTriggers.Load()
	s.GVCPCommands, s.GVCPDropped, s.GVCPErrors, s.AccessDenied = c.gvcpCommands.Load(), c.gvcpDropped.Load(), c.gvcpErrors.Load(), c.accessDenied.Load()
	return s
}

// control is one fault-injection key: apply parses value and sets it.
type control struct {
	key   string
	apply func(c *camera, key, value string, exit func()) error
}

// controls are the keys, in the order a request applies them whatever the
// order of its form (exit last).
var controls = []control{
	{"ptp-domain", func(c *camera, key, v string, _ func()) error {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", key, v, err)
		}
		c.ptp.setDomain(uint8(n))
		return nil
	}},
	{"ptp-enable", boolControl(func(c *camera, b bool) { c.ptp.setEnabled(b) })},
	{"offset", durationControl(func(c *camera, d time.Duration) { c.clock.SetOffset(d) })},
	{"step", durationControl(func(c *camera, d time.Duration) { c.clock.Step(d) })},
	{"drift-ppm", func(c *camera, key, v string, _ func()) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < -1e5 || f > 1e5 {
			return fmt.Errorf("%s=%q: not a number of ppm in ±100000", key, v)
		}
		c.clock.SetDrift(f)
		return nil
	}},
	{"jitter", durationControl(func(c *camera, d time.Duration) { c.clock.SetJitter(d) })},
	{"ptp-status", func(c *camera, key, v string, _ func()) error {
		if strings.EqualFold(v, "auto") {
			c.ptp.force(0)
			return nil
		}
		s, err := ParsePTPStatus(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", key, v, err)
		}
		c.ptp.force(s)
		return nil
	}},
	{"drop-percent", func(c *camera, key, v string, _ func()) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 100 {
			return fmt.Errorf("%s=%q: not a percentage", key, v)
		}
		c.str.setDropPercent(f)
		return nil
	}},
	{"unplugged", boolControl(func(c *camera, b bool) {
		c.unplugged.Store(b)
		c.ptp.setDeaf(b)
	})},
	{"exit", func(_ *camera, _, _ string, exit func()) error { exit(); return nil }},
}

func durationControl(set func(*camera, time.Duration)) func(*camera, string, string, func()) error {
	return func(c *camera, key, v string, _ func()) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", key, v, err)
		}
		set(c, d)
		return nil
	}
}

func boolControl(set func(*camera, bool)) func(*camera, string, string, func()) error {
	return func(c *camera, key, v string, _ func()) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", key, v, err)
		}
		set(c, b)
		return nil
	}
}

// applyControl performs one fault-injection setting.
func (c *camera) applyControl(key, value string, exit func()) error {
	for _, ctl := range controls {
		if ctl.key == key {
			if err := ctl.apply(c, key, value, exit); err != nil {
				return err
			}
			c.log.Info("control", key, value)
			return nil
		}
	}
	return fmt.Errorf("unknown control %q", key)
}

// controlKeys are the keys of controls, in their order.
func controlKeys() []string {
	keys := make([]string, len(controls))
	for i, ctl := range controls {
		keys[i] = ctl.key
	}
	return keys
}

func (c *camera) controlHandler(exit func()) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.state())
	})
	mux.HandleFunc("POST /control", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		keys := controlKeys()
		for k := range r.PostForm {
			if !slices.Contains(keys, k) {
				http.Error(w, fmt.Sprintf("unknown control %q (known: %s)", k, strings.Join(keys, ", ")), http.StatusBadRequest)
				return
			}
		}
		for _, k := range keys {
			if vs, ok := r.PostForm[k]; ok {
				if err := c.applyControl(k, vs[len(vs)-1], exit); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.state())
	})
	return mux
}

// controlListener opens the fault-injection endpoint: a unix socket, or TCP
// on a loopback address only, because it is unauthenticated.
func controlListener(addr string) (net.Listener, error) {
	if p, ok := unixPath(addr); ok {
		_ = os.Remove(p) // a stale socket of a crashed run
		l, err := net.Listen("unix", p)
		if err != nil {
			return nil, fmt.Errorf("control endpoint %s: %w", addr, err)
		}
		return l, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("control endpoint %q: want unix:/path, /path or 127.0.0.1:PORT: %w", addr, err)
	}
	if !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("control endpoint %s: refusing a non-loopback address", addr)
	}
	l, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("control endpoint %s: %w", addr, err)
	}
	return l, nil
}

func unixPath(addr string) (string, bool) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		return p, true
	}
	if strings.HasPrefix(addr, "/") {
		return addr, true
	}
	return "", false
}

// ControlClient talks to a camsim's control endpoint.
type ControlClient struct {
	base string
	hc   *http.Client
}

// DialControl returns a client for the endpoint addr ("unix:/path", "/path"
// or "127.0.0.1:PORT"). It connects lazily, on each request.
func DialControl(addr string) *ControlClient {
	tr := &http.Transport{}
	base := "http://" + addr
	if p, ok := unixPath(addr); ok {
		base = "http://camsim"
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p)
		}
	}
	return &ControlClient{base: base, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// State fetches the simulator state.
func (c *ControlClient) State(ctx context.Context) (State, error) {
	var s State
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/state", nil)
	if err != nil {
		return s, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return s, fmt.Errorf("camsim control %s: state: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return s, fmt.Errorf("camsim control %s: state: %s: %s", c.base, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("camsim control %s: decoding state: %w", c.base, err)
	}
	return s, nil
}

// Set applies one control (see the package documentation for keys).
func (c *ControlClient) Set(ctx context.Context, key, value string) error {
	return c.SetMany(ctx, url.Values{key: {value}})
}

// SetMany applies several controls in one request.
func (c *ControlClient) SetMany(ctx context.Context, v url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/control", strings.NewReader(v.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		// exit=1 may close the connection before the answer arrives.
		if v.Has("exit") && (errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection reset")) {
			return nil
		}
		return fmt.Errorf("camsim control %s: %s: %w", c.base, v.Encode(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("camsim control %s: %s: %s: %s", c.base, v.Encode(), resp.Status, strings.TrimSpace(string(b)))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

package collector

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/pmc"
)

// Camera is what the camera collector needs of a camera; *genicam.Camera
// has it, unit tests use a fake.
type Camera interface {
	Info() genicam.DeviceInfo
	PTPAvailable() bool
	EnablePTP(ctx context.Context, on bool) error
	PTPEnabled(ctx context.Context) (bool, error)
	PTPStatus(ctx context.Context) (genicam.PTPStatus, error)
	PTPDataSet(ctx context.Context) (genicam.PTPDataSet, error)
	Latch(ctx context.Context) (genicam.LatchSample, error)
	Close() error
}

// capabilitiesCamera is what cameras that know their capabilities (found
// at open) add; *genicam.Camera has it.
type capabilitiesCamera interface {
	Capabilities() genicam.Capabilities
}

// CameraSource finds and opens cameras.
type CameraSource interface {
	Discover(ctx context.Context) ([]genicam.DeviceInfo, error)
	Open(ctx context.Context, info genicam.DeviceInfo) (Camera, error)
}

// Reference is the host clock's standing as the reference of the latch
// deltas, read from ptp4l.
type Reference struct {
	// Valid: the host is the grandmaster, or a slave synchronized to it; in
	// any other state the host clock says nothing about the domain's time.
	Valid bool
	// PTPTimescale is the domain's ptpTimescale: its time is TAI.
	PTPTimescale bool
	// UTCOffset is currentUtcOffset (TAI - UTC) in seconds.
	UTCOffset int16
}

// HostReference reads the Reference.
type HostReference interface {
	Reference(ctx context.Context) (Reference, error)
}

// CameraConfig configures the camera collector.
type CameraConfig struct {
	// Serials to watch; empty means every discovered camera, up to Max.
	Serials []string
	Max     int
	// Interval between samples. Cameras are hardware on a shared link: each
	// is latched once per Interval whatever the number of scrapers.
	Interval time.Duration
	// Timeout of one camera's sample; a camera that does not answer within
	// it is down for this round and reconnected with backoff.
	Timeout time.Duration
	// EnablePTP turns PTP on in every camera that has it (it changes the
	// cameras, so only on request).
	EnablePTP bool
	// Timescale of the cameras: "auto" (the domain's: TAI when ptpTimescale
	// is set), "tai" or "utc". A TAI camera's delta is corrected by the
	// domain's currentUtcOffset, since the host's CLOCK_REALTIME is UTC.
	Timescale string
	// Rediscover is how often discovery runs again to find new cameras when
	// no serials are given.
	Rediscover time.Duration
}

func camDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "camera", name), help, append([]string{"serial"}, labels...), nil)
}

var (
	camInfoDesc        = camDesc("info", "Camera identity, value 1.", "model", "vendor", "address", "interface")
	camUpDesc          = camDesc("up", "Whether the camera answered its last sample.")
	camPTPAvailDesc    = camDesc("ptp_available", "Whether the camera exposes PTP features (SFNC Ptp* or GigE Vision GevIEEE1588*).")
	camPTPEnabledDesc  = camDesc("ptp_enabled", "Whether PTP is enabled in the camera.")
	camPTPStatusDesc   = camDesc("ptp_status", "PTP status of the camera (PtpStatus/GevIEEE1588Status); one series per status, the current one 1.", "status")
	camOffsetDesc      = camDesc("ptp_offset_from_master_seconds", "The camera's own offsetFromMaster, where it exposes one.")
	camGMDesc          = camDesc("ptp_grandmaster_info", "Grandmaster (or parent) clock identity the camera reports, value 1.", "grandmaster_identity")
	camDeltaDesc       = camDesc("clock_delta_seconds", "Camera clock minus host clock at a timestamp latch (camera time minus the midpoint of the host's bracket). TAI cameras are corrected by the domain's currentUtcOffset (TIME_PROPERTIES_DATA_SET), the host clock being UTC.")
	camUncertaintyDesc = camDesc("clock_delta_uncertainty_seconds", "Uncertainty of clock_delta_seconds: half the host's bracket around the latch.")
	camAgeDesc         = camDesc("clock_delta_sample_age_seconds", "Age of the last good latch sample.")
	camLatchesDesc     = camDesc("latches_total", "Timestamp latches sent to the camera.")
	camCorrectionDesc  = camDesc("clock_delta_timescale_correction_seconds", "What was subtracted from the raw delta for the timescale: currentUtcOffset for TAI cameras, else 0.")
	camCapsDesc        = camDesc("capabilities_info", "What the camera offers, found at open from its GenICam XML, value 1: PTP enable node and form, status latched or live, latch value unit, action support (scheduler, scheduled(queue=N), unscheduled, none), the TriggerSource entry of its action and every trigger source.",
		"ptp_form", "status", "latch_unit", "action", "action_trigger", "trigger_sources")
	camRefValidDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "camera", "host_reference_valid"),
		"1 when the host clock is a valid reference for the clock deltas: the host is grandmaster or a synchronized slave.", nil, nil)
)

// camState is what the sampler last saw of one camera.
type camState struct {
	info      genicam.DeviceInfo
	cam       Camera
	up        bool
	ptpAvail  bool
	caps      *genicam.Capabilities
	enabled   *bool
	status    genicam.PTPStatus
	hasStatus bool
	dataset   genicam.PTPDataSet
	delta     time.Duration
	halfBr    time.Duration
	corr      time.Duration
	sampledAt time.Time // last good latch
	latches   uint64
	failures  int
	retryAt   time.Time
	lastErr   error
	// held: another application controlled the camera at the last sample.
	held *holder
	// pendingEnable: PTP is to be enabled at the first sample that takes
	// control (a camera opened for monitoring has none at open).
	pendingEnable bool
}

// CameraCollector samples cameras on its own schedule (Run) and reports the
// last sample on every scrape, so scrapes never touch the cameras.
type CameraCollector struct {
	cfg    CameraConfig
	src    CameraSource
	ref    HostReference
	logger *slog.Logger
	now    func() time.Time

	mu         sync.RWMutex
	cams       map[string]*camState
	refValid   *bool
	discovered time.Time

	// closing counts cameras being closed outside mu: closing a camera
	// that stopped answering can take Aravis seconds (it leaves control
	// and stops its heartbeat against timeouts), and scrapes need mu.
	closing sync.WaitGroup
}

// NewCameraCollector returns the collector; Run starts sampling.
func NewCameraCollector(logger *slog.Logger, src CameraSource, ref HostReference, cfg CameraConfig) (*CameraCollector, error) {
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("camera collector: interval %v must be > 0", cfg.Interval)
	}
	if cfg.Timeout <= 0 || cfg.Timeout > cfg.Interval {
		cfg.Timeout = min(2*time.Second, cfg.Interval)
	}
	if cfg.Max <= 0 {
		cfg.Max = 8
	}
	if cfg.Rediscover <= 0 {
		cfg.Rediscover = time.Minute
	}
	switch cfg.Timescale {
	case "":
		cfg.Timescale = "auto"
	case "auto", "tai", "utc":
	default:
		return nil, fmt.Errorf("camera collector: timescale %q: want auto, tai or utc", cfg.Timescale)
	}
	c := &CameraCollector{cfg: cfg, src: src, ref: ref, logger: logger, now: time.Now, cams: map[string]*camState{}}
	seen := map[string]bool{}
	for _, s := range cfg.Serials {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("camera collector: serial %q empty or given twice", s)
		}
		seen[s] = true
		c.cams[s] = &camState{info: genicam.DeviceInfo{Serial: s}}
	}
	return c, nil
}

// Run samples every Interval until ctx ends, then closes the cameras.
func (c *CameraCollector) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.Sample(ctx)
		select {
		case <-ctx.Done():
			c.mu.Lock()
			for _, s := range c.cams {
				if s.cam != nil {
					s.cam.Close()
					s.cam = nil
				}
			}
			c.mu.Unlock()
			c.closing.Wait()
			return
		case <-t.C:
		}
	}
}

// Sample takes one round: (re)connects what is missing, then reads and
// latches every open camera concurrently, each bounded by Timeout.
func (c *CameraCollector) Sample(ctx context.Context) {
	now := c.now()
	c.connect(ctx, now)

	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	ref, refErr := c.ref.Reference(rctx)
	cancel()
	c.mu.Lock()
	if refErr != nil {
		c.refValid = nil
		c.logger.Debug("host reference unavailable", "err", refErr)
	} else {
		v := ref.Valid
		c.refValid = &v
	}
	var todo []*camState
	for _, s := range c.cams {
		if s.cam != nil {
			todo = append(todo, s)
		}
	}
	c.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
			defer cancel()
			c.sampleOne(sctx, s, ref, refErr == nil)
		}()
	}
	wg.Wait()
	// Cameras that failed this round are closed before the next one
	// reconnects them, without holding mu (scrapes go on meanwhile).
	c.closing.Wait()
}

// connect opens configured or discovered cameras that are not open and whose
// backoff has passed.
func (c *CameraCollector) connect(ctx context.Context, now time.Time) {
	c.mu.RLock()
	need := false
	for _, s := range c.cams {
		if s.cam == nil && !now.Before(s.retryAt) {
			need = true
		}
	}
	auto := len(c.cfg.Serials) == 0
	if auto && (len(c.cams) < c.cfg.Max && now.Sub(c.discovered) >= c.cfg.Rediscover) {
		need = true
	}
	c.mu.RUnlock()
	if !need {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, max(c.cfg.Timeout, 3*time.Second))
	infos, err := c.src.Discover(dctx)
	cancel()
	if err != nil {
		c.logger.Error("camera discovery failed", "err", err)
		return
	}
	c.mu.Lock()
	c.discovered = now
	// The serials' cameras, or every one up to Max: the selection every
	// command makes (genicam.Selection), except that a missing serial is a
	// camera down, not an error.
	picked, _ := genicam.Selection{Serials: c.cfg.Serials}.Match(infos)
	byserial := map[string]genicam.DeviceInfo{}
	for _, in := range picked {
		byserial[in.Serial] = in
		if _, ok := c.cams[in.Serial]; !ok && auto && len(c.cams) < c.cfg.Max {
			c.cams[in.Serial] = &camState{info: in}
		}
	}
	var open []*camState
	for serial, s := range c.cams {
		in, found := byserial[serial]
		if s.cam != nil || now.Before(s.retryAt) {
			continue
		}
		if !found {
			c.failed(s, now, fmt.Errorf("camera %s not found by discovery", serial))
			continue
		}
		s.info = in
		open = append(open, s)
	}
	c.mu.Unlock()

	for _, s := range open {
		c.open(ctx, s, now)
	}
}

// open opens one camera. A camera opened for monitoring has PTP enabled at
// its first sample with control; any other at once.
func (c *CameraCollector) open(ctx context.Context, s *camState, now time.Time) {
	octx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	cam, err := c.src.Open(octx, s.info)
	_, monitor := cam.(controlCamera)
	enable := err == nil && c.cfg.EnablePTP && cam.PTPAvailable()
	if enable && !monitor {
		if err = cam.EnablePTP(octx, true); err != nil {
			cam.Close()
			cam = nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failed(s, now, err)
		return
	}
	s.cam, s.failures = cam, 0
	s.pendingEnable = enable && monitor
	s.ptpAvail = cam.PTPAvailable()
	s.caps = nil
	if cc, ok := cam.(capabilitiesCamera); ok {
		cp := cc.Capabilities()
		s.caps = &cp
	}
	c.logger.Info("camera connected", "serial", s.info.Serial, "address", s.info.Address, "ptp_available", s.ptpAvail,
		"monitoring", monitor, "capabilities", capsString(s.caps))
}

// failed marks a camera down and schedules its reconnection with
// exponential backoff (Interval, 2×, 4×, ... at most 60 s). Called with mu held.
func (c *CameraCollector) failed(s *camState, now time.Time, err error) {
	if s.up || s.failures == 0 {
		c.logger.Error("camera unreachable", "serial", s.info.Serial, "err", err)
	}
	s.up, s.lastErr, s.held = false, err, nil
	if cam := s.cam; cam != nil {
		s.cam = nil
		c.closing.Go(func() { cam.Close() })
	}
	s.failures++
	backoff := c.cfg.Interval << min(s.failures-1, 6)
	s.retryAt = now.Add(min(backoff, time.Minute))
}

func (c *CameraCollector) sampleOne(ctx context.Context, s *camState, ref Reference, refOK bool) {
	cam := s.cam
	if cc, ok := cam.(controlCamera); ok {
		leave, err := c.takeControl(ctx, s, cc)
		if err != nil {
			return
		}
		defer leave()
	}
	rd, err := c.read(ctx, s, cam)
	if err != nil {
		c.sampleFailed(s, err)
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.up {
		c.logger.Info("camera answers", "serial", s.info.Serial)
	}
	s.up, s.failures, s.lastErr, s.held = true, 0, nil, nil
	s.enabled, s.status, s.hasStatus, s.dataset = rd.enabled, rd.status, rd.hasStatus, rd.dataset
	if rd.latched {
		var corr time.Duration
		if c.cameraTAI(ref, refOK) {
			corr = time.Duration(ref.UTCOffset) * time.Second
		}
		s.delta = rd.latch.Offset() - corr
		s.halfBr = rd.latch.HalfBracket()
		s.corr = corr
		s.sampledAt = c.now()
	}
}

// reading is one sample's reads of a camera the collector may write to.
type reading struct {
	enabled   *bool
	status    genicam.PTPStatus
	hasStatus bool
	dataset   genicam.PTPDataSet
	latch     genicam.LatchSample
	latched   bool
}

// read takes the PTP reads and the latch of one sample; an error is the
// camera failing this round.
func (c *CameraCollector) read(ctx context.Context, s *camState, cam Camera) (reading, error) {
	var rd reading
	if s.ptpAvail {
		// The data set first: its latch freezes a latched status too, so
		// the status read next is this round's, not the last one's (the
		// camera's PTPStatus also latches where the status is latched).
		ds, err := cam.PTPDataSet(ctx)
		if err != nil && !errors.Is(err, genicam.ErrNotAvailable) {
			return rd, err
		}
		rd.dataset = ds
		// A status-only camera's enable may not read; its status still
		// does, so a failed enable read leaves ptp_enabled out, no more.
		rd.enabled = c.readEnabled(ctx, s, cam)
		if rd.status, err = cam.PTPStatus(ctx); err == nil {
			rd.hasStatus = true
		} else if !errors.Is(err, genicam.ErrNotAvailable) {
			return rd, err
		}
	}
	// The narrowest bracket of a few latches: one slow round trip on a
	// loaded host does not widen the exported uncertainty.
	latch, n, lerr := genicam.BestLatch(ctx, cam, genicam.LatchPolicy{})
	c.mu.Lock()
	s.latches += uint64(n)
	c.mu.Unlock()
	if lerr != nil && !errors.Is(lerr, genicam.ErrNotAvailable) {
		return rd, lerr
	}
	rd.latch, rd.latched = latch, lerr == nil
	return rd, nil
}

// readEnabled reads PTP enable; nil when it does not read.
func (c *CameraCollector) readEnabled(ctx context.Context, s *camState, cam Camera) *bool {
	en, err := cam.PTPEnabled(ctx)
	if err == nil {
		return &en
	}
	if !errors.Is(err, genicam.ErrNotAvailable) {
		c.logger.Debug("camera PTP enable unreadable", "serial", s.info.Serial, "err", err)
	}
	return nil
}

func (c *CameraCollector) cameraTAI(ref Reference, refOK bool) bool {
	switch c.cfg.Timescale {
	case "tai":
		return true
	case "utc":
		return false
	}
	return refOK && ref.PTPTimescale
}

func (c *CameraCollector) sampleFailed(s *camState, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed(s, c.now(), err)
}

// Update implements Collector from the last sample, without camera I/O.
func (c *CameraCollector) Update(ch chan<- prometheus.Metric) error {
	for _, m := range c.metrics() {
		ch <- m
	}
	return nil
}

// metrics builds the metrics under the read lock; they are sent after it is
// released, so that slow scrapers never hold up the sampler.
func (c *CameraCollector) metrics() []prometheus.Metric {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	if c.refValid != nil {
		gauge(camRefValidDesc, boolf(*c.refValid))
	}
	serials := make([]string, 0, len(c.cams))
	for s := range c.cams {
		serials = append(serials, s)
	}
	slices.Sort(serials)
	now := c.now()
	for _, serial := range serials {
		s := c.cams[serial]
		in := s.info
		if in.Address != "" {
			gauge(camInfoDesc, 1, serial, cmp.Or(in.Model, "unknown"), cmp.Or(in.Vendor, "unknown"), in.Address, cmp.Or(in.Interface, "unknown"))
		}
		gauge(camUpDesc, boolf(s.up), serial)
		out = append(out, prometheus.MustNewConstMetric(camLatchesDesc, prometheus.CounterValue, float64(s.latches), serial))
		if s.cam == nil && !s.up && s.sampledAt.IsZero() && !s.ptpAvail {
			continue
		}
		gauge(camPTPAvailDesc, boolf(s.ptpAvail), serial)
		if s.caps != nil {
			cp := s.caps
			gauge(camCapsDesc, 1, serial, cp.PTPForm, cp.StatusMode(), string(cp.LatchUnit), cp.ActionLabel(),
				cmp.Or(cp.ActionTrigger, "none"), cmp.Or(strings.Join(cp.TriggerSources, ","), "none"))
		}
		if !s.up {
			continue
		}
		if s.held != nil {
			gauge(camControllerDesc, 1, append([]string{serial}, s.held.labels()...)...)
		}
		if s.enabled != nil {
			gauge(camPTPEnabledDesc, boolf(*s.enabled), serial)
		}
		if s.hasStatus {
			cur := s.status
			if _, raw := cur.Raw(); raw {
				cur = genicam.PTPUnknown // a value with no entry: unknown(N)
			}
			for _, st := range allPTPStatuses {
				gauge(camPTPStatusDesc, boolf(st == cur), serial, statusLabel(st))
			}
		}
		if s.dataset.HasOffsetFromMaster {
			gauge(camOffsetDesc, s.dataset.OffsetFromMaster.Seconds(), serial)
		}
		if s.dataset.HasGrandmasterID {
			var id pmc.ClockIdentity
			binary.BigEndian.PutUint64(id[:], s.dataset.GrandmasterID)
			gauge(camGMDesc, 1, serial, id.String())
		}
		if !s.sampledAt.IsZero() {
			gauge(camDeltaDesc, s.delta.Seconds(), serial)
			gauge(camUncertaintyDesc, s.halfBr.Seconds(), serial)
			gauge(camCorrectionDesc, s.corr.Seconds(), serial)
			gauge(camAgeDesc, now.Sub(s.sampledAt).Seconds(), serial)
		}
	}
	return out
}

var allPTPStatuses = []genicam.PTPStatus{
	genicam.PTPInitializing, genicam.PTPFaulty, genicam.PTPDisabled, genicam.PTPListening, genicam.PTPPreMaster,
	genicam.PTPMaster, genicam.PTPPassive, genicam.PTPUncalibrated, genicam.PTPSlave, genicam.PTPUnknown,
}

func statusLabel(s genicam.PTPStatus) string { return strings.ToLower(s.String()) }

func capsString(c *genicam.Capabilities) string {
	if c == nil {
		return "unknown"
	}
	return c.String()
}

// PMCReference reads the host reference from the first ptp4l socket.
type PMCReference struct {
	cfg pmc.Config
	mu  sync.Mutex
	cl  *pmc.Client
}

// NewPMCReference returns a HostReference reading ptp4l at cfg.Socket.
func NewPMCReference(cfg pmc.Config) *PMCReference { return &PMCReference{cfg: cfg} }

// Reference implements HostReference.
func (r *PMCReference) Reference(ctx context.Context) (Reference, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cl == nil {
		cl, err := pmc.Dial(r.cfg)
		if err != nil {
			return Reference{}, err
		}
		r.cl = cl
	}
	snap, err := r.cl.Snapshot(ctx)
	if err != nil {
		r.cl.Close()
		r.cl = nil
		return Reference{}, err
	}
	role := pmc.InferRole(snap)
	return Reference{
		Valid:        role == pmc.RoleGrandmaster || role == pmc.RoleSlave,
		PTPTimescale: snap.TimeProperties.PTPTimescale,
		UTCOffset:    snap.TimeProperties.CurrentUTCOffset,
	}, nil
}

// Close releases the client.
func (r *PMCReference) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cl != nil {
		return r.cl.Close()
	}
	return nil
}

// AravisSource is the CameraSource of real cameras through genicam.
type AravisSource struct {
	// Interface restricts discovery to one host interface ("" = all).
	Interface string
}

// Discover implements CameraSource.
func (a AravisSource) Discover(ctx context.Context) ([]genicam.DeviceInfo, error) {
	return genicam.Discover(ctx, a.Interface)
}

// Open implements CameraSource: by address, which sends no broadcast
// (genicam.OpenDevice), for monitoring: the collector takes control only for
// a sample's writes, so the camera is free for a take between samples.
func (a AravisSource) Open(ctx context.Context, info genicam.DeviceInfo) (Camera, error) {
	cam, err := genicam.OpenDevice(ctx, info, genicam.Monitor())
	if err != nil {
		return nil, err
	}
	return cam, nil
}

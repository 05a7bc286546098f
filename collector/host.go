package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ptpcam/ptpcam/pmc"
)

// HostConfig configures the host collector.
type HostConfig struct {
	// Sockets are the management sockets of the ptp4l instances to watch
	// (one per NIC or domain is common). Every host metric carries a socket
	// label.
	Sockets []string
	// PMC is the template for every client; its Socket is replaced.
	PMC pmc.Config
	// PollInterval is how often the background poller reads each ptp4l
	// between scrapes, so that changes and offset peaks shorter than the
	// scrape interval are still seen.
	PollInterval time.Duration
	// OffsetWindow is the window of ptpcam_ptp_offset_from_master_max_abs_seconds.
	OffsetWindow time.Duration
	// ExpectGrandmaster says the operator expects every ptp4l watched to be
	// the grandmaster (the usual rig); alerts compare it with the role.
	ExpectGrandmaster bool
	// ScrapeTimeout bounds one Update: a snapshot and the two statistics
	// exchanges of every socket, read in parallel. Zero: three times
	// PMC.Timeout (pmc.DefaultTimeout when that is zero too).
	ScrapeTimeout time.Duration
}

func hostDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "ptp", name), help, append([]string{"socket"}, labels...), nil)
}

var (
	hostUpDesc          = hostDesc("up", "Whether ptp4l's management socket answered (1) or not (0).")
	hostClockInfoDesc   = hostDesc("clock_info", "Identity and domain of the local PTP clock (DEFAULT_DATA_SET).", "clock_identity", "domain")
	hostRoleDesc        = hostDesc("role", "Role of the local clock inferred from port states, stepsRemoved and identities; one series per role, the current one 1.", "role")
	hostPortStateDesc   = hostDesc("port_state", "PTP port state (PORT_DATA_SET); one series per state, the current one 1.", "port", "interface", "state")
	hostPortChangesDesc = hostDesc("port_state_changes_total", "Port state changes observed by the exporter's poller since it started.", "port", "interface")
	hostOffsetDesc      = hostDesc("offset_from_master_seconds", "offsetFromMaster of CURRENT_DATA_SET.")
	hostOffsetMaxDesc   = hostDesc("offset_from_master_max_abs_seconds", "Largest |offsetFromMaster| polled within the offset window (--ptp.offset-window).")
	hostPathDelayDesc   = hostDesc("mean_path_delay_seconds", "meanPathDelay of CURRENT_DATA_SET.")
	hostStepsDesc       = hostDesc("steps_removed", "stepsRemoved of CURRENT_DATA_SET: boundary clocks between this clock and the grandmaster (0 when this clock is the grandmaster).")
	hostGMInfoDesc      = hostDesc("grandmaster_info", "Grandmaster identity (PARENT_DATA_SET), value 1.", "grandmaster_identity")
	hostGMChangesDesc   = hostDesc("grandmaster_changes_total", "Grandmaster identity changes observed by the exporter's poller since it started.")
	hostGMPresentDesc   = hostDesc("grandmaster_present", "gmPresent of TIME_STATUS_NP: 1 when a remote grandmaster is synchronizing this clock, 0 when this clock is the grandmaster or has none.")
	hostGMClassDesc     = hostDesc("grandmaster_clock_class", "clockClass of the grandmaster (PARENT_DATA_SET).")
	hostGMPriority1Desc = hostDesc("grandmaster_priority1", "priority1 of the grandmaster (PARENT_DATA_SET).")
	hostClassDesc       = hostDesc("clock_class", "clockClass of the local clock (DEFAULT_DATA_SET).")
	hostUTCOffsetDesc   = hostDesc("current_utc_offset_seconds", "currentUtcOffset of TIME_PROPERTIES_DATA_SET: TAI minus UTC.")
	hostUTCValidDesc    = hostDesc("current_utc_offset_valid", "currentUtcOffsetValid of TIME_PROPERTIES_DATA_SET.")
	hostTimescaleDesc   = hostDesc("timescale", "Timescale of the domain (TIME_PROPERTIES_DATA_SET ptpTimescale): ptp (TAI) or arb; the current one 1.", "timescale")
	hostSyncAgeDesc     = hostDesc("sync_age_seconds", "Seconds since TIME_STATUS_NP ingress_time last moved, i.e. since the last Sync from the grandmaster was processed. Only while a remote grandmaster is present.")
	hostExpectGMDesc    = hostDesc("expected_grandmaster", "1 when the operator expects this ptp4l to be the grandmaster (--ptp.expect-grandmaster).")
	hostLastSuccessDesc = hostDesc("last_success_timestamp_seconds", "Unix time of the last successful read of the management socket.")
)

// HostCollector reads every configured ptp4l natively over its management
// socket on each scrape.
type HostCollector struct {
	sources []*hostSource
	cfg     HostConfig
}

// scrapeTimeout is ScrapeTimeout with its default.
func (c *HostCollector) scrapeTimeout() time.Duration {
	switch {
	case c.cfg.ScrapeTimeout > 0:
		return c.cfg.ScrapeTimeout
	case c.cfg.PMC.Timeout > 0:
		return 3 * c.cfg.PMC.Timeout
	}
	return 3 * pmc.DefaultTimeout
}

// expectGM is ExpectGrandmaster as a value.
func (c *HostCollector) expectGM() float64 { return boolf(c.cfg.ExpectGrandmaster) }

// NewHostCollector returns the host collector. Nothing is dialled yet: ptp4l
// may come up after the exporter.
func NewHostCollector(logger *slog.Logger, cfg HostConfig) (*HostCollector, error) {
	if len(cfg.Sockets) == 0 {
		return nil, errors.New("host collector: no ptp4l management socket configured")
	}
	if cfg.OffsetWindow <= 0 {
		cfg.OffsetWindow = time.Minute
	}
	if cfg.ScrapeTimeout < 0 {
		return nil, fmt.Errorf("host collector: scrape timeout %v is negative", cfg.ScrapeTimeout)
	}
	c := &HostCollector{cfg: cfg}
	seen := map[string]bool{}
	for _, s := range cfg.Sockets {
		if seen[s] {
			return nil, fmt.Errorf("host collector: socket %s given twice", s)
		}
		seen[s] = true
		pc := cfg.PMC
		pc.Socket = s
		c.sources = append(c.sources, &hostSource{cfg: pc, window: cfg.OffsetWindow, logger: logger.With("socket", s), now: time.Now})
	}
	return c, nil
}

// Run polls every socket each PollInterval until ctx ends, so that state
// changes and offset peaks between scrapes are counted. Without Run the
// counters only see what scrapes see.
func (c *HostCollector) Run(ctx context.Context) {
	if c.cfg.PollInterval <= 0 {
		return
	}
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		for _, s := range c.sources {
			_, _ = s.read(ctx, false)
		}
		select {
		case <-ctx.Done():
			for _, s := range c.sources {
				s.close()
			}
			return
		case <-t.C:
		}
	}
}

// Update implements Collector, bounded by the configured scrape timeout.
func (c *HostCollector) Update(ch chan<- prometheus.Metric) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.scrapeTimeout())
	defer cancel()
	return c.UpdateContext(ctx, ch)
}

// UpdateContext reads every ptp4l within ctx (and each exchange within
// PMC.Timeout). A ptp4l that does not answer is reported as
// ptpcam_ptp_up 0 and does not fail the collector.
func (c *HostCollector) UpdateContext(ctx context.Context, ch chan<- prometheus.Metric) error {
	var wg sync.WaitGroup
	for _, s := range c.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.collect(ctx, ch)
			ch <- prometheus.MustNewConstMetric(hostExpectGMDesc, prometheus.GaugeValue, c.expectGM(), s.cfg.Socket)
		}()
	}
	wg.Wait()
	return nil
}

type portKey struct {
	port  uint16
	iface string
}

type offsetSample struct {
	at  time.Time
	abs float64
}

// hostSource is one ptp4l: its client and what the exporter remembers between
// reads to count changes.
type hostSource struct {
	cfg    pmc.Config
	window time.Duration
	logger *slog.Logger
	now    func() time.Time // time.Now; tests inject a fixed clock

	mu          sync.Mutex
	client      *pmc.Client
	reachable   bool
	everRead    bool
	lastSuccess time.Time
	gm          pmc.ClockIdentity
	gmChanges   uint64
	ports       map[portKey]pmc.PortState
	portChanges map[portKey]uint64
	ingress     int64
	ingressAt   time.Time
	offsets     []offsetSample
	// stats is the last read of the statistics TLVs; noServiceStats is set
	// once ptp4l said it does not know PORT_SERVICE_STATS_NP.
	stats          portStats
	noServiceStats bool
}

// read takes a fresh snapshot and folds it into the remembered state; with
// stats (on scrapes, not polls: ptp4l's counters need no sampling between
// scrapes) it also reads the port statistics.
func (s *hostSource) read(ctx context.Context, stats bool) (*pmc.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.client == nil {
		cl, err := pmc.Dial(s.cfg)
		if err != nil {
			s.setReachable(false, err)
			return nil, err
		}
		s.client = cl
	}
	snap, err := s.client.Snapshot(ctx)
	if err != nil {
		// A fresh client next time: ptp4l may have been restarted.
		s.client.Close()
		s.client = nil
		s.setReachable(false, err)
		return nil, err
	}
	s.setReachable(true, nil)
	s.lastSuccess = now
	s.observe(snap, now)
	if stats {
		s.readStats(ctx, snap)
	}
	return snap, nil
}

func (s *hostSource) setReachable(ok bool, err error) {
	switch {
	case ok && !s.reachable:
		s.logger.Info("ptp4l management socket answers")
	case !ok && (s.reachable || !s.everRead):
		s.logger.Error("ptp4l management socket unreachable", "err", err)
	}
	s.reachable, s.everRead = ok, true
}

func (s *hostSource) observe(snap *pmc.Snapshot, now time.Time) {
	if s.ports == nil {
		s.ports = map[portKey]pmc.PortState{}
		s.portChanges = map[portKey]uint64{}
	} else if gm := snap.Parent.GrandmasterIdentity; gm != s.gm {
		s.gmChanges++
		s.logger.Warn("grandmaster changed", "from", s.gm, "to", gm)
	}
	s.gm = snap.Parent.GrandmasterIdentity
	for _, p := range snap.Ports {
		k := portKey{p.PortIdentity.PortNumber, p.Interface}
		old, seen := s.ports[k]
		switch {
		case !seen:
			s.portChanges[k] = 0
		case old != p.PortState:
			s.portChanges[k]++
			s.logger.Info("port state changed", "port", k.port, "interface", k.iface, "from", old, "to", p.PortState)
		}
		s.ports[k] = p.PortState
	}
	if in := snap.TimeStatus.IngressTime; in != s.ingress || s.ingressAt.IsZero() {
		s.ingress, s.ingressAt = in, now
	}
	off := snap.Current.OffsetFromMaster.Seconds()
	if off < 0 {
		off = -off
	}
	cut := 0
	for cut < len(s.offsets) && now.Sub(s.offsets[cut].at) > s.window {
		cut++
	}
	s.offsets = append(s.offsets[cut:], offsetSample{now, off})
}

func (s *hostSource) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
}

func (s *hostSource) collect(ctx context.Context, ch chan<- prometheus.Metric) {
	snap, err := s.read(ctx, true)
	for _, m := range s.metrics(snap, err) {
		ch <- m
	}
}

// metrics builds the metrics under the lock; they are sent after it is
// released, so that a slow scraper never holds up the poller.
func (s *hostSource) metrics(snap *pmc.Snapshot, err error) []prometheus.Metric {
	sock := s.cfg.Socket
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{sock}, labels...)...))
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{sock}, labels...)...))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastSuccess.IsZero() {
		gauge(hostLastSuccessDesc, float64(s.lastSuccess.UnixNano())/1e9)
	}
	// Counters outlive an outage: a restarted ptp4l must not reset them.
	if s.ports != nil {
		counter(hostGMChangesDesc, float64(s.gmChanges))
		for k, n := range s.portChanges {
			counter(hostPortChangesDesc, float64(n), strconv.Itoa(int(k.port)), ifaceLabel(k.iface))
		}
	}
	if err != nil {
		gauge(hostUpDesc, 0)
		return out
	}
	gauge(hostUpDesc, 1)
	gauge(hostClockInfoDesc, 1, snap.Default.ClockIdentity.String(), strconv.Itoa(int(snap.Default.DomainNumber)))
	role := pmc.InferRole(snap)
	for _, r := range pmc.AllRoles() {
		gauge(hostRoleDesc, boolf(r == role), roleLabel(r))
	}
	for _, p := range snap.Ports {
		port := strconv.Itoa(int(p.PortIdentity.PortNumber))
		for _, st := range pmc.AllPortStates() {
			gauge(hostPortStateDesc, boolf(st == p.PortState), port, ifaceLabel(p.Interface), stateLabel(st))
		}
	}
	gauge(hostOffsetDesc, snap.Current.OffsetFromMaster.Seconds())
	var maxAbs float64
	for _, o := range s.offsets {
		maxAbs = max(maxAbs, o.abs)
	}
	gauge(hostOffsetMaxDesc, maxAbs)
	gauge(hostPathDelayDesc, snap.Current.MeanPathDelay.Seconds())
	gauge(hostStepsDesc, float64(snap.Current.StepsRemoved))
	gauge(hostGMInfoDesc, 1, snap.Parent.GrandmasterIdentity.String())
	gauge(hostGMPresentDesc, boolf(snap.TimeStatus.GMPresent))
	gauge(hostGMClassDesc, float64(snap.Parent.GrandmasterClockQuality.ClockClass))
	gauge(hostGMPriority1Desc, float64(snap.Parent.GrandmasterPriority1))
	gauge(hostClassDesc, float64(snap.Default.ClockQuality.ClockClass))
	tp := snap.TimeProperties
	gauge(hostUTCOffsetDesc, float64(tp.CurrentUTCOffset))
	gauge(hostUTCValidDesc, boolf(tp.CurrentUTCOffsetValid))
	gauge(hostTimescaleDesc, boolf(tp.PTPTimescale), "ptp")
	gauge(hostTimescaleDesc, boolf(!tp.PTPTimescale), "arb")
	if snap.TimeStatus.GMPresent {
		gauge(hostSyncAgeDesc, s.now().Sub(s.ingressAt).Seconds())
	}
	s.statsMetrics(snap, gauge, counter)
	return out
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ifaceLabel avoids empty label values: ptp4l without PORT_PROPERTIES_NP
// answers leaves the interface unknown.
func ifaceLabel(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// roleLabel and stateLabel are the lower-case label values of the state sets.
func roleLabel(r pmc.Role) string { return strings.ToLower(r.String()) }

func stateLabel(s pmc.PortState) string { return strings.ToLower(s.String()) }

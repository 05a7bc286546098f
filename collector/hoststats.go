package collector

import (
	"context"
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ptpcam/ptpcam/pmc"
)

// ptp4l's own per-port counters (PORT_STATS_NP, and PORT_SERVICE_STATS_NP
// from linuxptp 4.0): they count since ptp4l started, so a restarted ptp4l
// resets them as any counter's reset.
var (
	hostPortMsgsDesc        = hostDesc("port_messages_total", "PTP messages received (direction rx) and sent (tx) by the port since ptp4l started, by messageType (PORT_STATS_NP).", "port", "interface", "direction", "type")
	hostAnnounceTimeoutDesc = hostDesc("port_announce_timeouts_total", "announceReceiptTimeout expiries of the port since ptp4l started (PORT_SERVICE_STATS_NP, linuxptp >= 4.0).", "port", "interface")
	hostSyncTimeoutDesc     = hostDesc("port_sync_timeouts_total", "Sync receipt timeouts of the port since ptp4l started: the master's Sync stopped arriving (PORT_SERVICE_STATS_NP, linuxptp >= 4.0).", "port", "interface")
	hostServiceStatsDesc    = hostDesc("port_service_stats_available", "1 when ptp4l answers PORT_SERVICE_STATS_NP (linuxptp >= 4.0), so that the timeout counters exist; 0 when it answered NO_SUCH_ID.")
)

// portStats is what one read of the statistics TLVs returned.
type portStats struct {
	msgs []pmc.PortStatsNP
	// service is nil when ptp4l does not know PORT_SERVICE_STATS_NP.
	service   []pmc.PortServiceStatsNP
	serviceOK bool
}

// readStats asks for both statistics TLVs after a successful snapshot. A
// ptp4l that does not know PORT_SERVICE_STATS_NP is asked once only. Errors
// leave the statistics out of the scrape but do not mark ptp4l down: the
// snapshot did answer.
func (s *hostSource) readStats(ctx context.Context, snap *pmc.Snapshot) {
	n := int(snap.Default.NumberPorts)
	st := portStats{}
	msgs, err := s.client.PortStatsNP(ctx, n)
	if err != nil {
		s.logger.Debug("PORT_STATS_NP", "err", err)
		msgs = nil
	}
	st.msgs = msgs
	if !s.noServiceStats {
		svc, err := s.client.PortServiceStatsNP(ctx, n)
		var me *pmc.ManagementError
		switch {
		case errors.As(err, &me) && me.ErrorID == pmc.ErrNoSuchID:
			s.noServiceStats = true
			s.logger.Info("ptp4l does not know PORT_SERVICE_STATS_NP (linuxptp < 4.0): no announce and sync timeout counters")
		case err != nil:
			s.logger.Debug("PORT_SERVICE_STATS_NP", "err", err)
		default:
			st.service, st.serviceOK = svc, true
		}
	}
	s.stats = st
}

// statsMetrics appends the statistics of the last read to out.
func (s *hostSource) statsMetrics(snap *pmc.Snapshot, gauge, counter func(*prometheus.Desc, float64, ...string)) {
	iface := make(map[uint16]string, len(snap.Ports))
	for _, p := range snap.Ports {
		iface[p.PortIdentity.PortNumber] = p.Interface
	}
	labels := func(id pmc.PortIdentity) (string, string) {
		return strconv.Itoa(int(id.PortNumber)), ifaceLabel(iface[id.PortNumber])
	}
	for _, p := range s.stats.msgs {
		port, ifc := labels(p.PortIdentity)
		for _, t := range pmc.MessageTypes() {
			counter(hostPortMsgsDesc, float64(p.RxMsgType[t]), port, ifc, "rx", t.String())
			counter(hostPortMsgsDesc, float64(p.TxMsgType[t]), port, ifc, "tx", t.String())
		}
	}
	if s.noServiceStats {
		gauge(hostServiceStatsDesc, 0)
		return
	}
	if !s.stats.serviceOK {
		return
	}
	gauge(hostServiceStatsDesc, 1)
	for _, p := range s.stats.service {
		port, ifc := labels(p.PortIdentity)
		counter(hostAnnounceTimeoutDesc, float64(p.AnnounceTimeout), port, ifc)
		counter(hostSyncTimeoutDesc, float64(p.SyncTimeout), port, ifc)
	}
}

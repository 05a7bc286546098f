package collector

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ptpcam/ptpcam/pmc"
)

// The camera deltas are measured against CLOCK_REALTIME. That is the PTP
// time only when ptp4l timestamps in software (it steers the system clock
// itself) or when phc2sys keeps the system clock on the NIC's PHC. With
// hardware timestamping, PHCReference measures PHC − CLOCK_REALTIME and
// marks the reference invalid when the two disagree by more than the
// desync threshold, so that camera deltas are not alerted on against a
// system clock nobody synchronizes.

// PHC is a PTP hardware clock that can be compared with CLOCK_REALTIME.
type PHC interface {
	// Offset measures PHC − CLOCK_REALTIME from the sample with the
	// narrowest system-clock bracket around the PHC read; uncertainty is
	// half that bracket.
	Offset() (offset, uncertainty time.Duration, err error)
	Close() error
}

// PHCOpener finds the PHC of a network interface and opens it; index is N
// of /dev/ptpN.
type PHCOpener func(iface string) (phc PHC, index int, err error)

// PortLister reads ptp4l's PORT_PROPERTIES_NP (*pmc.Client has it).
type PortLister interface {
	PortPropertiesNP(ctx context.Context, numberPorts int) ([]pmc.PortPropertiesNP, error)
}

// Reasons of ptpcam_host_reference_valid.
const (
	refSoftware      = "software_timestamping" // ptp4l steers CLOCK_REALTIME itself
	refPHCAgrees     = "phc_agrees"            // hardware timestamping, CLOCK_REALTIME follows the PHC
	refPHCDisagrees  = "phc_disagrees"         // hardware timestamping, CLOCK_REALTIME is not PTP time
	refPHCUnreadable = "phc_unreadable"        // hardware timestamping, the PHC could not be read
	refPortsUnknown  = "timestamping_unknown"  // PORT_PROPERTIES_NP did not answer
	refNotSynced     = "host_not_synchronized" // ptp4l is neither grandmaster nor a synchronized slave
)

var (
	refValidDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "host", "reference_valid"),
		"1 when CLOCK_REALTIME, against which camera deltas are measured, is the PTP time: ptp4l timestamps in software, or with hardware timestamping the PHC and CLOCK_REALTIME agree within the desync threshold. reason says why; while 0, ptpcam_camera_host_reference_valid is 0 too.",
		[]string{"reason", "timestamping", "interface"}, nil)
	refPHCOffsetDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "host", "phc_offset_seconds"),
		"PHC − CLOCK_REALTIME of the PTP port's hardware clock (PTP_SYS_OFFSET_EXTENDED); about currentUtcOffset when the PHC runs TAI and phc2sys keeps CLOCK_REALTIME on UTC.",
		[]string{"interface", "phc"}, nil)
	refPHCDisagreeDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "host", "phc_disagreement_seconds"),
		"PHC − CLOCK_REALTIME minus what it should be (currentUtcOffset on a TAI domain, 0 otherwise): how far the system clock is from PTP time.",
		[]string{"interface", "phc"}, nil)
	refPHCUncertaintyDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "host", "phc_offset_uncertainty_seconds"),
		"Half the system-clock bracket around the PHC read of ptpcam_host_phc_offset_seconds.",
		[]string{"interface", "phc"}, nil)
)

// refVerdict is the outcome of one check.
type refVerdict struct {
	valid        bool
	reason       string
	timestamping string // linuxptp's name, lower case; "unknown" when not read
	iface        string // the hardware-timestamping port's interface
	phc          int    // -1 without one
	offset       time.Duration
	disagreement time.Duration
	uncertainty  time.Duration
	measured     bool
}

// PHCReference is a HostReference that checks its inner reference against
// the PHC of ptp4l's hardware-timestamping port. It is also a Collector
// exporting its last verdict; it reads nothing on scrape.
type PHCReference struct {
	inner     HostReference
	ports     PortLister
	open      PHCOpener
	threshold time.Duration
	logger    *slog.Logger

	mu   sync.Mutex
	phcs map[string]openPHC // by interface, opened once
	last *refVerdict
}

type openPHC struct {
	phc   PHC
	index int
}

// NewPHCReference wraps inner. threshold is the desync threshold of the
// camera deltas; ports reads ptp4l's port properties; open finds and opens
// an interface's PHC (OpenPHC on Linux).
func NewPHCReference(logger *slog.Logger, inner HostReference, ports PortLister, open PHCOpener, threshold time.Duration) (*PHCReference, error) {
	if threshold <= 0 {
		return nil, fmt.Errorf("host reference: desync threshold %v must be > 0", threshold)
	}
	return &PHCReference{inner: inner, ports: ports, open: open, threshold: threshold, logger: logger, phcs: map[string]openPHC{}}, nil
}

// Reference implements HostReference: the inner reference, with Valid
// cleared when the check says CLOCK_REALTIME is not PTP time.
func (r *PHCReference) Reference(ctx context.Context) (Reference, error) {
	ref, err := r.inner.Reference(ctx)
	if err != nil {
		return ref, err
	}
	ports, perr := r.ports.PortPropertiesNP(ctx, 0)
	v := r.judge(ref, ports, perr)
	r.mu.Lock()
	if r.last == nil || r.last.valid != v.valid || r.last.reason != v.reason {
		r.logger.Info("host reference", "valid", v.valid, "reason", v.reason, "timestamping", v.timestamping, "interface", v.iface,
			"phc_disagreement", v.disagreement)
	}
	r.last = &v
	r.mu.Unlock()
	ref.Valid = v.valid
	return ref, nil
}

// judge decides whether CLOCK_REALTIME is PTP time.
func (r *PHCReference) judge(ref Reference, ports []pmc.PortPropertiesNP, perr error) refVerdict {
	v := refVerdict{timestamping: "unknown", phc: -1}
	if perr != nil {
		v.reason = refPortsUnknown
		return v
	}
	var hw *pmc.PortPropertiesNP
	for i, p := range ports {
		if p.Timestamping != 0 && p.PortState != pmc.PortStateDisabled {
			hw = &ports[i]
			break
		}
	}
	if hw == nil {
		v.timestamping = "software"
		v.valid, v.reason = ref.Valid, refSoftware
		if !ref.Valid {
			v.reason = refNotSynced
		}
		return v
	}
	v.timestamping = strings.ToLower(pmc.TimestampingName(hw.Timestamping))
	v.iface = hw.Interface
	phc, idx, err := r.phc(hw.Interface)
	if err == nil {
		v.phc = idx
		v.offset, v.uncertainty, err = phc.Offset()
	}
	if err != nil {
		r.logger.Debug("PHC read", "interface", hw.Interface, "err", err)
		v.reason = refPHCUnreadable
		return v
	}
	v.measured = true
	var want time.Duration
	if ref.PTPTimescale {
		want = time.Duration(ref.UTCOffset) * time.Second
	}
	v.disagreement = v.offset - want
	switch {
	case v.disagreement > r.threshold || v.disagreement < -r.threshold:
		v.reason = refPHCDisagrees
	case !ref.Valid:
		v.reason = refNotSynced
	default:
		v.valid, v.reason = true, refPHCAgrees
	}
	return v
}

// phc returns the interface's PHC, opening it on first use.
func (r *PHCReference) phc(iface string) (PHC, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o, ok := r.phcs[iface]; ok {
		return o.phc, o.index, nil
	}
	phc, idx, err := r.open(iface)
	if err != nil {
		return nil, -1, fmt.Errorf("interface %s: %w", iface, err)
	}
	r.phcs[iface] = openPHC{phc, idx}
	return phc, idx, nil
}

// Update implements Collector with the last verdict; nothing before the
// first check.
func (r *PHCReference) Update(ch chan<- prometheus.Metric) error {
	r.mu.Lock()
	v := r.last
	r.mu.Unlock()
	if v == nil {
		return nil
	}
	ch <- prometheus.MustNewConstMetric(refValidDesc, prometheus.GaugeValue, boolf(v.valid), v.reason, v.timestamping, cmp.Or(v.iface, "none"))
	if v.measured {
		phc := strconv.Itoa(v.phc)
		ch <- prometheus.MustNewConstMetric(refPHCOffsetDesc, prometheus.GaugeValue, v.offset.Seconds(), v.iface, phc)
		ch <- prometheus.MustNewConstMetric(refPHCDisagreeDesc, prometheus.GaugeValue, v.disagreement.Seconds(), v.iface, phc)
		ch <- prometheus.MustNewConstMetric(refPHCUncertaintyDesc, prometheus.GaugeValue, v.uncertainty.Seconds(), v.iface, phc)
	}
	return nil
}

// Close closes the PHCs it opened.
func (r *PHCReference) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, o := range r.phcs {
		o.phc.Close()
		delete(r.phcs, k)
	}
	return nil
}

package collector

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// OpenPHC finds iface's PTP hardware clock with ethtool's timestamping info
// (the ETHTOOL_GET_TS_INFO ioctl) and opens /dev/ptpN read-only. Untested
// on hardware: the machines this was written on have no PHC.
func OpenPHC(iface string) (PHC, int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, fmt.Errorf("socket for ethtool: %w", err)
	}
	info, err := unix.IoctlGetEthtoolTsInfo(fd, iface)
	unix.Close(fd)
	if err != nil {
		return nil, -1, fmt.Errorf("ETHTOOL_GET_TS_INFO %s: %w", iface, err)
	}
	if info.Phc_index < 0 {
		return nil, -1, fmt.Errorf("%s has no PTP hardware clock (phc_index %d)", iface, info.Phc_index)
	}
	path := fmt.Sprintf("/dev/ptp%d", info.Phc_index)
	f, err := os.Open(path)
	if err != nil {
		return nil, -1, fmt.Errorf("PHC of %s: %w", iface, err)
	}
	return &phcDevice{f: f}, int(info.Phc_index), nil
}

type phcDevice struct{ f *os.File }

// phcSamples is how many system/PHC/system triples one read takes; the
// narrowest bracket wins.
const phcSamples = 9

// Offset implements PHC with PTP_SYS_OFFSET_EXTENDED against CLOCK_REALTIME.
func (p *phcDevice) Offset() (time.Duration, time.Duration, error) {
	raw, err := p.f.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var ext *unix.PtpSysOffsetExtended
	var ierr error
	if err := raw.Control(func(fd uintptr) { ext, ierr = unix.IoctlPtpSysOffsetExtended(int(fd), phcSamples) }); err != nil {
		return 0, 0, err
	}
	if ierr != nil {
		return 0, 0, fmt.Errorf("PTP_SYS_OFFSET_EXTENDED %s: %w", p.f.Name(), ierr)
	}
	triples := make([][3]time.Time, 0, ext.Samples)
	for i := 0; i < int(ext.Samples) && i < len(ext.Ts); i++ {
		var tr [3]time.Time
		for j, c := range ext.Ts[i] {
			tr[j] = time.Unix(c.Sec, int64(c.Nsec))
		}
		triples = append(triples, tr)
	}
	off, unc, ok := bestOffset(triples)
	if !ok {
		return 0, 0, fmt.Errorf("PTP_SYS_OFFSET_EXTENDED %s: no usable sample of %d", p.f.Name(), ext.Samples)
	}
	return off, unc, nil
}

func (p *phcDevice) Close() error { return p.f.Close() }

//go:build !linux

package collector

import "errors"

// OpenPHC needs Linux's PTP clock devices.
func OpenPHC(iface string) (PHC, int, error) {
	return nil, -1, errors.New("PTP hardware clocks are read on Linux only")
}

package genicam

import (
	"net"
	"net/netip"
)

// interfaceForAddress names the local interface whose subnet contains addr:
// the interface the kernel routes a camera on a directly attached subnet
// through. "" when no subnet matches (a routed camera) or addr is no IP.
func interfaceForAddress(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	best, bestBits := "", -1
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			p, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ones, _ := n.Mask.Size()
			pfx := netip.PrefixFrom(p.Unmap(), ones)
			// The most specific subnet wins, as in the routing table.
			if pfx.Contains(ip.Unmap()) && ones > bestBits {
				best, bestBits = ifc.Name, ones
			}
		}
	}
	return best
}

package camsim

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Profile selects the feature names the GenICam XML exposes, because real
// models differ.
type Profile string

// Profiles.
const (
	// ProfileSFNC exposes PtpEnable, PtpStatus, TimestampLatch... (SFNC 2.x,
	// The Imaging Source, Basler ace 2, Lucid).
	ProfileSFNC Profile = "sfnc"
	// ProfileGEV exposes GevIEEE1588, GevIEEE1588Status,
	// GevTimestampControlLatch, GevTimestampValue (legacy GigE Vision names,
	// Basler ace, FLIR).
	ProfileGEV Profile = "gev"
	// ProfileNoPTP has neither PTP nor timestamp latch nodes.
	ProfileNoPTP Profile = "noptp"
)

// ParseProfile checks a profile name.
func ParseProfile(s string) (Profile, error) {
	switch p := Profile(strings.ToLower(s)); p {
	case ProfileSFNC, ProfileGEV, ProfileNoPTP:
		return p, nil
	}
	return "", fmt.Errorf("camsim: unknown profile %q (want sfnc, gev or noptp)", s)
}

// Config describes one simulated camera.
type Config struct {
	// Address is the IPv4 address GVCP answers on and GVSP is sent from.
	// Empty: the first IPv4 address of Interface.
	Address netip.Addr
	// Interface carries Address; PTP multicast is joined on it. Empty: the
	// interface holding Address.
	Interface string
	// MAC of the camera; zero: derived from Serial (locally administered).
	MAC net.HardwareAddr

	Serial  string
	Vendor  string
	Model   string
	Version string
	// UserName is the GigE Vision user-defined name (DeviceUserID).
	UserName string
	Profile  Profile
	// GenICam is a real camera's GenICam XML (LoadGenICam): camsim then
	// serves it and behaves as that camera (Profile is ignored); Vendor and
	// Model default to the XML's VendorName and ModelName.
	GenICam []byte

	// PTPDomain is the domainNumber whose Announce messages camsim follows.
	PTPDomain uint8
	// PTPEnable is the PtpEnable value at start.
	PTPEnable bool
	// Settle is how long camsim stays Uncalibrated after hearing a grandmaster.
	Settle time.Duration
	// AnnounceTimeout is how long without an Announce makes camsim its own master.
	AnnounceTimeout time.Duration
	// PTPPort is the UDP port of PTP general messages (320); tests may move it.
	PTPPort int

	// Device clock.
	Offset   time.Duration
	DriftPPM float64
	Jitter   time.Duration
	// UTC makes the device clock run on UTC instead of TAI.
	UTC bool

	Width, Height uint32
	PixelFormat   uint32
	FrameRate     float64

	// ControlAddress is the fault-injection endpoint: "unix:/path", "/path" or
	// "127.0.0.1:PORT". Empty: none.
	ControlAddress string

	// GVCPPort is the UDP port GVCP listens on (3956); tests may move it.
	GVCPPort int

	// TriggerRate is the pulse generator on the trigger lines, in Hz
	// (line.go; 0: none).
	TriggerRate float64
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Serial == "" {
		c.Serial = "05520125"
	}
	if c.GenICam != nil && (c.Vendor == "" || c.Model == "") {
		if doc, err := parseGenICam(c.GenICam); err == nil {
			c.Vendor = cmp.Or(c.Vendor, doc.Vendor)
			c.Model = cmp.Or(c.Model, doc.Model)
		}
	}
	if c.Vendor == "" {
		c.Vendor = "ptpcam"
	}
	if c.Model == "" {
		c.Model = "camsim"
	}
	if c.Version == "" {
		c.Version = "1.0"
	}
	if c.Profile == "" {
		c.Profile = ProfileSFNC
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Second
	}
	if c.AnnounceTimeout == 0 {
		c.AnnounceTimeout = 3 * time.Second
	}
	if c.PTPPort == 0 {
		c.PTPPort = 320
	}
	if c.Width == 0 {
		c.Width = 640
	}
	if c.Height == 0 {
		c.Height = 480
	}
	if c.PixelFormat == 0 {
		c.PixelFormat = PixelFormatBayerGR8
	}
	if c.FrameRate == 0 {
		c.FrameRate = 10
	}
	if c.GVCPPort == 0 {
		c.GVCPPort = GVCPPort
	}
}

// Validate checks the configuration and resolves Address/Interface.
func (c *Config) Validate() error {
	if _, err := ParseProfile(string(c.Profile)); err != nil {
		return err
	}
	if err := checkTriggerRate(c.TriggerRate); err != nil {
		return fmt.Errorf("camsim: %w", err)
	}
	if c.GenICam != nil {
		if _, err := parseGenICam(c.GenICam); err != nil {
			return fmt.Errorf("camsim: %w", err)
		}
	}
	if len(c.Serial) > 15 {
		return fmt.Errorf("camsim: serial %q longer than 15 bytes", c.Serial)
	}
	if c.Width < minSize || c.Width > maxWidth || c.Height < minSize || c.Height > maxHeight {
		return fmt.Errorf("camsim: size %dx%d outside %d..%dx%d..%d", c.Width, c.Height, minSize, maxWidth, minSize, maxHeight)
	}
	if c.PixelFormat != PixelFormatBayerGR8 && c.PixelFormat != PixelFormatMono8 {
		return fmt.Errorf("camsim: pixel format 0x%08x not BayerGR8 or Mono8", c.PixelFormat)
	}
	if c.FrameRate <= 0 || c.FrameRate > 1000 {
		return fmt.Errorf("camsim: frame rate %g outside (0, 1000]", c.FrameRate)
	}
	if !c.Address.IsValid() && c.Interface == "" {
		return errors.New("camsim: need an address or an interface")
	}
	if c.Address.IsValid() && !c.Address.Is4() {
		return fmt.Errorf("camsim: address %s is not IPv4", c.Address)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("camsim: listing interfaces: %w", err)
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP.To4())
			if !ok || ipn.IP.To4() == nil {
				continue
			}
			if c.Interface == ifi.Name && !c.Address.IsValid() {
				c.Address = ip
			}
			if ip == c.Address && c.Interface == "" {
				c.Interface = ifi.Name
			}
		}
	}
	if !c.Address.IsValid() {
		return fmt.Errorf("camsim: interface %q has no IPv4 address", c.Interface)
	}
	if c.Interface == "" && c.Address.IsLoopback() {
		// 127.0.0.x need not be assigned: the whole /8 is local on lo.
		c.Interface = "lo"
	}
	if c.Interface == "" {
		return fmt.Errorf("camsim: address %s is on no interface of this namespace", c.Address)
	}
	if len(c.MAC) == 0 {
		// Locally administered, unicast, from the serial: stable across runs.
		var h uint32 = 2166136261
		for i := 0; i < len(c.Serial); i++ {
			h = (h ^ uint32(c.Serial[i])) * 16777619
		}
		c.MAC = net.HardwareAddr{0x02, 0xCA, byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)}
	}
	if len(c.MAC) != 6 {
		return fmt.Errorf("camsim: MAC %s is not 6 bytes", c.MAC)
	}
	return nil
}

// ClockID is the EUI-64 PTP clock identity derived from the MAC (IEEE 1588
// 7.5.2.2.2: OUI, 0xFFFE, rest).
func (c *Config) ClockID() uint64 {
	m := c.MAC
	b := [8]byte{m[0], m[1], m[2], 0xFF, 0xFE, m[3], m[4], m[5]}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

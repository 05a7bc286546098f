// Package genicam gives ptpcam its cameras: GigE Vision / GenICam devices
// reached through Aravis 0.8 (cgo), plus a plain-UDP GigE Vision ACTION_CMD
// sender that needs no cgo.
//
// What it offers: discovery (Discover), one camera selection for every
// command and the exporter (Selection, Find, OpenSelection; OpenDevice opens
// one discovered camera without a broadcast), the GigE Vision control
// privilege (TakeControl, LeaveControl, Controller; a camera another
// application controls gives a HeldError naming it), vendor feature-name
// families resolved once per camera (SFNC Ptp* and TimestampLatch* versus
// legacy GevIEEE1588* and GevTimestamp*) with the camera's Capabilities,
// PTP enable/status/dataset, a timestamp latch bracketed by host clock reads
// (BestLatch keeps the narrowest of a few), concurrent latching of many
// cameras (LatchAll), action keys and scheduler programming, a plain-UDP
// ACTION_CMD sender (SendActionCommand), and streams with a preallocated
// buffer pool. Errors of Aravis carry its own GError message (AravisError).
//
// # Where things are
//
//   - genicam.go: the types every build shares (DeviceInfo, Frame,
//     LatchSample, PTPStatus, feature families, BestLatch);
//     select.go: Selection, Find, OpenDevice, OpenSelection;
//     control.go, procnet.go: Controller, HeldError, open options, the
//     /proc lookup of a controller on this host; caps.go: Capabilities
//     decided from a camera's nodes; action.go: ACTION_CMD over UDP;
//     pmqos.go: the CPU latency request latches hold.
//   - With Aravis (cgo, files *_aravis.go, C helpers in arvglue.c/.h):
//     discover_aravis.go (discovery, opening), camera_aravis.go (the Camera
//     object, its lock and lifetime), control_aravis.go (control privilege),
//     features_aravis.go (typed feature access), caps_aravis.go (node
//     metadata), ptp_aravis.go (PTP enable/status/data set),
//     latch_aravis.go (Latch, LatchAll), scheduler_aravis.go (action keys,
//     scheduler, trigger), stream_aravis.go (Configure, Stream).
//   - Without Aravis: noaravis.go, the same API failing with ErrNoAravis.
//
// A latch travels: collector or record calls Camera.Latch (latch_aravis.go)
// → the camera lock → gp_execute_timed in arvglue.c between two
// CLOCK_REALTIME reads → the latch value register, converted from ticks →
// LatchSample, whose Offset is the camera's delta to the host clock. A frame
// travels: Stream.Next pops an Aravis buffer (stream_aravis.go) → Frame.Data
// points into it → the caller writes it out → Stream.Release pushes it back.
//
// # Threading model
//
// Aravis' GenICam node tree and device objects are not thread-safe, but they
// need no GLib main loop either: GVCP I/O is synchronous on the calling thread
// (ArvGvDevice serialises it internally) and ArvGvStream receives on a thread
// of its own. So a *Camera may be used from any goroutine: every call that
// touches its ArvCamera/ArvDevice takes the camera's own mutex, and different
// cameras proceed in parallel. Streams are drained with
// arv_stream_timeout_pop_buffer, which is a GAsyncQueue pop and safe from any
// thread, so a *Stream does not take the camera lock for Next/Release.
//
// Discovery (arv_update_device_list and the arv_get_device_* table it fills)
// is process-global state inside Aravis and is serialised by a package mutex;
// so is opening a camera, which reads that table.
//
// Aravis discovery broadcasts on every interface of the calling process'
// network namespace. In tests it runs only inside a namespace the test
// created (see the package tests: inRig in rig_test.go re-executes the
// calling test inside a fresh rig namespace).
//
// # Latch brackets
//
// A latch sample's uncertainty is half its bracket, so everything that can
// be kept out of the bracket is:
//   - the host clock is read in C right before the latch command goes out and
//     right after its acknowledgement, so the Go scheduler never widens it;
//   - a register read right before the latch wakes the threads and CPUs at
//     both ends, which the first round trip after idle pays for;
//   - a PM QoS CPU latency request (HoldCPULatency, root only) keeps idle CPUs
//     polling while the latch waits, so no CPU's exit latency widens it.
//
// LatchAll gives every camera its own bracket, so the error does not grow
// with a camera's place in a loop as it did in the original script
// (BenchmarkLatch8 measures both).
//
// There is no "latch every camera at one scheduled instant" with ACTION_CMD:
// a scheduled action runs when the camera's own clock reaches the action
// time, so a latch it triggered would read that time back whatever the
// camera's offset, and SFNC has no action signal that drives TimestampLatch.
// To compare cameras at one physical instant, trigger frames with an
// unscheduled broadcast action (SendActionCommand) and compare their frame
// timestamps.
//
// # Builds without Aravis
//
// Built with CGO_ENABLED=0 or the tag noaravis, the package has the same API
// and every camera function returns ErrNoAravis. SendActionCommand works in
// both builds.
package genicam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"
)

// ErrNoAravis is returned by every camera function of a build without cgo or
// with the noaravis tag.
var ErrNoAravis = errors.New("built without Aravis: camera support unavailable")

// ErrNotAvailable reports that a camera lacks a feature (or a whole feature
// family such as PTP). It is a property of the camera, not a failure of the
// call: callers report "not available" and go on.
var ErrNotAvailable = errors.New("not available")

// ErrClosed is returned by calls on a closed Camera or Stream.
var ErrClosed = errors.New("closed")

// AravisError is a GError from Aravis, converted at the cgo boundary.
type AravisError struct {
	// Domain is the GError domain, e.g. "arv-device-error-quark".
	Domain string
	// Code is the domain's error code.
	Code int
	// Message is Aravis' own text, e.g. "[PtpEnable] Not found".
	Message string
}

func (e *AravisError) Error() string { return e.Message }

// Is makes a missing feature match ErrNotAvailable.
func (e *AravisError) Is(target error) bool {
	return target == ErrNotAvailable && e.Domain == "arv-device-error-quark" && e.Code == arvDeviceErrorFeatureNotFound
}

// ARV_DEVICE_ERROR_FEATURE_NOT_FOUND in arvdevice.h (second entry of ArvDeviceError).
const arvDeviceErrorFeatureNotFound = 1

// DeviceInfo describes one discovered camera.
type DeviceInfo struct {
	// ID is Aravis' device id (vendor-model-serial), usable with OpenID.
	ID string
	// Serial is the device serial number.
	Serial string
	Vendor string
	Model  string
	// Address is the camera's IP address.
	Address string
	// Interface is the host network interface the camera was found on: the
	// local interface whose subnet contains Address ("" if none does).
	Interface string
}

// Acquisition is the image format and rate Configure sets. Zero fields are
// left as they are.
type Acquisition struct {
	Width, Height int
	// PixelFormat is a GenICam PixelFormat entry, e.g. "Mono8", "BayerRG8".
	PixelFormat string
	// FrameRate in Hz (AcquisitionFrameRate); ignored by cameras driven by
	// the action scheduler.
	FrameRate float64
}

// StreamConfig sets up a stream.
type StreamConfig struct {
	// Buffers is the number of preallocated frame buffers (default 8). Frames
	// are received into them in turn; a frame the caller holds (not yet
	// released) takes one out of the rotation.
	Buffers int
	// FrameRetention is how long Aravis keeps waiting for the missing
	// packets of a frame (resends) before it gives the frame up as
	// incomplete; zero keeps Aravis' default (100 ms). A recorder, which
	// can wait, gains complete frames on a loaded host by raising it.
	FrameRetention time.Duration
	// PacketTimeout is how long Aravis waits for a missing packet before it
	// asks for a resend; zero keeps Aravis' default (20 ms).
	PacketTimeout time.Duration
	// SocketBuffer is the receive buffer of the stream socket in bytes; zero
	// keeps the kernel's default (net.core.rmem_default, about 90 full-size
	// packets: a receive thread kept off the CPU for 2 ms at 1080p50 loses
	// packets). The kernel caps it at net.core.rmem_max.
	SocketBuffer int
	// ResendRatio is the largest share of a frame's packets Aravis asks to
	// be resent (0 < r <= 1); zero keeps Aravis' 0.25, which gives up a
	// frame that lost a longer burst even though the camera could resend it.
	ResendRatio float64
}

// FrameStatus is the state of a received buffer (ArvBufferStatus).
type FrameStatus int

// Buffer states, numbered as ArvBufferStatus.
const (
	FrameUnknown            FrameStatus = -1
	FrameSuccess            FrameStatus = 0
	FrameCleared            FrameStatus = 1
	FrameTimeout            FrameStatus = 2
	FrameMissingPackets     FrameStatus = 3
	FrameWrongPacketID      FrameStatus = 4
	FrameSizeMismatch       FrameStatus = 5
	FrameFilling            FrameStatus = 6
	FrameAborted            FrameStatus = 7
	FramePayloadUnsupported FrameStatus = 8
)

var frameStatusNames = map[FrameStatus]string{
	FrameUnknown: "unknown", FrameSuccess: "success", FrameCleared: "cleared", FrameTimeout: "timeout",
	FrameMissingPackets: "missing_packets", FrameWrongPacketID: "wrong_packet_id",
	FrameSizeMismatch: "size_mismatch", FrameFilling: "filling", FrameAborted: "aborted",
	FramePayloadUnsupported: "payload_not_supported",
}

func (s FrameStatus) String() string {
	if n, ok := frameStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("FrameStatus(%d)", int(s))
}

// Frame is one received image.
//
// Data is a view into the stream's preallocated buffer, not a copy: it stays
// valid until the frame is passed to Stream.Release (or the stream is
// closed), after which Aravis writes the next image into it. Copy what must
// outlive Release.
type Frame struct {
	Data []byte
	// FrameID is the GVSP block id (16 bit on GEV 1.x cameras: it wraps).
	FrameID uint64
	// Timestamp is the camera's timestamp of the frame in ns (Aravis converts
	// ticks with the camera's tick frequency).
	Timestamp int64
	// SystemTimestamp is the host's CLOCK_REALTIME in ns when the first
	// packet of the frame arrived.
	SystemTimestamp int64
	Status          FrameStatus
	Width, Height   int
	PixelFormat     uint32

	buf unsafe.Pointer // *C.ArvBuffer owned by the stream
}

// StreamStats are Aravis' stream counters (arv_stream_get_info_uint64_by_name).
type StreamStats struct {
	CompletedBuffers  uint64 // n_completed_buffers
	Failures          uint64 // n_failures
	Underruns         uint64 // n_underruns: no free buffer when a frame began
	Timeouts          uint64 // n_timeouts
	Aborted           uint64 // n_aborted
	MissingFrames     uint64 // n_missing_frames
	ReceivedPackets   uint64 // n_received_packets
	MissingPackets    uint64 // n_missing_packets
	ErrorPackets      uint64 // n_error_packets
	IgnoredPackets    uint64 // n_ignored_packets
	ResendRequests    uint64 // n_resend_requests
	ResentPackets     uint64 // n_resent_packets
	DuplicatedPackets uint64 // n_duplicated_packets
	TransferredBytes  uint64 // n_transferred_bytes
}

// LatchSample is one timestamp latch: the camera's clock at the latch and the
// host's CLOCK_REALTIME read just before the latch command was sent and just
// after its acknowledgement came back, on the same OS thread.
type LatchSample struct {
	Serial string
	// Device is the latched camera time in ns.
	Device int64
	// HostBefore and HostAfter bracket the latch.
	HostBefore, HostAfter time.Time
}

// Mid is the host time halfway through the bracket: the best host estimate
// of the instant the camera latched.
func (s LatchSample) Mid() time.Time {
	return s.HostBefore.Add(s.HostAfter.Sub(s.HostBefore) / 2)
}

// HalfBracket is half the bracket's width: the bound of Mid's error.
func (s LatchSample) HalfBracket() time.Duration {
	return s.HostAfter.Sub(s.HostBefore) / 2
}

// Offset is camera time minus host time at the latch (Device − Mid).
func (s LatchSample) Offset() time.Duration {
	return time.Duration(s.Device - s.Mid().UnixNano())
}

// PTPStatus is a camera's PTP port state with SFNC's PtpStatus values.
type PTPStatus int

// PTP port states as SFNC names them.
const (
	PTPUnknown PTPStatus = iota
	PTPInitializing
	PTPFaulty
	PTPDisabled
	PTPListening
	PTPPreMaster
	PTPMaster
	PTPPassive
	PTPUncalibrated
	PTPSlave
)

var ptpStatusNames = [...]string{"Unknown", "Initializing", "Faulty", "Disabled", "Listening", "PreMaster",
	"Master", "Passive", "Uncalibrated", "Slave"}

// ptpStatusRaw marks a PTPStatus that carries a camera's raw status value
// for which its enumeration has no entry (PTPStatusValue).
const ptpStatusRaw PTPStatus = 1 << 40

// PTPStatusValue is the status of a camera whose status register holds n,
// a value its enumeration has no entry for (Aravis then returns no string
// and no error). It compares unequal to every known state and prints as
// "unknown(n)".
func PTPStatusValue(n int64) PTPStatus { return ptpStatusRaw + PTPStatus(n&0xffffffff) }

// Raw returns the register value of a status made by PTPStatusValue.
func (s PTPStatus) Raw() (int64, bool) {
	if s >= ptpStatusRaw {
		return int64(s - ptpStatusRaw), true
	}
	return 0, false
}

func (s PTPStatus) String() string {
	if n, ok := s.Raw(); ok {
		return fmt.Sprintf("unknown(%d)", n)
	}
	if s >= 0 && int(s) < len(ptpStatusNames) {
		return ptpStatusNames[s]
	}
	return fmt.Sprintf("PTPStatus(%d)", int(s))
}

// ptpStatusAliases are the vendors' entry names that are not SFNC's, by
// normalized (lower case, no separators) name: Basler classic's Undefined
// (PTP off), older Allied Vision's Off/Slave/Master/Error/Syncing.
var ptpStatusAliases = map[string]PTPStatus{
	"undefined": PTPDisabled, "off": PTPDisabled, "disable": PTPDisabled,
	"error": PTPFaulty, "fault": PTPFaulty,
	"syncing": PTPUncalibrated, "slaveonly": PTPSlave, "premaster": PTPPreMaster,
}

// parsePTPStatus maps a camera's status entry name (or display name) to a
// PTPStatus, ignoring case and the separators vendors add ("Pre_Master",
// "Pre Master", "PRE-MASTER"). An unrecognised string gives PTPUnknown and
// false.
func parsePTPStatus(s string) (PTPStatus, bool) {
	norm := strings.ToLower(strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		return r
	}, strings.TrimSpace(s)))
	for i, n := range ptpStatusNames {
		if i != 0 && norm == strings.ToLower(n) {
			return PTPStatus(i), true
		}
	}
	if st, ok := ptpStatusAliases[norm]; ok {
		return st, true
	}
	return PTPUnknown, false
}

// PTPDataSet holds what a camera exposes of its PTP data set. Fields a camera
// does not expose are zero and their Has* flag false.
type PTPDataSet struct {
	// OffsetFromMaster in ns.
	OffsetFromMaster    time.Duration
	HasOffsetFromMaster bool
	// ClockID is the camera's clock identity (EUI-64 as an integer).
	ClockID    uint64
	HasClockID bool
	// GrandmasterID is the grandmaster's (or, where only that is exposed,
	// the parent's) clock identity.
	GrandmasterID    uint64
	HasGrandmasterID bool
}

// Logical feature names and the vendor spellings tried for each, in order.
// The first that the camera's GenICam XML declares wins, once per camera.
const (
	FeaturePTPEnable           = "PtpEnable"
	FeaturePTPStatus           = "PtpStatus"
	FeaturePTPDataSetLatch     = "PtpDataSetLatch"
	FeaturePTPOffsetFromMaster = "PtpOffsetFromMaster"
	FeaturePTPClockID          = "PtpClockID"
	FeaturePTPGrandmasterID    = "PtpGrandmasterClockID"
	FeatureTimestampLatch      = "TimestampLatch"
	FeatureTimestampLatchValue = "TimestampLatchValue"
	FeatureTickFrequency       = "GevTimestampTickFrequency"
)

var featureFamilies = map[string][]string{
	FeaturePTPEnable:           {"PtpEnable", "GevIEEE1588", "GevIEEE1588Enable", "PtpMode"},
	FeaturePTPStatus:           {"PtpStatus", "GevIEEE1588Status"},
	FeaturePTPDataSetLatch:     {"PtpDataSetLatch", "GevIEEE1588DataSetLatch"},
	FeaturePTPOffsetFromMaster: {"PtpOffsetFromMaster", "GevIEEE1588OffsetFromMaster", "GevIEEE1588OffsetFromMasterLatched"},
	FeaturePTPClockID:          {"PtpClockID", "GevIEEE1588ClockId", "GevIEEE1588ClockID"},
	FeaturePTPGrandmasterID:    {"PtpGrandmasterClockID", "PtpParentClockID", "GevIEEE1588ParentClockId", "GevIEEE1588ParentClockID", "GevIEEE1588ParentClockIdLatched"},
	FeatureTimestampLatch:      {"TimestampLatch", "GevTimestampControlLatch"},
	FeatureTimestampLatchValue: {"TimestampLatchValue", "GevTimestampValue"},
	FeatureTickFrequency:       {"GevTimestampTickFrequency", "TimestampTickFrequency"},
}

// resolveFamilies picks, for every logical name, the first spelling exists
// reports as declared.
func resolveFamilies(exists func(string) bool) map[string]string {
	r := make(map[string]string, len(featureFamilies))
	for logical, names := range featureFamilies {
		for _, n := range names {
			if exists(n) {
				r[logical] = n
				break
			}
		}
	}
	return r
}

// ticksToNs converts a tick count at freq Hz to ns without overflowing for
// counts of a camera that has run for years.
func ticksToNs(ticks uint64, freq uint64) int64 {
	if freq == 0 || freq == 1_000_000_000 {
		return int64(ticks)
	}
	return int64(ticks/freq*1_000_000_000 + (ticks%freq)*1_000_000_000/freq)
}

// Latcher is anything that takes one timestamp latch: *Camera, or a test
// fake.
type Latcher interface {
	Latch(ctx context.Context) (LatchSample, error)
}

// Default bounds of BestLatch: a latch on an idle host brackets in tens of
// µs; on a loaded one a single latch can take milliseconds (12.5 ms was
// seen on a busy 2-core machine), which then bounds how well any delta is
// known.
const (
	DefaultLatchTries  = 5
	DefaultLatchTarget = 100 * time.Microsecond
)

// LatchPolicy bounds BestLatch. Zero values take the defaults.
type LatchPolicy struct {
	// Tries is the most latches one measurement takes.
	Tries int
	// Target ends the measurement early once a sample's half bracket is
	// within it.
	Target time.Duration
}

// BestLatch takes up to p.Tries latches of l and returns the one with the
// narrowest bracket, stopping as soon as one is within p.Target, as clock
// comparison tools do (PTP_SYS_OFFSET_EXTENDED, chrony's readings): the
// delta of a narrow bracket is known better, and one preempted or delayed
// round trip no longer decides the measurement. n is how many latches were
// sent. The first error ends it: a camera that fails one latch is not
// answering reliably.
func BestLatch(ctx context.Context, l Latcher, p LatchPolicy) (best LatchSample, n int, err error) {
	tries, target := p.Tries, p.Target
	if tries <= 0 {
		tries = DefaultLatchTries
	}
	if target <= 0 {
		target = DefaultLatchTarget
	}
	for n < tries {
		s, err := l.Latch(ctx)
		if errors.Is(err, ErrNotAvailable) {
			return LatchSample{}, n, err
		}
		n++
		if err != nil {
			return LatchSample{}, n, err
		}
		if n == 1 || s.HalfBracket() < best.HalfBracket() {
			best = s
		}
		if best.HalfBracket() <= target || ctx.Err() != nil {
			break
		}
	}
	return best, n, nil
}

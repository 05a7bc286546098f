package genicam

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// What a camera can do for ptpcam, read once from its GenICam XML at open.
// Vendors differ in names, value lists and forms (see
// ../shared/notes/vendor-cameras.md); everything below is decided from the
// camera's own nodes, never from its vendor.

// ActionSupport is how a camera can start frames at a PTP instant.
type ActionSupport string

// Action support levels, best first.
const (
	// ActionScheduler: the camera's own scheduler (ActionSchedulerTime /
	// Interval / Commit, TIS firmware).
	ActionScheduler ActionSupport = "scheduler"
	// ActionScheduled: GigE Vision 2.0 scheduled action commands
	// (ACTION_CMD with action_time), bounded by ActionQueueSize.
	ActionScheduled ActionSupport = "scheduled"
	// ActionUnscheduled: ACTION_CMD keys but no queue: the action fires on
	// arrival.
	ActionUnscheduled ActionSupport = "unscheduled"
	// ActionNone: no action keys at all (start only from a trigger line).
	ActionNone ActionSupport = "none"
)

// LatchUnit is the unit of a camera's timestamp latch value.
type LatchUnit string

// Latch value units.
const (
	LatchNone  LatchUnit = "none"
	LatchNs    LatchUnit = "ns"
	LatchTicks LatchUnit = "ticks"
)

// Capabilities is what the camera offers ptpcam, found once at open.
type Capabilities struct {
	// PTPForm names the PTP enable node and its form: "PtpEnable:bool",
	// "PtpMode:enum", "status-only" or "none".
	PTPForm string `json:"ptp_form"`
	// PTPEnableEntry and PTPDisableEntry are the enumeration entries that
	// turn an enumeration-form PTP on and off ("" for a Boolean).
	PTPEnableEntry  string `json:"ptp_enable_entry,omitempty"`
	PTPDisableEntry string `json:"ptp_disable_entry,omitempty"`
	// StatusLatched: the status (and offset) reflect the data set only
	// after a data-set latch command, which is run before each read.
	StatusLatched bool          `json:"status_latched"`
	LatchUnit     LatchUnit     `json:"latch_unit"`
	Action        ActionSupport `json:"action"`
	// ActionQueueSize is the camera's scheduled-action queue (0 = none).
	ActionQueueSize int64 `json:"action_queue_size,omitempty"`
	// ActionSelector is the selector value the keys are written for, and
	// ActionSelectorWritable whether ptpcam writes it (a read-only
	// selector, e.g. FLIR's {Action0}, is left as it is).
	ActionSelector         int64 `json:"action_selector"`
	ActionSelectorWritable bool  `json:"action_selector_writable"`
	// ActionTrigger is the TriggerSource entry of the selected action
	// ("" when the camera has none).
	ActionTrigger  string   `json:"action_trigger,omitempty"`
	TriggerSources []string `json:"trigger_sources,omitempty"`
}

// ActionLabel is Action with the queue size where it matters, as printed.
func (c Capabilities) ActionLabel() string {
	if c.Action == ActionScheduled {
		return fmt.Sprintf("scheduled(queue=%d)", c.ActionQueueSize)
	}
	return string(c.Action)
}

// StatusMode is "latched", "live", or "none" on a camera without PTP.
func (c Capabilities) StatusMode() string {
	switch {
	case c.PTPForm == "none" || c.PTPForm == "":
		return "none"
	case c.StatusLatched:
		return "latched"
	}
	return "live"
}

// String is a one-line summary for logs and ptpcamcheck's text output.
func (c Capabilities) String() string {
	trig := c.ActionTrigger
	if trig == "" {
		trig = "none"
	}
	return fmt.Sprintf("ptp=%s status=%s latch=%s action=%s trigger=%s", c.PTPForm, c.StatusMode(),
		c.LatchUnit, c.ActionLabel(), trig)
}

// ptpEnableEntries picks, from a PTP mode enumeration's entries, the entry
// that enables PTP and the one that disables it. Slave is preferred over
// Auto: ptpcam's rigs have the host's ptp4l as grandmaster, and a camera in
// Auto could win the BMCA and become a second master; Slave-only cannot.
func ptpEnableEntries(entries []string) (on, off string, err error) {
	pick := func(names ...string) string {
		for _, n := range names {
			for _, e := range entries {
				if strings.EqualFold(e, n) {
					return e
				}
			}
		}
		return ""
	}
	on = pick("Slave", "SlaveOnly", "Auto", "On", "True", "Enable", "Enabled")
	off = pick("Off", "Disabled", "Disable", "False")
	if on == "" || off == "" {
		return "", "", fmt.Errorf("PTP mode entries [%s]: want one of Slave/SlaveOnly/Auto/On and one of Off/Disabled",
			strings.Join(entries, " "))
	}
	return on, off, nil
}

// actionTriggerEntry picks the TriggerSource entry that the action with
// selector sel fires: "Action<sel>" where the camera has it, else the
// camera's only action entry. "" when it has no action entry at all.
func actionTriggerEntry(sources []string, sel int64) string {
	want := "Action" + strconv.FormatInt(sel, 10)
	var actions []string
	for _, s := range sources {
		if strings.EqualFold(s, want) {
			return s
		}
		if strings.HasPrefix(s, "Action") {
			actions = append(actions, s)
		}
	}
	if len(actions) > 0 {
		slices.Sort(actions)
		return actions[0]
	}
	return ""
}

// valueCopyTargets returns, for every node of a GenICam XML that has
// pValueCopy children, the names of the nodes its value is copied to.
// Aravis 0.8 ignores pValueCopy, so writing such a node reaches only its
// pValue: ptpcam writes the copies itself.
func valueCopyTargets(doc []byte) (map[string][]string, error) {
	out := map[string][]string{}
	if !bytes.Contains(doc, []byte("pValueCopy")) {
		return out, nil
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = false
	var stack []string // the Name attribute of each open element
	inCopy := false
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("GenICam XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := ""
			for _, a := range t.Attr {
				if a.Name.Local == "Name" {
					name = a.Value
				}
			}
			stack = append(stack, name)
			if t.Name.Local == "pValueCopy" {
				inCopy = true
				text.Reset()
			}
		case xml.CharData:
			if inCopy {
				text.Write(t)
			}
		case xml.EndElement:
			if t.Name.Local == "pValueCopy" && inCopy && len(stack) >= 2 {
				owner := stack[len(stack)-2]
				if tgt := strings.TrimSpace(text.String()); owner != "" && tgt != "" {
					out[owner] = append(out[owner], tgt)
				}
				inCopy = false
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

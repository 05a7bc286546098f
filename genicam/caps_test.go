package genicam

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// The regression tests here read the real vendor XMLs from
// ../shared/vendor-xml (never copied into the repository).

func vendorXML(t *testing.T, file string) (string, []byte) {
	t.Helper()
	p := filepath.Join(testenv.ModuleRoot(t), "..", "shared", "vendor-xml", file)
	b, err := os.ReadFile(p)
	if err != nil {
		testenv.Skip(t, "vendor XML %s: %v", file, err)
	}
	return p, b
}

// xmlEnum returns an enumeration's entry names and display names as the
// XML declares them, by a plain scan independent of the code under test.
func xmlEnum(t *testing.T, doc []byte, name string) (names, display []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = false
	depth, in := 0, -1
	var field string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if e.Name.Local == "Enumeration" && in < 0 {
				for _, a := range e.Attr {
					if a.Name.Local == "Name" && a.Value == name {
						in = depth
					}
				}
			}
			if in >= 0 && e.Name.Local == "EnumEntry" && depth == in+1 {
				for _, a := range e.Attr {
					if a.Name.Local == "Name" {
						names = append(names, a.Value)
					}
				}
			}
			if in >= 0 && e.Name.Local == "DisplayName" && depth == in+2 {
				field = "display"
				text.Reset()
			}
		case xml.CharData:
			if field != "" {
				text.Write(e)
			}
		case xml.EndElement:
			if field != "" && e.Name.Local == "DisplayName" {
				display = append(display, strings.TrimSpace(text.String()))
				field = ""
			}
			if in == depth {
				return names, display
			}
			depth--
		}
	}
	if in < 0 {
		t.Fatalf("no enumeration %s", name)
	}
	return names, display
}

// TestParsePTPStatusVendorEntries: every status entry (name and display
// name) of every family's XML maps to a known state without error.
func TestParsePTPStatusVendorEntries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file, node string
		want       map[string]PTPStatus // spot checks, by entry name
	}{
		{"Basler_a2A2600-20gmBAS.xml", "PtpStatus", map[string]PTPStatus{"PreMaster": PTPPreMaster, "Slave": PTPSlave}},
		{"Basler_acA2040-35gm.xml", "GevIEEE1588Status", map[string]PTPStatus{"Undefined": PTPDisabled, "Slave": PTPSlave}},
		{"Basler_acA2040-35gm.xml", "GevIEEE1588StatusLatched", nil},
		{"FLIR_BFS-PGE-50S4C.xml", "GevIEEE1588Status", map[string]PTPStatus{"Initializing": PTPInitializing, "Slave": PTPSlave}},
		{"FLIR_ORX_10G_51S5M.xml", "GevIEEE1588Status", nil},
		{"AlliedVision_Manta_G235C.xml", "PtpStatus", nil},
		{"AlliedVision_Mako_G125C.xml", "PtpStatus", map[string]PTPStatus{"Off": PTPDisabled, "Slave": PTPSlave,
			"Master": PTPMaster, "Error": PTPFaulty, "Syncing": PTPUncalibrated}},
		{"Hikrobot_HIKCamera-GEV.xml", "GevIEEE1588Status", nil},
	} {
		_, doc := vendorXML(t, c.file)
		names, display := xmlEnum(t, doc, c.node)
		if len(names) < 4 {
			t.Errorf("%s %s: only entries %v", c.file, c.node, names)
		}
		for i, n := range names {
			st, ok := parsePTPStatus(n)
			if !ok || st == PTPUnknown {
				t.Errorf("%s %s: entry %q → %v, %v", c.file, c.node, n, st, ok)
			}
			if w, ok := c.want[n]; ok && st != w {
				t.Errorf("%s %s: entry %q → %v, want %v", c.file, c.node, n, st, w)
			}
			if i < len(display) && display[i] != "" {
				if ds, ok := parsePTPStatus(display[i]); !ok || ds != st {
					t.Errorf("%s %s: display name %q → %v, %v; entry %q gives %v", c.file, c.node, display[i], ds, ok, n, st)
				}
			}
		}
	}
}

func TestPTPStatusValue(t *testing.T) {
	t.Parallel()
	s := PTPStatusValue(13)
	if n, ok := s.Raw(); !ok || n != 13 || s.String() != "unknown(13)" {
		t.Errorf("PTPStatusValue(13) = %v (raw %d %v)", s, n, ok)
	}
	for _, k := range []PTPStatus{PTPUnknown, PTPSlave, PTPMaster} {
		if s == k {
			t.Errorf("PTPStatusValue(13) equals %v", k)
		}
		if _, ok := k.Raw(); ok {
			t.Errorf("%v has a raw value", k)
		}
	}
	for _, in := range []string{"Pre Master", "Pre_Master", "PRE-MASTER", "premaster"} {
		if st, ok := parsePTPStatus(in); !ok || st != PTPPreMaster {
			t.Errorf("parsePTPStatus(%q) = %v, %v", in, st, ok)
		}
	}
	if st, ok := parsePTPStatus("Bogus"); ok || st != PTPUnknown {
		t.Errorf("parsePTPStatus(Bogus) = %v, %v", st, ok)
	}
}

// TestPTPEnableEntriesVendor: Allied Vision's PtpMode has no "On"; Slave
// enables and Off disables.
func TestPTPEnableEntriesVendor(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"AlliedVision_Manta_G235C.xml", "AlliedVision_Mako_G125C.xml"} {
		_, doc := vendorXML(t, f)
		names, _ := xmlEnum(t, doc, "PtpMode")
		on, off, err := ptpEnableEntries(names)
		if err != nil || on != "Slave" || off != "Off" {
			t.Errorf("%s PtpMode %v: on %q off %q err %v; want Slave, Off", f, names, on, off, err)
		}
	}
	if on, _, err := ptpEnableEntries([]string{"Off", "Auto"}); err != nil || on != "Auto" {
		t.Errorf("{Off Auto}: on %q, %v; want Auto", on, err)
	}
	if _, _, err := ptpEnableEntries([]string{"Master", "Off"}); err == nil || !strings.Contains(err.Error(), "Master Off") {
		t.Errorf("{Master Off}: %v, want an error listing the entries", err)
	}
}

// TestActionTriggerEntryVendor: the trigger source is the camera's own
// action entry for the selected action, never a hard-coded Action0.
func TestActionTriggerEntryVendor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file string
		sel  int64
		want string
	}{
		{"Basler_a2A2600-20gmBAS.xml", 1, "Action1"},
		{"Basler_acA2040-35gm.xml", 1, "Action1"},
		{"FLIR_BFS-PGE-50S4C.xml", 0, "Action0"},
		{"AlliedVision_Manta_G235C.xml", 0, "Action0"},
		{"Hikrobot_HIKCamera-GEV.xml", 0, "Action1"},
		{"Baumer_TXG08c.xml", 0, "Action1"},
		{"TheImagingSource_DMK33GX174_aravisGigE.xml", 0, "Action0"},
		{"FLIR_ORX_10G_51S5M.xml", 0, ""},
	} {
		_, doc := vendorXML(t, c.file)
		names, _ := xmlEnum(t, doc, "TriggerSource")
		if got := actionTriggerEntry(names, c.sel); got != c.want {
			t.Errorf("%s: selector %d, sources %v → %q, want %q", c.file, c.sel, names, got, c.want)
		}
	}
}

// TestValueCopyTargetsTIS: the TIS device key reaches 0x90C only through
// pValueCopy, which Aravis ignores; the scan finds the copy.
func TestValueCopyTargetsTIS(t *testing.T) {
	t.Parallel()
	_, doc := vendorXML(t, "TheImagingSource_DMK33GX174_aravisGigE.xml")
	got, err := valueCopyTargets(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["ActionDeviceKey"], []string{"ActionDeviceKeyRegister"}) {
		t.Errorf("ActionDeviceKey copies %v (all %v), want [ActionDeviceKeyRegister]", got["ActionDeviceKey"], got)
	}
	_, basler := vendorXML(t, "Basler_acA2040-35gm.xml")
	if got, err := valueCopyTargets(basler); err != nil || len(got) != 0 {
		t.Errorf("Basler classic copies %v, %v; want none", got, err)
	}
}

func TestCapabilitiesString(t *testing.T) {
	t.Parallel()
	c := Capabilities{PTPForm: "PtpEnable:bool", StatusLatched: true, LatchUnit: LatchNs, Action: ActionScheduled,
		ActionQueueSize: 2, ActionTrigger: "Action1"}
	want := "ptp=PtpEnable:bool status=latched latch=ns action=scheduled(queue=2) trigger=Action1"
	if c.String() != want {
		t.Errorf("String() = %q, want %q", c.String(), want)
	}
}

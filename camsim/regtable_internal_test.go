package camsim

import (
	"fmt"
	"strings"
	"testing"
)

// TestRegisterTableMatchesXML: every register camsim's own XML declares
// on the Device port is in the register table (or the static bootstrap),
// writable where the XML says W and read-only where it says RO; and every
// feature register of the table is described by some profile's XML.
func TestRegisterTableMatchesXML(t *testing.T) {
	t.Parallel()
	described := map[uint32]bool{}
	for _, p := range []Profile{ProfileSFNC, ProfileGEV, ProfileNoPTP} {
		doc, err := parseGenICam(GenICamXML(p, "V", "M"))
		if err != nil {
			t.Fatalf("%s: own XML does not parse: %v", p, err)
		}
		n := 0
		for _, node := range doc.Nodes {
			if !node.has("Address") || node.prop("pPort") != "Device" {
				continue
			}
			n++
			for _, err := range checkTableEntry(node) {
				t.Errorf("%s: %v", p, err)
			}
			a, _ := parseGCInt(node.prop("Address"))
			l, _ := parseGCInt(node.prop("Length"))
			for w := uint32(a); w < uint32(a+l); w += 4 {
				described[w] = true
			}
			// A selector-indexed register (pIndex Offset) spans one word
			// per selector value from its address.
			if ix := node.Props["pIndex"]; len(ix) > 0 {
				off, _ := parseGCInt(ix[0].Attrs["Offset"])
				sel := doc.Nodes[strings.TrimSuffix(ix[0].Text, "Reg")]
				for i := 1; off > 0 && sel != nil && i < len(sel.Entries); i++ {
					described[uint32(a+int64(i)*off)] = true
				}
			}
		}
		if n < 40 {
			t.Errorf("%s: only %d registers on the Device port: the check looked at too little", p, n)
		}
	}
	// The action group's unused words read 0 and refuse writes, described
	// by no feature.
	holes := map[uint32]bool{regActionGroupKey0 + 8: true, regActionGroupKey0 + 12: true}
	for a := range ownRegs {
		if !described[a] && !holes[a] {
			t.Errorf("table register 0x%x is in no profile's XML", a)
		}
	}
}

// checkTableEntry compares one register node of the XML with the table.
func checkTableEntry(node *gcNode) []error {
	a, err := parseGCInt(node.prop("Address"))
	if err != nil {
		return []error{fmt.Errorf("%s: address %q: %v", node.Name, node.prop("Address"), err)}
	}
	l, _ := parseGCInt(node.prop("Length"))
	access := node.prop("AccessMode")
	var errs []error
	for w := uint32(a) &^ 3; w < uint32(a+l); w += 4 {
		r, ok := bootRegs[w]
		if !ok {
			r, ok = ownRegs[w]
		}
		switch {
		case !ok && w < bootstrapSize && access == "RO":
			// static bootstrap content (strings, tick frequency)
		case !ok:
			errs = append(errs, fmt.Errorf("%s (%s) word 0x%x: not in the register table", node.Name, access, w))
		case strings.Contains(access, "W") && r.ro:
			errs = append(errs, fmt.Errorf("%s (%s) word 0x%x: read-only in the table", node.Name, access, w))
		case access == "RO" && !r.ro:
			errs = append(errs, fmt.Errorf("%s (RO) word 0x%x: writable in the table", node.Name, w))
		}
	}
	return errs
}

package camsim

import (
	"fmt"
	"math/bits"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Gates: a feature or enumeration entry whose pIsAvailable/pIsImplemented is
// a formula (IntSwissKnife) over read-only registers (a vendor's inquiry
// registers, e.g. "bit 31 of the trigger inquiry register of the selected
// trigger") reads unavailable on zeroed memory. A camera that has the feature
// reports it, so camsim solves for register bits that make the formula true:
// for every value of the feature's selectors (the register address often
// depends on it), it sets, one at a time, the bits the formula tests (its
// masks, 1<<n for its shifts) in each read-only register the formula reads,
// and keeps the first that makes it true (a gate that a selector value makes
// true counts as open). What it cannot make true is logged at start-up
// ("genicam: availability left false"); a gate over other features only
// (no register) is left as it computes.

var gateLiteral = regexp.MustCompile(`0[xX][0-9a-fA-F]+|\b[0-9]+\b`)

// gatesLocked solves the formula gates of the features camsim simulates
// (its roles), selectors taken from all of names.
func (gc *gcCamera) gatesLocked(names []string) {
	selectors := map[string][]string{} // feature → its selectors
	for _, name := range names {
		for _, p := range gc.g.doc.Nodes[name].Props["pSelected"] {
			selectors[p.Text] = append(selectors[p.Text], name)
		}
	}
	failed := map[string]bool{}
	var simulated []string
	for _, name := range gc.f {
		if _, ok := gc.g.doc.Nodes[name]; ok {
			simulated = append(simulated, name)
		}
	}
	sort.Strings(simulated)
	for _, name := range slices.Compact(simulated) {
		n := gc.g.doc.Nodes[name]
		var gates []string
		for _, k := range []string{"pIsAvailable", "pIsImplemented"} {
			for _, p := range n.Props[k] {
				gates = append(gates, p.Text)
			}
		}
		for _, e := range n.Entries {
			gates = append(gates, e.Avail...)
		}
		for _, ref := range gates {
			if !gc.isGate(ref) {
				continue
			}
			if leaves, _ := gc.gateInputs(ref); len(leaves) == 0 {
				continue // over other features: left as it computes
			}
			if !gc.solveGateSelected(ref, selectors[name]) && !failed[ref] {
				failed[ref] = true
				gc.closed = append(gc.closed, fmt.Sprintf("%s: %s", name, ref))
			}
		}
	}
}

// solveGateSelected solves gate ref for every entry of the first selector
// (its current value where there is none), restoring the selector after.
func (gc *gcCamera) solveGateSelected(ref string, selectors []string) bool {
	for _, s := range selectors {
		sel := gc.g.doc.Nodes[s]
		old, err := gc.g.Int(s)
		if err != nil || len(sel.Entries) == 0 {
			continue
		}
		ok := false // available under one selector value at least
		for _, e := range sel.Entries {
			if gc.g.SetInt(s, e.Value) != nil {
				continue
			}
			ok = gc.solveGate(ref) || ok
		}
		_ = gc.g.SetInt(s, old)
		return ok
	}
	return gc.solveGate(ref)
}

// solveGate makes gate ref read non-zero at the present selector values.
func (gc *gcCamera) solveGate(ref string) bool {
	if v, err := gc.g.Int(ref); err == nil && v != 0 {
		return true
	}
	leaves, cands := gc.gateInputs(ref)
	for _, leaf := range leaves {
		old, err := gc.g.Int(leaf)
		if err != nil {
			continue
		}
		for _, c := range cands {
			if gc.g.SetInt(leaf, old|c) != nil {
				continue
			}
			if v, err := gc.g.Int(ref); err == nil && v != 0 {
				return true
			}
		}
		_ = gc.g.SetInt(leaf, old)
	}
	return false
}

// gateInputs lists the read-only registers gate ref reads (through nested
// formulas) and the bit values its formulas test, single bits first.
func (gc *gcCamera) gateInputs(ref string) (leaves []string, cands []int64) {
	seen, single, multi := map[string]bool{}, map[int64]bool{}, map[int64]bool{}
	var walk func(name string, depth int)
	walk = func(name string, depth int) {
		n, ok := gc.g.doc.Nodes[name]
		if !ok || seen[name] || depth > 8 {
			return
		}
		seen[name] = true
		switch n.Kind {
		case "IntSwissKnife", "SwissKnife", "IntConverter", "Converter":
			for _, lit := range gateLiteral.FindAllString(n.prop("Formula")+" "+n.prop("FormulaFrom"), -1) {
				v, err := parseGCInt(lit)
				switch {
				case err != nil || v <= 0:
				case v < 64 && bits.OnesCount64(uint64(v)) != 1:
					single[1<<v] = true
				case bits.OnesCount64(uint64(v)) == 1:
					single[v] = true
					if v < 64 {
						single[1<<v] = true
					}
				default:
					multi[v] = true
				}
			}
			for _, p := range n.Props["pVariable"] {
				walk(p.Text, depth+1)
			}
			if v := n.prop("pValue"); v != "" && depth == 0 {
				// A converter gate shows bits of its pValue register: an
				// inquiry word, whatever its access mode (Basler's are RW).
				if r, ok := gc.g.doc.Nodes[v]; ok && isRegKind(r.Kind) && !strings.EqualFold(r.prop("AccessMode"), "WO") {
					seen[v] = true
					leaves = append(leaves, v)
				}
			}
		case "IntReg", "MaskedIntReg", "StructEntry":
			if strings.EqualFold(n.prop("AccessMode"), "RO") {
				leaves = append(leaves, name)
			}
		case "Integer": // selector-indexed (Basler ace 2): one register per entry
			for _, k := range []string{"pValue", "pValueIndexed", "pValueDefault"} {
				for _, p := range n.Props[k] {
					walk(p.Text, depth+1)
				}
			}
		}
	}
	walk(ref, 0)
	if len(single)+len(multi) == 0 {
		single[1] = true // a gate that is the register (bit) itself
	}
	for _, m := range []map[int64]bool{single, multi} {
		var vs []int64
		for v := range m {
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i] > vs[j] })
		cands = append(cands, vs...)
	}
	return leaves, cands
}

func isRegKind(k string) bool { return k == "IntReg" || k == "MaskedIntReg" || k == "StructEntry" }

// isGate tells whether node ref is a gate camsim solves: a formula or
// converter, a read-only register (bit) itself, as Allied Vision's and
// FLIR's TriggerSoftware pIsImplemented (an inquiry bit), or an Integer
// indexed by a selector over such registers (Basler ace 2's TriggerMode
// entries).
func (gc *gcCamera) isGate(ref string) bool {
	g, ok := gc.g.doc.Nodes[ref]
	switch {
	case !ok:
		return false
	case g.Kind == "IntSwissKnife", g.Kind == "SwissKnife", g.Kind == "IntConverter", g.Kind == "Converter":
		return true
	case g.Kind == "Integer":
		return g.has("pValueIndexed") || g.has("pValue")
	}
	return isRegKind(g.Kind) && strings.EqualFold(g.prop("AccessMode"), "RO")
}

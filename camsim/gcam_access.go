package camsim

import (
	"fmt"
	"slices"
)

// What GVCP may do with each word of an impersonated camera, from its XML
// at load (GigE Vision 2.0 §15.3 status codes): a write to a word only
// read-only registers cover is WRITE_PROTECT; an access to a word no
// register covers is INVALID_ADDRESS (bootstrap words are always served);
// a write that leaves a feature outside its Min/Max or off its enumeration
// entries is INVALID_PARAMETER, and the word keeps its value.

// gcAccess is the word map of the XML's registers.
type gcAccess struct {
	mapped   map[uint32]bool // word → a register covers it; true: a writable one
	open     bool            // some register's words are not known at load: unmapped words are memory
	openWhy  string
	checked  map[uint32][]string // a feature register's last word → features checked on its write
	maxIndex int64               // pIndex ranges wider than this leave the map open
}

func (a *gcAccess) add(addr uint64, length int, writable bool) {
	if addr >= 1<<32 || length <= 0 {
		return
	}
	for w := uint32(addr) &^ 3; uint64(w) < addr+uint64(length); w += 4 {
		a.mapped[w] = a.mapped[w] || writable
		if w+4 < w {
			break
		}
	}
}

func isRegisterKind(k string) bool {
	switch k {
	case "IntReg", "MaskedIntReg", "StructEntry", "Register", "FloatReg", "StringReg":
		return true
	}
	return false
}

// buildAccessLocked maps every register of the XML: constant addresses,
// pAddress as it resolves at load, pIndex over its index's Min..Max.
func (gc *gcCamera) buildAccessLocked() {
	a := &gcAccess{mapped: map[uint32]bool{}, checked: map[uint32][]string{}, maxIndex: 4096}
	names := make([]string, 0, len(gc.g.doc.Nodes))
	for name := range gc.g.doc.Nodes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		n := gc.g.doc.Nodes[name]
		if !isRegisterKind(n.Kind) {
			continue
		}
		if err := gc.mapRegister(a, n); err != nil && !a.open {
			a.open, a.openWhy = true, err.Error()
		}
	}
	for _, name := range names {
		n := gc.g.doc.Nodes[name]
		if !checkable(n) {
			continue
		}
		if _, r, err := gc.g.registerOf(name); err == nil && r.addr < 1<<32 && r.length >= 4 {
			last := uint32(r.addr+uint64(r.length)-4) &^ 3
			a.checked[last] = append(a.checked[last], name)
		}
	}
	gc.acc = a
	if a.open {
		gc.c.log.Info("genicam: unmapped addresses served as memory", "reason", a.openWhy)
	}
}

// mapRegister adds the words register node n can cover.
func (gc *gcCamera) mapRegister(a *gcAccess, n *gcNode) error {
	r, err := gc.g.reg(n)
	if err != nil {
		return err
	}
	writable := n.prop("AccessMode") != "RO"
	a.add(r.addr, r.length, writable)
	for _, ix := range n.Props["pIndex"] {
		cur, err := gc.g.Int(ix.Text)
		if err != nil {
			return err
		}
		lo, hi, ok := gc.indexRange(ix.Text)
		if !ok || hi-lo > a.maxIndex {
			return fmt.Errorf("%s %s: pIndex %s has no bounded range", n.Kind, n.Name, ix.Text)
		}
		off := int64(0)
		if s, ok := ix.Attrs["Offset"]; ok {
			off, _ = parseGCInt(s)
		} else if s, ok := ix.Attrs["pOffset"]; ok {
			off, _ = gc.g.Int(s)
		}
		base := int64(r.addr) - cur*off
		for i := int64(lo); i <= int64(hi); i++ {
			a.add(uint64(base+i*off), r.length, writable)
		}
	}
	return nil
}

// indexRange is the range of values index node name takes: its own
// Min..Max or entries, else those of a feature whose pValue it is (a
// selector's register).
func (gc *gcCamera) indexRange(name string) (lo, hi int64, ok bool) {
	if lo, hi, ok := gc.nodeRange(gc.g.doc.Nodes[name]); ok {
		return lo, hi, true
	}
	for _, n := range gc.g.doc.Nodes {
		if n.prop("pValue") == name {
			if lo, hi, ok := gc.nodeRange(n); ok {
				return lo, hi, true
			}
		}
	}
	return 0, 0, false
}

func (gc *gcCamera) nodeRange(n *gcNode) (lo, hi int64, ok bool) {
	if n == nil {
		return 0, 0, false
	}
	if len(n.Entries) > 0 {
		lo, hi = n.Entries[0].Value, n.Entries[0].Value
		for _, e := range n.Entries {
			lo, hi = min(lo, e.Value), max(hi, e.Value)
		}
		return lo, hi, true
	}
	l, err1 := gc.bound(n, "Min")
	h, err2 := gc.bound(n, "Max")
	return int64(l), int64(h), err1 == nil && err2 == nil && l <= h
}

// checkable: a feature whose written value the XML bounds.
func checkable(n *gcNode) bool {
	switch n.Kind {
	case "Enumeration":
		return len(n.Entries) > 0
	case "Integer", "Float":
		return (n.has("Min") || n.has("pMin")) && (n.has("Max") || n.has("pMax"))
	}
	return false
}

// accessLocked is the status of an access to addr before it happens.
func (gc *gcCamera) accessLocked(addr uint32, write bool) Status {
	w, ok := gc.acc.mapped[addr]
	switch {
	case !ok && addr < bootstrapSize:
		if write {
			return StatusWriteProtect // the static bootstrap content
		}
		return StatusSuccess
	case !ok && !gc.acc.open:
		return StatusInvalidAddress
	case ok && write && !w:
		return StatusWriteProtect
	}
	return StatusSuccess
}

// outOfRangeLocked names a feature the write of addr left outside what
// the XML allows ("" when none).
func (gc *gcCamera) outOfRangeLocked(addr uint32) string {
	for _, name := range gc.acc.checked[addr] {
		n := gc.g.doc.Nodes[name]
		if _, r, err := gc.g.registerOf(name); err != nil || uint32(r.addr+uint64(r.length)-4)&^3 != addr {
			continue // a selector moved it elsewhere
		}
		if n.Kind == "Enumeration" {
			if v, err := gc.g.Int(name); err == nil {
				if _, ok := entryByValue(n, v); !ok {
					return name
				}
			}
			continue
		}
		v, err := gc.g.Float(name)
		lo, err1 := gc.bound(n, "Min")
		hi, err2 := gc.bound(n, "Max")
		if err == nil && err1 == nil && err2 == nil && !(v >= lo && v <= hi) {
			return name
		}
	}
	return ""
}

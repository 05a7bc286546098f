package camsim

import (
	"cmp"
	"fmt"
	"math"
	"strings"
)

// SetInt makes node name evaluate to v by writing the registers (or local
// values) behind it.
func (g *gcGraph) SetInt(name string, v int64) error {
	n, leave, err := g.visit(name)
	if err != nil {
		return err
	}
	defer leave()
	if isFloatKind(n.Kind) {
		return g.SetFloat(name, float64(v))
	}
	switch n.Kind {
	case "IntReg", "MaskedIntReg", "StructEntry", "Register":
		return g.writeInt(n, v)
	case "IntSwissKnife":
		return g.invertKnife(n, v)
	case "IntConverter":
		to, err := g.evalKnifeInt(n, n.prop("FormulaTo"), map[string]int64{"FROM": v})
		if err != nil {
			return err
		}
		return g.SetInt(n.prop("pValue"), to)
	case "Boolean":
		on, off := int64(1), int64(0)
		if n.has("OnValue") {
			on, _ = parseGCInt(n.prop("OnValue"))
		}
		if n.has("OffValue") {
			off, _ = parseGCInt(n.prop("OffValue"))
		}
		if v != 0 {
			v = on
		} else {
			v = off
		}
	}
	if t, err := g.indexed(n); t != "" || err != nil {
		if err != nil || strings.HasPrefix(t, "=") {
			return err // a constant stays what it is
		}
		return g.SetInt(t, v)
	}
	if n.has("pValue") {
		return g.SetInt(n.prop("pValue"), v)
	}
	g.local[n.Name] = float64(v)
	return nil
}

// SetFloat makes node name evaluate to f.
func (g *gcGraph) SetFloat(name string, f float64) error {
	n, leave, err := g.visit(name)
	if err != nil {
		return err
	}
	defer leave()
	switch n.Kind {
	case "FloatReg":
		r, err := g.reg(n)
		if err != nil {
			return err
		}
		switch r.length {
		case 4:
			g.rawWrite(r, uint64(math.Float32bits(float32(f))))
		case 8:
			g.rawWrite(r, math.Float64bits(f))
		default:
			return fmt.Errorf("FloatReg %s: length %d", n.Name, r.length)
		}
		return nil
	case "Converter":
		to, err := g.evalKnifeFloat(n, n.prop("FormulaTo"), map[string]float64{"FROM": f})
		if err != nil {
			return err
		}
		return g.SetFloat(n.prop("pValue"), to)
	case "SwissKnife":
		return g.invertKnife(n, int64(math.Round(f)))
	case "Float":
		if n.has("pValue") {
			return g.SetFloat(n.prop("pValue"), f)
		}
		g.local[n.Name] = f
		return nil
	}
	return g.SetInt(name, int64(math.Round(f)))
}

// SetEntry sets an Enumeration to the entry named entry.
func (g *gcGraph) SetEntry(name, entry string) error {
	n, err := g.node(name)
	if err != nil {
		return err
	}
	e, ok := n.entry(entry)
	if !ok {
		return fmt.Errorf("%s has no entry %s", name, entry)
	}
	return g.SetInt(name, e.Value)
}

// Entry is the name of the entry an Enumeration reads as ("" when none).
func (g *gcGraph) Entry(name string) (string, error) {
	n, err := g.node(name)
	if err != nil {
		return "", err
	}
	v, err := g.Int(name)
	if err != nil {
		return "", err
	}
	for _, e := range n.Entries {
		if e.Value == v {
			return e.Name, nil
		}
	}
	return "", nil
}

// invertKnife writes the variables of a formula node so that it evaluates
// to v. It handles the forms real XMLs use for values camsim writes: a
// linear function of one register (a·X + b), and of two registers joined
// as one 64-bit value (a·((HI<<32)|LO) + b), found by probing the formula.
func (g *gcGraph) invertKnife(n *gcNode, v int64) error {
	var vars []string
	for _, p := range n.Props["pVariable"] {
		if vn, err := g.node(p.Text); err == nil && isWritableKind(vn.Kind) {
			vars = append(vars, p.Text)
		}
	}
	eval := func(vals ...int64) (int64, error) {
		for i, name := range vars {
			g.override[name] = vals[i]
		}
		defer func() {
			for _, name := range vars {
				delete(g.override, name)
			}
		}()
		if isFloatKind(n.Kind) {
			f, err := g.evalKnifeFloat(n, n.prop("Formula"), nil)
			return int64(math.Round(f)), err
		}
		return g.evalKnifeInt(n, n.prop("Formula"), nil)
	}
	switch len(vars) {
	case 1:
		b, err := eval(0)
		if err != nil {
			return err
		}
		a, err := eval(1)
		if err != nil || a == b {
			return fmt.Errorf("%s %s: formula is not invertible in %s", n.Kind, n.Name, vars[0])
		}
		x := (v - b) / (a - b)
		if got, err := eval(x); err != nil || got != v-(v-b)%(a-b) {
			return fmt.Errorf("%s %s: formula is not linear in %s", n.Kind, n.Name, vars[0])
		}
		return g.SetInt(vars[0], x)
	case 2:
		for _, o := range [][2]int{{0, 1}, {1, 0}} {
			hi, lo := o[0], o[1]
			vals := func(h, l int64) []int64 { r := make([]int64, 2); r[hi], r[lo] = h, l; return r }
			b, err1 := eval(vals(0, 0)...)
			a, err2 := eval(vals(0, 1)...)
			ah, err3 := eval(vals(1, 0)...)
			if err1 != nil || err2 != nil || err3 != nil || a == b || ah-b != (a-b)<<32 {
				continue
			}
			x := (v - b) / (a - b)
			if err := g.SetInt(vars[hi], int64(uint64(x)>>32)); err != nil {
				return err
			}
			return g.SetInt(vars[lo], x&0xFFFFFFFF)
		}
	}
	if err := g.invertByIdentity(n, vars, v); err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: cannot invert formula %q over %d register variables", n.Kind, n.Name, n.prop("Formula"), len(vars))
}

// invertByIdentity handles any other form: one variable set to v itself,
// the others as they are, when that reads back v (a maximum rounded to an
// increment). A variable still reading 0 that the formula divides by is set
// to 1.
func (g *gcGraph) invertByIdentity(n *gcNode, vars []string, v int64) error {
	for _, name := range vars {
		g.override[name] = v
		got, err := eval2(g, n)
		var ones []string
		if err != nil {
			for _, o := range vars {
				if x, _ := g.Int(o); o != name && x == 0 {
					g.override[o] = 1
					ones = append(ones, o)
				}
			}
			got, err = eval2(g, n)
		}
		for _, o := range append(ones, name) {
			delete(g.override, o)
		}
		if err == nil && got == v {
			for _, o := range ones {
				if err := g.SetInt(o, 1); err != nil {
					return err
				}
			}
			return g.SetInt(name, v)
		}
	}
	return fmt.Errorf("no variable reads back")
}

func isWritableKind(k string) bool {
	switch k {
	case "IntReg", "MaskedIntReg", "StructEntry", "Register", "FloatReg", "Integer", "IntConverter", "Float", "Converter":
		return true
	}
	return false
}

// registerOf follows pValue from a feature to the register node that holds
// its value and resolves it ("" and an error naming the reason when there
// is none).
func (g *gcGraph) registerOf(name string) (*gcNode, gcReg, error) {
	for range 32 {
		n, err := g.node(name)
		if err != nil {
			return nil, gcReg{}, err
		}
		switch n.Kind {
		case "IntReg", "MaskedIntReg", "StructEntry", "Register", "FloatReg", "StringReg":
			r, err := g.reg(n)
			return n, r, err
		}
		t, err := g.indexed(n)
		if err != nil {
			return nil, gcReg{}, err
		}
		if t == "" && !n.has("pValue") {
			return nil, gcReg{}, fmt.Errorf("%s %s has no register (pValue) behind it", n.Kind, n.Name)
		}
		name = cmp.Or(t, n.prop("pValue"))
	}
	return nil, gcReg{}, fmt.Errorf("%s: pValue chain too long", name)
}

func eval2(g *gcGraph, n *gcNode) (int64, error) {
	if isFloatKind(n.Kind) {
		f, err := g.evalKnifeFloat(n, n.prop("Formula"), nil)
		return int64(math.Round(f)), err
	}
	return g.evalKnifeInt(n, n.prop("Formula"), nil)
}

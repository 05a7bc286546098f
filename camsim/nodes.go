package camsim

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// gcGraph evaluates and writes GenICam nodes against the camera's register
// memory, following the node rules of GenApi (as Aravis' arvgc*.c nodes
// do): Integer/Float/Boolean/Enumeration/Command → pValue → IntReg,
// MaskedIntReg, StructEntry, FloatReg, StringReg; addresses from Address,
// pAddress and pIndex (Offset/pOffset); value formulas of IntSwissKnife,
// SwissKnife, IntConverter and Converter. Writing is the inverse path: the
// register value that makes the feature read what camsim simulates.
type gcGraph struct {
	doc      *genicamDoc
	mem      gcMemory
	local    map[string]float64 // written values of nodes without pValue
	override map[string]int64   // probe values while inverting a formula
	formulas map[string]*fnode
	depth    int
}

// gcMemory is the device memory behind the graph.
type gcMemory interface {
	readMem(addr uint64, b []byte)
	writeMem(addr uint64, b []byte)
}

func newGraph(doc *genicamDoc, mem gcMemory) *gcGraph {
	return &gcGraph{doc: doc, mem: mem, local: map[string]float64{}, override: map[string]int64{}, formulas: map[string]*fnode{}}
}

func parseGCInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return v, nil
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return int64(u), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return int64(f), nil
}

func (g *gcGraph) node(name string) (*gcNode, error) {
	if strings.HasPrefix(name, "=") {
		return nil, fmt.Errorf("constant %s is no node", name[1:])
	}
	n, ok := g.doc.Nodes[strings.TrimSpace(name)]
	if !ok {
		return nil, fmt.Errorf("node %q not declared", name)
	}
	return n, nil
}

func isFloatKind(k string) bool {
	return k == "Float" || k == "FloatReg" || k == "SwissKnife" || k == "Converter"
}

// visit enters node name for evaluation: its node, and leave to call
// once done. A reference loop ends at depth 64, leaving the depth as it
// was.
func (g *gcGraph) visit(name string) (n *gcNode, leave func(), err error) {
	g.depth++
	leave = func() { g.depth-- }
	if g.depth > 64 {
		leave()
		return nil, nil, fmt.Errorf("node %s: reference loop", name)
	}
	if n, err = g.node(name); err != nil {
		leave()
		return nil, nil, err
	}
	return n, leave, nil
}

// Int is the integer value of node name.
func (g *gcGraph) Int(name string) (int64, error) {
	if v, ok := g.override[name]; ok {
		return v, nil
	}
	if c, ok := strings.CutPrefix(name, "="); ok {
		return parseGCInt(c) // ValueIndexed constant
	}
	n, leave, err := g.visit(name)
	if err != nil {
		return 0, err
	}
	defer leave()
	if isFloatKind(n.Kind) {
		f, err := g.Float(name)
		return int64(math.Round(f)), err
	}
	switch n.Kind {
	case "IntReg", "MaskedIntReg", "StructEntry", "Register", "IntKey":
		return g.readInt(n)
	case "IntSwissKnife":
		return g.evalKnifeInt(n, n.prop("Formula"), nil)
	case "IntConverter":
		return g.evalConverterInt(n)
	case "Boolean":
		raw, err := g.valueOf(n)
		if err != nil {
			return 0, err
		}
		on := int64(1)
		if n.has("OnValue") {
			on, _ = parseGCInt(n.prop("OnValue"))
		}
		if raw == on {
			return 1, nil
		}
		return 0, nil
	}
	return g.valueOf(n)
}

// indexed is the node an Integer with pIndex and pValueIndexed reads now
// ("" when it has none).
func (g *gcGraph) indexed(n *gcNode) (string, error) {
	if !n.has("pValueIndexed") && !n.has("ValueIndexed") && !n.has("pValueDefault") {
		return "", nil
	}
	i, err := g.Int(n.prop("pIndex"))
	if err != nil {
		return "", fmt.Errorf("%s %s: pIndex: %w", n.Kind, n.Name, err)
	}
	for _, p := range n.Props["pValueIndexed"] {
		if x, err := parseGCInt(p.Attrs["Index"]); err == nil && x == i {
			return p.Text, nil
		}
	}
	for _, p := range n.Props["ValueIndexed"] {
		if x, err := parseGCInt(p.Attrs["Index"]); err == nil && x == i {
			return "=" + p.Text, nil // a constant
		}
	}
	if n.has("pValueDefault") {
		return n.prop("pValueDefault"), nil
	}
	return "", fmt.Errorf("%s %s: no value for index %d", n.Kind, n.Name, i)
}

// valueOf reads pValue (or the indexed value), else a written local value,
// else Value.
func (g *gcGraph) valueOf(n *gcNode) (int64, error) {
	if t, err := g.indexed(n); t != "" || err != nil {
		if err != nil {
			return 0, err
		}
		return g.Int(t)
	}
	if n.has("pValue") {
		return g.Int(n.prop("pValue"))
	}
	if v, ok := g.local[n.Name]; ok {
		return int64(v), nil
	}
	if n.has("Value") {
		return parseGCInt(n.prop("Value"))
	}
	if n.Kind == "Command" && n.has("CommandValue") {
		return 0, nil
	}
	return 0, fmt.Errorf("%s %s has neither pValue nor Value", n.Kind, n.Name)
}

// Float is the floating point value of node name.
func (g *gcGraph) Float(name string) (float64, error) {
	n, leave, err := g.visit(name)
	if err != nil {
		return 0, err
	}
	defer leave()
	switch n.Kind {
	case "FloatReg":
		r, err := g.reg(n)
		if err != nil {
			return 0, err
		}
		b := make([]byte, r.length)
		g.mem.readMem(r.addr, b)
		if r.length == 4 {
			return float64(math.Float32frombits(uint32(r.order().Uint32(b)))), nil
		}
		if r.length == 8 {
			return math.Float64frombits(r.order().Uint64(b)), nil
		}
		return 0, fmt.Errorf("FloatReg %s: length %d", n.Name, r.length)
	case "SwissKnife":
		return g.evalKnifeFloat(n, n.prop("Formula"), nil)
	case "Converter":
		to, err := g.Float(n.prop("pValue"))
		if err != nil {
			return 0, err
		}
		return g.evalKnifeFloat(n, n.prop("FormulaFrom"), map[string]float64{"TO": to})
	case "Float":
		if n.has("pValue") {
			return g.Float(n.prop("pValue"))
		}
		if v, ok := g.local[n.Name]; ok {
			return v, nil
		}
		return strconv.ParseFloat(strings.TrimSpace(n.prop("Value")), 64)
	}
	v, err := g.Int(name)
	return float64(v), err
}

func (g *gcGraph) formula(src string) (*fnode, error) {
	if f, ok := g.formulas[src]; ok {
		return f, nil
	}
	f, err := parseFormula(src)
	if err != nil {
		return nil, err
	}
	g.formulas[src] = f
	return f, nil
}

// knifeVars lists a formula node's variables: pVariable, Constant, Expression.
func (g *gcGraph) knifeVar(n *gcNode, name string) (string, float64, bool, error) {
	for _, p := range n.Props["pVariable"] {
		if p.Attrs["Name"] == name {
			return p.Text, 0, false, nil
		}
	}
	for _, p := range n.Props["Constant"] {
		if p.Attrs["Name"] == name {
			f, err := strconv.ParseFloat(p.Text, 64)
			if err != nil {
				iv, err2 := parseGCInt(p.Text)
				return "", float64(iv), true, err2
			}
			return "", f, true, err
		}
	}
	return "", 0, false, fmt.Errorf("%s %s: variable %s not declared", n.Kind, n.Name, name)
}

func (g *gcGraph) evalKnifeInt(n *gcNode, src string, extra map[string]int64) (int64, error) {
	return evalKnife(g, n, src, extra, (*fnode).evalInt, g.Int)
}

func (g *gcGraph) evalKnifeFloat(n *gcNode, src string, extra map[string]float64) (float64, error) {
	return evalKnife(g, n, src, extra, (*fnode).evalFloat, g.Float)
}

// evalKnife evaluates formula src of swiss knife or converter n in T's
// arithmetic: variables from extra (FROM/TO), the node's Expressions, its
// constants, else the nodes they name.
func evalKnife[T int64 | float64](g *gcGraph, n *gcNode, src string, extra map[string]T,
	eval func(*fnode, func(string) (T, error)) (T, error), value func(string) (T, error)) (T, error) {
	f, err := g.formula(src)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", n.Kind, n.Name, err)
	}
	v, err := eval(f, func(name string) (T, error) {
		if v, ok := extra[name]; ok {
			return v, nil
		}
		if e := expression(n, name); e != "" {
			return evalKnife(g, n, e, extra, eval, value)
		}
		node, c, isConst, err := g.knifeVar(n, name)
		if err != nil || isConst {
			return T(c), err
		}
		return value(node)
	})
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", n.Kind, n.Name, err)
	}
	return v, nil
}

func expression(n *gcNode, name string) string {
	for _, p := range n.Props["Expression"] {
		if p.Attrs["Name"] == name {
			return p.Text
		}
	}
	return ""
}

func (g *gcGraph) evalConverterInt(n *gcNode) (int64, error) {
	to, err := g.Int(n.prop("pValue"))
	if err != nil {
		return 0, err
	}
	return g.evalKnifeInt(n, n.prop("FormulaFrom"), map[string]int64{"TO": to})
}

// String reads a StringReg (or a String node with pValue).
func (g *gcGraph) String(name string) (string, error) {
	n, err := g.node(name)
	if err != nil {
		return "", err
	}
	if n.Kind == "String" {
		if n.has("pValue") {
			return g.String(n.prop("pValue"))
		}
		return n.prop("Value"), nil
	}
	if n.Kind != "StringReg" {
		return "", fmt.Errorf("%s %s is not a string", n.Kind, n.Name)
	}
	r, err := g.reg(n)
	if err != nil {
		return "", err
	}
	b := make([]byte, r.length)
	g.mem.readMem(r.addr, b)
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}

// SetString writes a StringReg (NUL-padded).
func (g *gcGraph) SetString(name, s string) error {
	n, err := g.node(name)
	if err != nil {
		return err
	}
	if n.Kind == "String" && n.has("pValue") {
		return g.SetString(n.prop("pValue"), s)
	}
	if n.Kind != "StringReg" {
		return fmt.Errorf("%s %s is not a StringReg", n.Kind, n.Name)
	}
	r, err := g.reg(n)
	if err != nil {
		return err
	}
	b := make([]byte, r.length)
	copy(b[:max(0, len(b)-1)], s)
	g.mem.writeMem(r.addr, b)
	return nil
}

// gcReg is a resolved register: where it is and how its bits read.
type gcReg struct {
	addr   uint64
	length int
	big    bool
	signed bool
	shift  uint // of the masked field, in the little-endian value
	width  uint // bits of the field; 0: whole register
}

func (r gcReg) order() binary.ByteOrder {
	if r.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// reg resolves the register of a register node with the current selector
// values.
func (g *gcGraph) reg(n *gcNode) (gcReg, error) {
	var r gcReg
	for _, a := range n.Props["Address"] {
		v, err := parseGCInt(a.Text)
		if err != nil {
			return r, fmt.Errorf("%s %s: Address: %w", n.Kind, n.Name, err)
		}
		r.addr += uint64(v)
	}
	for _, a := range n.Props["pAddress"] {
		v, err := g.Int(a.Text)
		if err != nil {
			return r, fmt.Errorf("%s %s: pAddress: %w", n.Kind, n.Name, err)
		}
		r.addr += uint64(v)
	}
	for _, ix := range n.Props["pIndex"] {
		i, err := g.Int(ix.Text)
		if err != nil {
			return r, fmt.Errorf("%s %s: pIndex: %w", n.Kind, n.Name, err)
		}
		off := int64(0)
		if s, ok := ix.Attrs["Offset"]; ok {
			off, err = parseGCInt(s)
		} else if s, ok := ix.Attrs["pOffset"]; ok {
			off, err = g.Int(s)
		}
		if err != nil {
			return r, fmt.Errorf("%s %s: pIndex offset: %w", n.Kind, n.Name, err)
		}
		r.addr += uint64(i * off)
	}
	if !n.has("Address") && !n.has("pAddress") {
		return r, fmt.Errorf("%s %s has no Address", n.Kind, n.Name)
	}
	l := int64(4)
	var err error
	if n.has("Length") {
		l, err = parseGCInt(n.prop("Length"))
	} else if n.has("pLength") {
		l, err = g.Int(n.prop("pLength"))
	}
	if err != nil || l <= 0 || l > 1<<20 {
		return r, fmt.Errorf("%s %s: bad Length", n.Kind, n.Name)
	}
	r.length = int(l)
	r.big = n.prop("Endianess") == "BigEndian"
	r.signed = n.prop("Sign") == "Signed"
	return r, g.mask(n, &r)
}

// mask sets the bit field of a MaskedIntReg or StructEntry. GenICam numbers
// bits from the least significant one for LittleEndian and from the most
// significant one for BigEndian registers.
func (g *gcGraph) mask(n *gcNode, r *gcReg) error {
	var lsb, msb int64
	var err error
	switch {
	case n.has("Bit"):
		lsb, err = parseGCInt(n.prop("Bit"))
		msb = lsb
	case n.has("LSB") || n.has("MSB"):
		lsb, err = parseGCInt(n.prop("LSB"))
		if err == nil {
			msb, err = parseGCInt(n.prop("MSB"))
		}
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: bit field: %w", n.Kind, n.Name, err)
	}
	bits := int64(8 * r.length)
	if r.big {
		lsb, msb = bits-1-lsb, bits-1-msb
	}
	if lsb > msb {
		lsb, msb = msb, lsb
	}
	if lsb < 0 || msb >= bits || bits > 64 {
		return fmt.Errorf("%s %s: bits %d..%d outside a %d-byte register", n.Kind, n.Name, lsb, msb, r.length)
	}
	r.shift, r.width = uint(lsb), uint(msb-lsb+1)
	return nil
}

func (g *gcGraph) rawRead(r gcReg) (uint64, error) {
	if r.length > 8 {
		return 0, fmt.Errorf("register of %d bytes is no integer", r.length)
	}
	b := make([]byte, 8)
	g.mem.readMem(r.addr, b[:r.length])
	if r.big {
		var v uint64
		for _, x := range b[:r.length] {
			v = v<<8 | uint64(x)
		}
		return v, nil
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (g *gcGraph) rawWrite(r gcReg, v uint64) {
	b := make([]byte, r.length)
	for i := range r.length {
		if r.big {
			b[r.length-1-i] = byte(v >> (8 * i))
		} else {
			b[i] = byte(v >> (8 * i))
		}
	}
	g.mem.writeMem(r.addr, b)
}

func (g *gcGraph) readInt(n *gcNode) (int64, error) {
	r, err := g.reg(n)
	if err != nil {
		return 0, err
	}
	raw, err := g.rawRead(r)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", n.Kind, n.Name, err)
	}
	width := uint(8 * r.length)
	if r.width > 0 {
		raw, width = raw>>r.shift&(1<<r.width-1), r.width
	}
	if r.signed && width < 64 && raw&(1<<(width-1)) != 0 {
		return int64(raw) - int64(1)<<width, nil
	}
	return int64(raw), nil
}

func (g *gcGraph) writeInt(n *gcNode, v int64) error {
	r, err := g.reg(n)
	if err != nil {
		return err
	}
	if r.length > 8 {
		return fmt.Errorf("%s %s: register of %d bytes is no integer", n.Kind, n.Name, r.length)
	}
	g.writeField(r, v)
	return nil
}

// writeField writes v into resolved register r (of at most 8 bytes), into
// its bit field where masked.
func (g *gcGraph) writeField(r gcReg, v int64) {
	if r.width == 0 {
		g.rawWrite(r, uint64(v))
		return
	}
	raw, _ := g.rawRead(r)
	m := uint64(1)<<r.width - 1
	raw = raw&^(m<<r.shift) | (uint64(v)&m)<<r.shift
	g.rawWrite(r, raw)
}

// evalConst parses a constant property (Min, Max...) as a number.
func (g *gcGraph) evalConst(s string) (float64, error) {
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return f, nil
	}
	v, err := parseGCInt(s)
	return float64(v), err
}

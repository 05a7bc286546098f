package camsim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// GenICam formulas (SwissKnife, IntSwissKnife, Converter): C-like
// expressions with the GenApi operators ( ) ?: || && | ^ & = <> < > <= >=
// << >> + - * / % ** ~ ! and, in float formulas, the functions SGN NEG ATAN
// COS SIN TAN ABS EXP LN LG SQRT TRUNC FLOOR CEIL ROUND and constants PI, E.
// Integer formulas compute in int64 (the TIS latch value 1000·((HI<<32)|LO)
// needs all 64 bits), float ones in float64.

type fnode struct {
	op   string // "num", "var", "call", or an operator; "neg", "not", "inv" unary
	num  float64
	inum int64
	name string
	args []*fnode
}

type ftok struct {
	kind string // "num", "id", "op", "end"
	text string
}

func lexFormula(s string) ([]ftok, error) {
	var toks []ftok
	ops := []string{"**", "<<", ">>", "<=", ">=", "<>", "&&", "||", "(", ")", "?", ":", "|", "^", "&", "=", "<", ">", "+", "-", "*", "/", "%", "~", "!", ","}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9' || c == '.':
			j := i + 1
			if c == '0' && j < len(s) && (s[j] == 'x' || s[j] == 'X') {
				j++
				for j < len(s) && strings.ContainsRune("0123456789abcdefABCDEF", rune(s[j])) {
					j++
				}
			} else {
				for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
					(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
					j++
				}
			}
			toks = append(toks, ftok{"num", s[i:j]})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, ftok{"id", s[i:j]})
			i = j
		default:
			found := false
			for _, op := range ops {
				if strings.HasPrefix(s[i:], op) {
					toks = append(toks, ftok{"op", op})
					i += len(op)
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("formula %q: unexpected %q at %d", s, c, i)
			}
		}
	}
	return append(toks, ftok{"end", ""}), nil
}

// Binary operator precedence, low to high.
var fprec = map[string]int{
	"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "=": 6, "<>": 6,
	"<": 7, ">": 7, "<=": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9,
	"*": 10, "/": 10, "%": 10, "**": 11,
}

type fparser struct {
	src  string
	toks []ftok
	pos  int
}

func parseFormula(s string) (*fnode, error) {
	toks, err := lexFormula(s)
	if err != nil {
		return nil, err
	}
	p := &fparser{src: s, toks: toks}
	n, err := p.ternary()
	if err != nil {
		return nil, err
	}
	if t := p.toks[p.pos]; t.kind != "end" {
		return nil, fmt.Errorf("formula %q: unexpected %q", s, t.text)
	}
	return n, nil
}

func (p *fparser) next() ftok { t := p.toks[p.pos]; p.pos++; return t }
func (p *fparser) peek() ftok { return p.toks[p.pos] }

func (p *fparser) ternary() (*fnode, error) {
	c, err := p.binary(1)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == "op" && t.text == "?" {
		p.next()
		a, err := p.ternary()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.text != ":" {
			return nil, fmt.Errorf("formula %q: want ':' after '?'", p.src)
		}
		b, err := p.ternary()
		if err != nil {
			return nil, err
		}
		return &fnode{op: "?", args: []*fnode{c, a, b}}, nil
	}
	return c, nil
}

func (p *fparser) binary(min int) (*fnode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		pr, ok := fprec[t.text]
		if t.kind != "op" || !ok || pr < min {
			return l, nil
		}
		p.next()
		next := pr + 1
		if t.text == "**" {
			next = pr // right-associative
		}
		r, err := p.binary(next)
		if err != nil {
			return nil, err
		}
		l = &fnode{op: t.text, args: []*fnode{l, r}}
	}
}

func (p *fparser) unary() (*fnode, error) {
	t := p.next()
	switch {
	case t.kind == "op" && (t.text == "-" || t.text == "+" || t.text == "~" || t.text == "!"):
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return a, nil
		}
		return &fnode{op: map[string]string{"-": "neg", "~": "inv", "!": "not"}[t.text], args: []*fnode{a}}, nil
	case t.kind == "op" && t.text == "(":
		a, err := p.ternary()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.text != ")" {
			return nil, fmt.Errorf("formula %q: missing ')'", p.src)
		}
		return a, nil
	case t.kind == "num":
		return numNode(p.src, t.text)
	case t.kind == "id":
		if p.peek().text == "(" {
			p.next()
			var args []*fnode
			for p.peek().text != ")" {
				a, err := p.ternary()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if p.peek().text == "," {
					p.next()
				} else if p.peek().text != ")" {
					return nil, fmt.Errorf("formula %q: bad arguments of %s", p.src, t.text)
				}
			}
			p.next()
			return &fnode{op: "call", name: strings.ToUpper(t.text), args: args}, nil
		}
		return &fnode{op: "var", name: t.text}, nil
	}
	return nil, fmt.Errorf("formula %q: unexpected %q", p.src, t.text)
}

func numNode(src, s string) (*fnode, error) {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return &fnode{op: "num", inum: i, num: float64(i)}, nil
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return &fnode{op: "num", inum: int64(u), num: float64(u)}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("formula %q: bad number %q", src, s)
	}
	return &fnode{op: "num", inum: int64(f), num: f}, nil
}

// evalInt evaluates n in 64-bit integer arithmetic.
func (n *fnode) evalInt(vars func(string) (int64, error)) (int64, error) {
	switch n.op {
	case "num":
		return n.inum, nil
	case "var":
		return vars(n.name)
	case "call":
		f, err := n.evalFloat(func(s string) (float64, error) { v, err := vars(s); return float64(v), err })
		return int64(f), err
	}
	a := make([]int64, len(n.args))
	for i, x := range n.args {
		if n.op == "?" && i > 0 {
			break
		}
		v, err := x.evalInt(vars)
		if err != nil {
			return 0, err
		}
		a[i] = v
	}
	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	switch n.op {
	case "?":
		if a[0] != 0 {
			return n.args[1].evalInt(vars)
		}
		return n.args[2].evalInt(vars)
	case "neg":
		return -a[0], nil
	case "inv":
		return ^a[0], nil
	case "not":
		return b2i(a[0] == 0), nil
	case "/", "%":
		if a[1] == 0 {
			return 0, fmt.Errorf("division by zero")
		}
		if n.op == "/" {
			return a[0] / a[1], nil
		}
		return a[0] % a[1], nil
	case "**":
		return int64(math.Pow(float64(a[0]), float64(a[1]))), nil
	}
	return intBinary(n.op, a[0], a[1])
}

func intBinary(op string, x, y int64) (int64, error) {
	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	switch op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "&":
		return x & y, nil
	case "|":
		return x | y, nil
	case "^":
		return x ^ y, nil
	case "<<":
		return x << uint64(y&63), nil
	case ">>":
		return int64(uint64(x) >> uint64(y&63)), nil
	case "=":
		return b2i(x == y), nil
	case "<>":
		return b2i(x != y), nil
	case "<":
		return b2i(x < y), nil
	case ">":
		return b2i(x > y), nil
	case "<=":
		return b2i(x <= y), nil
	case ">=":
		return b2i(x >= y), nil
	case "&&":
		return b2i(x != 0 && y != 0), nil
	case "||":
		return b2i(x != 0 || y != 0), nil
	}
	return 0, fmt.Errorf("operator %q", op)
}

var ffuncs = map[string]func(float64) float64{
	"SGN": func(x float64) float64 {
		if x > 0 {
			return 1
		} else if x < 0 {
			return -1
		}
		return 0
	},
	"NEG": func(x float64) float64 { return -x }, "ATAN": math.Atan, "COS": math.Cos, "SIN": math.Sin,
	"TAN": math.Tan, "ABS": math.Abs, "EXP": math.Exp, "LN": math.Log, "LG": math.Log10, "SQRT": math.Sqrt,
	"TRUNC": math.Trunc, "FLOOR": math.Floor, "CEIL": math.Ceil, "ROUND": math.Round,
	"ASIN": math.Asin, "ACOS": math.Acos,
}

// evalFloat evaluates n in float64 arithmetic (bit operators on the
// truncated integers).
func (n *fnode) evalFloat(vars func(string) (float64, error)) (float64, error) {
	switch n.op {
	case "num":
		return n.num, nil
	case "var":
		switch n.name {
		case "PI":
			return math.Pi, nil
		case "E":
			return math.E, nil
		}
		return vars(n.name)
	case "call":
		f, ok := ffuncs[n.name]
		if !ok || len(n.args) != 1 {
			return 0, fmt.Errorf("unknown function %s/%d", n.name, len(n.args))
		}
		x, err := n.args[0].evalFloat(vars)
		return f(x), err
	case "?":
		c, err := n.args[0].evalFloat(vars)
		if err != nil {
			return 0, err
		}
		if c != 0 {
			return n.args[1].evalFloat(vars)
		}
		return n.args[2].evalFloat(vars)
	}
	a := make([]float64, len(n.args))
	for i, x := range n.args {
		v, err := x.evalFloat(vars)
		if err != nil {
			return 0, err
		}
		a[i] = v
	}
	switch n.op {
	case "neg":
		return -a[0], nil
	case "+":
		return a[0] + a[1], nil
	case "-":
		return a[0] - a[1], nil
	case "*":
		return a[0] * a[1], nil
	case "/":
		if a[1] == 0 {
			return 0, fmt.Errorf("division by zero")
		}
		return a[0] / a[1], nil
	case "**":
		return math.Pow(a[0], a[1]), nil
	case "%":
		return math.Mod(a[0], a[1]), nil
	}
	// Integer and logical operators on truncated values.
	in := &fnode{op: n.op, args: []*fnode{{op: "num", inum: int64(a[0])}}}
	if len(a) > 1 {
		in.args = append(in.args, &fnode{op: "num", inum: int64(a[1])})
	}
	v, err := in.evalInt(nil)
	return float64(v), err
}

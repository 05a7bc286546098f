package camsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// A GenICam node graph read from a camera's XML (GenApi schema 1.0/1.1, any
// namespace prefix, compact or pretty-printed). camsim reads it as a GenICam
// consumer does, to find the registers behind the features it simulates;
// nothing here knows one vendor's addresses.

// gcProp is one child element of a node: its text and attributes
// (pIndex Offset/pOffset, pVariable Name...).
type gcProp struct {
	Text  string
	Attrs map[string]string
}

// gcEntry is an EnumEntry.
type gcEntry struct {
	Name  string
	Value int64
	Avail []string // its pIsAvailable and pIsImplemented nodes
}

// gcNode is one node: element kind (Integer, IntReg, IntSwissKnife...),
// name, and its child elements by local name, in document order.
type gcNode struct {
	Kind    string
	Name    string
	Props   map[string][]gcProp
	Entries []gcEntry
}

// prop is the first text of child element k ("" when absent).
func (n *gcNode) prop(k string) string {
	if p := n.Props[k]; len(p) > 0 {
		return p[0].Text
	}
	return ""
}

func (n *gcNode) has(k string) bool { return len(n.Props[k]) > 0 }

// entry finds an EnumEntry by name.
func (n *gcNode) entry(name string) (gcEntry, bool) {
	for _, e := range n.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return gcEntry{}, false
}

// genicamDoc is a parsed XML: its RegisterDescription attributes and nodes.
type genicamDoc struct {
	Vendor string
	Model  string
	Nodes  map[string]*gcNode
	// addrs are the constant register addresses the XML declares, to place
	// the XML file itself where no register is.
	addrs []uint64
}

// xmlElem is a generic element tree.
type xmlElem struct {
	Name     string
	Attrs    map[string]string
	Text     string
	Children []*xmlElem
}

func readElem(d *xml.Decoder, start xml.StartElement) (*xmlElem, error) {
	e := &xmlElem{Name: start.Name.Local, Attrs: map[string]string{}}
	for _, a := range start.Attr {
		e.Attrs[a.Name.Local] = a.Value
	}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c, err := readElem(d, t)
			if err != nil {
				return nil, err
			}
			e.Children = append(e.Children, c)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			e.Text = strings.TrimSpace(text.String())
			return e, nil
		}
	}
}

// parseGenICam parses a GenICam XML. Errors name what is wrong and where.
func parseGenICam(b []byte) (*genicamDoc, error) {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var root *xmlElem
	for root == nil {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, errors.New("genicam xml: no RegisterDescription element")
		}
		if err != nil {
			return nil, fmt.Errorf("genicam xml: line %d: %w", lineOf(d, b), err)
		}
		if st, ok := tok.(xml.StartElement); ok {
			if st.Name.Local != "RegisterDescription" {
				return nil, fmt.Errorf("genicam xml: root element is %q, want RegisterDescription", st.Name.Local)
			}
			if root, err = readElem(d, st); err != nil {
				return nil, fmt.Errorf("genicam xml: line %d: %w", lineOf(d, b), err)
			}
		}
	}
	doc := &genicamDoc{Vendor: root.Attrs["VendorName"], Model: root.Attrs["ModelName"], Nodes: map[string]*gcNode{}}
	if err := doc.addNodes(root.Children); err != nil {
		return nil, err
	}
	if len(doc.Nodes) == 0 {
		return nil, errors.New("genicam xml: RegisterDescription declares no nodes")
	}
	return doc, nil
}

func lineOf(d *xml.Decoder, b []byte) int {
	off := min(int(d.InputOffset()), len(b))
	return bytes.Count(b[:off], []byte("\n")) + 1
}

func (doc *genicamDoc) addNodes(elems []*xmlElem) error {
	for _, e := range elems {
		if e.Name == "Group" {
			if err := doc.addNodes(e.Children); err != nil {
				return err
			}
			continue
		}
		if e.Name == "StructReg" {
			if err := doc.addStruct(e); err != nil {
				return err
			}
			continue
		}
		if e.Attrs["Name"] == "" {
			continue
		}
		if err := doc.addElem(e); err != nil {
			return err
		}
	}
	return nil
}

// addElem adds the node of e, and nodes declared inline inside it (an
// IntSwissKnife computing a register's address, as Baumer and TIS write
// them), which become the parent's pAddress.
func (doc *genicamDoc) addElem(e *xmlElem) error {
	n, err := newNode(e)
	if err != nil {
		return err
	}
	for _, c := range e.Children {
		if c.Attrs["Name"] == "" || c.Name == "EnumEntry" || c.Name == "StructEntry" || len(c.Children) == 0 {
			continue
		}
		if err := doc.addElem(c); err != nil {
			return err
		}
		delete(n.Props, c.Name)
		n.Props["pAddress"] = append(n.Props["pAddress"], gcProp{Text: c.Attrs["Name"]})
	}
	doc.add(n)
	return nil
}

func (doc *genicamDoc) add(n *gcNode) {
	doc.Nodes[n.Name] = n
	for _, a := range n.Props["Address"] {
		if v, err := parseGCInt(a.Text); err == nil {
			doc.addrs = append(doc.addrs, uint64(v))
		}
	}
}

func newNode(e *xmlElem) (*gcNode, error) {
	n := &gcNode{Kind: e.Name, Name: e.Attrs["Name"], Props: map[string][]gcProp{}}
	for _, c := range e.Children {
		if c.Name == "EnumEntry" {
			v, err := parseGCInt(childText(c, "Value"))
			if err != nil {
				return nil, fmt.Errorf("genicam xml: %s %s: entry %s: value: %w", n.Kind, n.Name, c.Attrs["Name"], err)
			}
			e := gcEntry{Name: c.Attrs["Name"], Value: v}
			for _, k := range []string{"pIsAvailable", "pIsImplemented"} {
				if t := childText(c, k); t != "" {
					e.Avail = append(e.Avail, t)
				}
			}
			n.Entries = append(n.Entries, e)
			continue
		}
		n.Props[c.Name] = append(n.Props[c.Name], gcProp{Text: c.Text, Attrs: c.Attrs})
	}
	return n, nil
}

// addStruct turns each StructEntry into a MaskedIntReg-like node that
// inherits the StructReg's address, length, port and endianness.
func (doc *genicamDoc) addStruct(e *xmlElem) error {
	parent, err := newNode(&xmlElem{Name: "StructReg", Attrs: e.Attrs, Children: nonEntries(e)})
	if err != nil {
		return err
	}
	for _, c := range e.Children {
		if c.Name != "StructEntry" || c.Attrs["Name"] == "" {
			continue
		}
		n, err := newNode(c)
		if err != nil {
			return err
		}
		n.Kind = "StructEntry"
		for k, v := range parent.Props {
			if !n.has(k) {
				n.Props[k] = v
			}
		}
		doc.add(n)
	}
	return nil
}

func nonEntries(e *xmlElem) []*xmlElem {
	var out []*xmlElem
	for _, c := range e.Children {
		if c.Name != "StructEntry" {
			out = append(out, c)
		}
	}
	return out
}

func childText(e *xmlElem, name string) string {
	for _, c := range e.Children {
		if c.Name == name {
			return c.Text
		}
	}
	return ""
}

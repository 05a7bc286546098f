package camsim

import "sort"

// timebaseHz is what camsim gives a converter's zeroed read-only timebase
// register: 1 MHz, a microsecond clock (a frame time of 20000 at 50 fps
// fits any 32-bit register).
const timebaseHz = 1e6

// timebasesLocked gives the converters behind the features camsim simulates
// a timebase where their variables are read-only registers reading 0 (FLIR:
// AcquisitionFrameRate = FrameRateNumerator / FrameTime): on zeroed memory
// every value converts to 0 and a frame rate the host writes never reaches
// the camera.
func (gc *gcCamera) timebasesLocked() {
	var names []string
	for _, name := range gc.f {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n, ok := gc.g.doc.Nodes[name]
		if !ok {
			continue
		}
		conv, ok := gc.g.doc.Nodes[n.prop("pValue")]
		if !ok || (conv.Kind != "Converter" && conv.Kind != "IntConverter") {
			continue
		}
		for _, p := range conv.Props["pVariable"] {
			v, ok := gc.g.doc.Nodes[p.Text]
			if !ok || p.Text == conv.prop("pValue") || (v.Kind != "IntReg" && v.Kind != "MaskedIntReg") || v.prop("AccessMode") != "RO" {
				continue
			}
			if x, err := gc.g.Int(p.Text); err == nil && x == 0 {
				_ = gc.g.SetInt(p.Text, timebaseHz)
			}
		}
	}
}

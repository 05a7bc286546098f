package camsim

import (
	"math"
	"sort"
)

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
		gc.convertedBoundsLocked(n)
	}
}

// convertedBoundsLocked gives a converted Float feature whose pMin/pMax are
// formulas over read-only registers reading 0 a range: FLIR's
// AcquisitionFrameRate bounds are TIMEBASE/FrameTime_Max and
// TIMEBASE/FrameTime_Min, a division by zero on zeroed memory, so Aravis
// gets no frame-rate bounds and no rate reaches the camera. Each zeroed
// register is given the power of ten that brings the bound nearest 1 (Min)
// or 1000 (Max): 1 Hz to 1 kHz over a 1 MHz timebase.
func (gc *gcCamera) convertedBoundsLocked(n *gcNode) {
	if n.Kind != "Float" {
		return
	}
	for which, target := range map[string]float64{"pMin": 1, "pMax": 1000} {
		bound, ok := gc.g.doc.Nodes[n.prop(which)]
		if !ok || (bound.Kind != "SwissKnife" && bound.Kind != "IntSwissKnife") {
			continue
		}
		if v, err := gc.g.Float(n.prop(which)); err == nil && v != 0 {
			continue
		}
		for _, p := range bound.Props["pVariable"] {
			r, ok := gc.g.doc.Nodes[p.Text]
			if !ok || (r.Kind != "IntReg" && r.Kind != "MaskedIntReg") || r.prop("AccessMode") != "RO" {
				continue
			}
			if x, err := gc.g.Int(p.Text); err != nil || x != 0 {
				continue
			}
			best, bestErr := int64(0), math.Inf(1)
			for raw := int64(1); raw <= 1e9; raw *= 10 {
				if gc.g.SetInt(p.Text, raw) != nil {
					break
				}
				if v, err := gc.g.Float(n.prop(which)); err == nil && v > 0 {
					if d := math.Abs(math.Log10(v / target)); d < bestErr {
						best, bestErr = raw, d
					}
				}
			}
			_ = gc.g.SetInt(p.Text, best)
		}
	}
}

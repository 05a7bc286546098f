package camsim

import (
	"math"
	"testing"
)

// TestGenICamRegisterGates: gates that are inquiry registers themselves
// (Allied Vision's and FLIR's TriggerSoftware pIsImplemented), a converter
// over one (Basler ace classic's), or an Integer indexed by the trigger
// selector over them (Basler ace 2's TriggerMode entries) read true at
// power-on, as on the cameras, which all have a software trigger.
func TestGenICamRegisterGates(t *testing.T) {
	for _, file := range []string{"AlliedVision_Mako_G125C.xml", "AlliedVision_Manta_G235C.xml",
		"Basler_acA2040-35gm.xml", "FLIR_BFS-PGE-50S4C.xml", "FLIR_ORX_10G_51S5M.xml"} {
		c := impersonateFile(t, file)
		c.mu.Lock()
		g := c.gc.g
		n := g.doc.Nodes["TriggerSoftware"]
		// Under every trigger selector value: Aravis leaves the selector
		// where clearing the triggers ended, not at the power-on value.
		for _, e := range g.doc.Nodes["TriggerSelector"].Entries {
			if err := g.SetInt("TriggerSelector", e.Value); err != nil {
				t.Errorf("%s: TriggerSelector %s: %v", file, e.Name, err)
				continue
			}
			for _, k := range []string{"pIsImplemented", "pIsAvailable"} {
				if !n.has(k) {
					continue
				}
				if v, err := g.Int(n.prop(k)); err != nil || v == 0 {
					t.Errorf("%s, TriggerSelector %s: TriggerSoftware %s %s reads %d (%v), want non-zero", file, e.Name, k, n.prop(k), v, err)
				}
			}
		}
		c.mu.Unlock()
	}
	c := impersonateFile(t, "Basler_a2A2600-20gmBAS.xml")
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gc.g
	if err := g.SetEntry("TriggerSelector", "FrameStart"); err != nil {
		t.Fatal(err)
	}
	for _, e := range g.doc.Nodes["TriggerMode"].Entries {
		for _, ref := range e.Avail {
			if v, err := g.Int(ref); err != nil || v == 0 {
				t.Errorf("ace 2, FrameStart: TriggerMode %s availability %s reads %d (%v)", e.Name, ref, v, err)
			}
		}
	}
}

// TestGenICamFrameRateBounds: FLIR's AcquisitionFrameRate bounds,
// TIMEBASE/FrameTime_Max and TIMEBASE/FrameTime_Min, are 1 Hz and 1 kHz
// (not a division by zero), and 5 Hz, arv-test's MultipleAcquisitionB
// rate, is written and read back.
func TestGenICamFrameRateBounds(t *testing.T) {
	for _, file := range []string{"FLIR_BFS-PGE-50S4C.xml", "FLIR_ORX_10G_51S5M.xml"} {
		c := impersonateFile(t, file)
		c.mu.Lock()
		g := c.gc.g
		n := g.doc.Nodes["AcquisitionFrameRate"]
		lo, err1 := g.Float(n.prop("pMin"))
		hi, err2 := g.Float(n.prop("pMax"))
		if err1 != nil || err2 != nil || math.Abs(lo-1) > 1e-9 || math.Abs(hi-1000) > 1e-9 {
			t.Errorf("%s: AcquisitionFrameRate bounds %g (%v) .. %g (%v), want 1 .. 1000", file, lo, err1, hi, err2)
		}
		if err := g.SetFloat("AcquisitionFrameRate", 5); err != nil {
			t.Errorf("%s: AcquisitionFrameRate 5: %v", file, err)
		}
		c.gc.watchLocked()
		if got, err := g.Float("AcquisitionFrameRate"); err != nil || math.Abs(got-5) > 0.01 || math.Abs(c.frameRate-5) > 0.01 {
			t.Errorf("%s: AcquisitionFrameRate 5 written: reads %g (%v), camera frame rate %g", file, got, err, c.frameRate)
		}
		c.mu.Unlock()
	}
}

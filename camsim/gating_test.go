package camsim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// TestGenICamFormulaGates: availability formulas over read-only (inquiry)
// registers read true after load: the Basler ace classic's TriggerMode
// entries (bits 31/30 of the selected trigger's inquiry register, one
// register per TriggerSelector value) and its Action1 source for every
// trigger; in every vendor XML, a trigger entry gated by registers that no
// TriggerSelector value makes available is listed as left false.
func TestGenICamFormulaGates(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	for _, path := range testenv.VendorXMLs(t) {
		file := filepath.Base(path)
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c := impersonate(t, b)
			c.mu.Lock()
			defer c.mu.Unlock()
			g := c.gc.g
			sel, ok := g.doc.Nodes["TriggerSelector"]
			if !ok {
				return
			}
			open := map[string]bool{} // gate → true under some selector value
			for _, s := range sel.Entries {
				if g.SetInt("TriggerSelector", s.Value) != nil {
					continue
				}
				for _, f := range []string{"TriggerMode", "TriggerSource"} {
					for _, e := range g.doc.Nodes[f].Entries {
						for _, ref := range e.Avail {
							if leaves, _ := c.gc.gateInputs(ref); len(leaves) == 0 {
								continue // over other features: computes as it does
							}
							v, err := g.Int(ref)
							open[f+": "+ref] = open[f+": "+ref] || err == nil && v != 0
							if file == "Basler_acA2040-35gm.xml" && (f == "TriggerMode" || e.Name == "Action1") && v == 0 {
								t.Errorf("ace classic, TriggerSelector %s: %s %s unavailable (%s reads %d, %v)", s.Name, f, e.Name, ref, v, err)
							}
						}
					}
				}
			}
			closed := strings.Join(c.gc.closed, "\n")
			for gate, ok := range open {
				if !ok && !strings.Contains(closed, gate) {
					t.Errorf("%s: gate %s reads 0 under every TriggerSelector value and is not listed in %q", file, gate, closed)
				}
			}
			if file == "Basler_acA2040-35gm.xml" && len(open) == 0 {
				t.Errorf("ace classic: no register-gated trigger entries found")
			}
		})
	}
}

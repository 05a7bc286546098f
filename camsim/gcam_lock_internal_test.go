package camsim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// TestGenICamLockNodes: on the FLIR BFS XML a client's write to
// TriggerSource's register is refused with ACCESS_DENIED while TriggerMode
// is On (the device sets TriggerSource_Lck) and accepted once it is Off;
// the lock bit reads as the XML's pIsLocked.
func TestGenICamLockNodes(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	c := impersonateFile(t, "FLIR_BFS-PGE-50S4C.xml")
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gc.g
	if err := g.SetEntry("TriggerSelector", "FrameStart"); err != nil {
		t.Fatal(err)
	}
	write := func(feature, entry string) Status {
		t.Helper()
		n, _ := g.node(feature)
		e, ok := n.entry(entry)
		_, r, err := g.registerOf(feature)
		if !ok || err != nil {
			t.Fatalf("%s=%s: entry %v, register %v", feature, entry, ok, err)
		}
		st, _ := c.writeRegLocked(uint32(r.addr), uint32(e.Value))
		return st
	}
	locked := func() int64 {
		v, err := g.Int("TriggerSource_Lck")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	steps := []struct {
		feature, entry string
		want           Status
		lock           int64
	}{
		{"TriggerMode", "Off", StatusSuccess, 0},
		{"TriggerSource", "Line0", StatusSuccess, 0},
		{"TriggerMode", "On", StatusSuccess, 1},
		{"TriggerSource", "Software", StatusAccessDenied, 1},
		{"TriggerMode", "Off", StatusSuccess, 0},
		{"TriggerSource", "Software", StatusSuccess, 0},
	}
	for _, s := range steps {
		if st := write(s.feature, s.entry); st != s.want {
			t.Errorf("write %s=%s: %v, want %v", s.feature, s.entry, st, s.want)
		}
		if l := locked(); l != s.lock {
			t.Errorf("after %s=%s: TriggerSource_Lck %d, want %d", s.feature, s.entry, l, s.lock)
		}
	}
	if e, err := g.Entry("TriggerSource"); err != nil || e != "Software" {
		t.Errorf("TriggerSource %q (%v), want Software", e, err)
	}
}

// BenchmarkGenICamLockedWrite: a client's WRITEREG of TriggerSource on the
// FLIR BFS XML (every lock node of the XML is checked against the
// address) against the same write with no lock node listed, in the same run.
func BenchmarkGenICamLockedWrite(b *testing.B) {
	xmlText, err := os.ReadFile(filepath.Join(testenv.VendorXMLDir(b), "FLIR_BFS-PGE-50S4C.xml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, locks := range []bool{false, true} {
		name := map[bool]string{false: "no-locks", true: "locks"}[locks]
		b.Run(name, func(b *testing.B) {
			c := impersonate(b, xmlText)
			c.mu.Lock()
			defer c.mu.Unlock()
			if !locks {
				c.gc.locks = nil
			}
			_, r, err := c.gc.g.registerOf("TriggerSource")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if st, _ := c.writeRegLocked(uint32(r.addr), 0); st != StatusSuccess {
					b.Fatal(st)
				}
			}
			b.ReportMetric(float64(len(c.gc.locks)), "lock-nodes")
		})
	}
}

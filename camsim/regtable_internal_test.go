package camsim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

func ownCamera(t testing.TB, p Profile) *camera {
	t.Helper()
	return newTestCamera(t, Config{Profile: p})
}

// TestRegisterStatusFromXML: on camsim's own profiles and every vendor
// XML, the statuses GVCP answers follow the XML: every word of a register
// at a constant address reads; a write to a word only read-only registers
// cover is WRITE_PROTECT and leaves it as it was; a word past every
// register (own profiles, and vendor XMLs whose registers are all known at
// load) is INVALID_ADDRESS; a PixelFormat that is no entry is
// INVALID_PARAMETER and PixelFormat reads what it read.
func TestRegisterStatusFromXML(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	cams := map[string]func(t *testing.T) *camera{}
	for _, p := range []Profile{ProfileSFNC, ProfileGEV, ProfileNoPTP} {
		cams[string(p)] = func(t *testing.T) *camera { return ownCamera(t, p) }
	}
	for _, path := range testenv.VendorXMLs(t) {
		cams[filepath.Base(path)] = func(t *testing.T) *camera {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return impersonate(t, b)
		}
	}
	for name, mk := range cams {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			c.mu.Lock()
			defer c.mu.Unlock()
			checkRegisterStatuses(t, c, name == string(ProfileSFNC) || name == string(ProfileGEV) || name == string(ProfileNoPTP))
		})
	}
}

func checkRegisterStatuses(t *testing.T, c *camera, own bool) {
	gc := c.gc
	reads, protected := 0, 0
	var top uint32
	for _, n := range gc.g.doc.Nodes {
		if !isRegisterKind(n.Kind) || n.has("pAddress") || n.has("pIndex") || n.prop("pPort") != "Device" {
			continue
		}
		r, err := gc.g.reg(n)
		if err != nil || r.addr >= 1<<32 {
			continue
		}
		for w := uint32(r.addr) &^ 3; uint64(w) < r.addr+uint64(r.length); w += 4 {
			top = max(top, w)
			if _, st := c.readRegLocked(w); st != StatusSuccess {
				t.Errorf("%s %s word 0x%x: read %s", n.Kind, n.Name, w, st)
			}
			reads++
			if liveBootstrap(w) || gc.acc.mapped[w] {
				continue // a writable register shares the word
			}
			before, _ := c.readRegLocked(w)
			if st, _ := c.writeRegLocked(w, before^0x5A5A5A5A); st != StatusWriteProtect {
				t.Errorf("%s %s (RO) word 0x%x: write %s, want WRITE_PROTECT", n.Kind, n.Name, w, st)
			}
			if after, _ := c.readRegLocked(w); after != before {
				t.Errorf("%s %s word 0x%x: refused write changed it 0x%x → 0x%x", n.Kind, n.Name, w, before, after)
			}
			protected++
		}
	}
	if reads < 40 || (own && protected < 5) {
		t.Errorf("%d words read, %d write-protected: the check looked at too little", reads, protected)
	}
	if own || !gc.acc.open {
		past := max(top+0x1000, gc.xmlAddr+uint32(len(gc.xml))+0x1000) &^ 3
		if _, st := c.readRegLocked(past); st != StatusInvalidAddress {
			t.Errorf("read 0x%x past every register: %s, want INVALID_ADDRESS", past, st)
		}
		if st, _ := c.writeRegLocked(past, 1); st != StatusInvalidAddress {
			t.Errorf("write 0x%x past every register: %s, want INVALID_ADDRESS", past, st)
		}
	}
	checkInvalidEntry(t, c)
}

// checkInvalidEntry writes a PixelFormat value no entry has.
func checkInvalidEntry(t *testing.T, c *camera) {
	gc := c.gc
	name := gc.f["pixelFormat"]
	_, r, err := gc.g.registerOf(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	before, err := gc.g.Entry(name)
	if err != nil {
		t.Fatal(err)
	}
	last := uint32(r.addr+uint64(r.length)-4) &^ 3
	if st, _ := c.writeRegLocked(last, 0x7EADBEE1); st != StatusInvalidParameter {
		t.Errorf("%s = 0x7EADBEE1 (no entry): %s, want INVALID_PARAMETER", name, st)
	}
	if after, err := gc.g.Entry(name); err != nil || after != before {
		t.Errorf("%s after the refused write: %q (%v), want %q", name, after, err, before)
	}
}

// TestOwnRangeChecks: the own profiles refuse, with INVALID_PARAMETER, a
// Width below its Min and a frame rate above its Max (checked when the
// low word completes the 8-byte float), and keep streaming as they did.
func TestOwnRangeChecks(t *testing.T) {
	t.Parallel()
	c := ownCamera(t, ProfileSFNC)
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, _ := c.writeRegLocked(regWidth, 1); st != StatusInvalidParameter {
		t.Errorf("Width 1: %s, want INVALID_PARAMETER", st)
	}
	if st, _ := c.writeRegLocked(regWidth, 320); st != StatusSuccess || c.width != 320 {
		t.Errorf("Width 320: %s, width %d", st, c.width)
	}
	if v, _ := c.gc.g.Int("Width"); v != 320 {
		t.Errorf("Width reads %d after 320", v)
	}
	rate := c.frameRate
	bits := uint64(0x40C3880000000000) // 10000.0
	if st, _ := c.writeRegLocked(regFrameRate, uint32(bits>>32)); st != StatusSuccess {
		t.Errorf("frame rate high word: %s", st)
	}
	if st, _ := c.writeRegLocked(regFrameRate+4, uint32(bits)); st != StatusInvalidParameter {
		t.Errorf("frame rate 10000 Hz (Max 1000): %s, want INVALID_PARAMETER", st)
	}
	if c.frameRate != rate {
		t.Errorf("streaming frame rate %g after the refused write, want %g", c.frameRate, rate)
	}
}

package camsim

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

type wordMem map[uint64]byte

func (m wordMem) readMem(a uint64, b []byte) {
	for i := range b {
		b[i] = m[a+uint64(i)]
	}
}

func (m wordMem) writeMem(a uint64, b []byte) {
	for i, x := range b {
		m[a+uint64(i)] = x
	}
}

func TestFormula(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	vars := map[string]int64{"HIGH": 2, "LOW": 5, "SELECTOR": 3, "X": -7}
	for src, want := range map[string]int64{
		"1000 * ((HIGH<< 32) | LOW)":        1000 * (2<<32 | 5),
		"0x9800 + SELECTOR * 0x10":          0x9830,
		"(LOW % 3) ? (LOW - LOW % 3) : LOW": 3,
		"X < 0 ? -X : X":                    7,
		"HIGH = 2 && LOW <> 4":              1,
		"~0 & 0xFF":                         0xFF,
		"2 ** 3 ** 2":                       512,
		"(LOW >> 1) ^ 1":                    3,
		"!HIGH || 0":                        0,
	} {
		f, err := parseFormula(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		got, err := f.evalInt(func(n string) (int64, error) {
			v, ok := vars[n]
			if !ok {
				return 0, fmt.Errorf("no %s", n)
			}
			return v, nil
		})
		if err != nil || got != want {
			t.Errorf("%s = %d (%v), want %d", src, got, err, want)
		}
	}
	for _, bad := range []string{"", "1 +", "(1", "1 ? 2", "1 $ 2", "f(", "0x"} {
		if f, err := parseFormula(bad); err == nil {
			if _, err := f.evalInt(func(string) (int64, error) { return 0, nil }); err == nil && bad != "0x" {
				t.Errorf("%q parsed and evaluated", bad)
			}
		}
	}
}

const testXML = `<?xml version="1.0"?>
<RegisterDescription xmlns="http://www.genicam.org/GenApi/Version_1_1" VendorName="V" ModelName="M">
 <Group Comment="g">
  <Integer Name="Port"><pValue>PortReg</pValue></Integer>
  <MaskedIntReg Name="PortReg"><Address>0x0D00</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort>
   <LSB>31</LSB><MSB>16</MSB><Endianess>BigEndian</Endianess></MaskedIntReg>
 </Group>
 <Boolean Name="Flag"><pValue>FlagBit</pValue></Boolean>
 <StructReg Comment="s"><Address>0x2000</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>LittleEndian</Endianess>
  <StructEntry Name="FlagBit"><Bit>3</Bit></StructEntry>
  <StructEntry Name="Field"><LSB>8</LSB><MSB>11</MSB><Sign>Signed</Sign></StructEntry>
 </StructReg>
 <Integer Name="Sel"><Value>0</Value><Min>0</Min><Max>3</Max></Integer>
 <Integer Name="Key"><pValue>KeyReg</pValue></Integer>
 <IntReg Name="KeyReg"><pIndex Offset="0x10">Sel</pIndex><Address>0x9800</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess></IntReg>
 <Integer Name="Mask"><pValue>MaskReg</pValue></Integer>
 <IntReg Name="MaskReg"><IntSwissKnife Name="MaskAddr"><pVariable Name="S">Sel</pVariable><Formula>0x9804 + S * 0x10</Formula></IntSwissKnife><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess></IntReg>
 <Float Name="Rate"><pValue>RateConv</pValue></Float>
 <Converter Name="RateConv"><FormulaTo>FROM * 1000</FormulaTo><FormulaFrom>TO / 1000</FormulaFrom><pValue>RateReg</pValue></Converter>
 <IntReg Name="RateReg"><Address>0x3000</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess></IntReg>
 <Integer Name="Loop"><pValue>Loop</pValue></Integer>
</RegisterDescription>`

// TestNodeGraph: bit order of big- and little-endian fields, StructEntry,
// pIndex and inline address formulas, converters, and write inversion.
func TestNodeGraph(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	doc, err := parseGenICam([]byte(testXML))
	if err != nil {
		t.Fatal(err)
	}
	mem := wordMem{}
	g := newGraph(doc, mem)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.SetInt("Port", 0x1234))
	if mem[0x0D02] != 0x12 || mem[0x0D03] != 0x34 || mem[0x0D00] != 0 {
		t.Errorf("GEV port bits 16..31 (big-endian numbering) = low half: % x", []byte{mem[0xD00], mem[0xD01], mem[0xD02], mem[0xD03]})
	}
	must(g.SetInt("Flag", 1))
	must(g.SetInt("Field", -2))
	if mem[0x2000] != 0x08 || mem[0x2001] != 0x0E {
		t.Errorf("little-endian struct: % x, want 08 0e", []byte{mem[0x2000], mem[0x2001]})
	}
	if v, _ := g.Int("Field"); v != -2 {
		t.Errorf("signed field reads %d", v)
	}
	must(g.SetInt("Sel", 2))
	must(g.SetInt("Key", 0xABCD))
	must(g.SetInt("Mask", 1))
	if mem[0x9822] != 0xAB || mem[0x9827] != 1 {
		t.Errorf("selector 2: key at 0x9820 (pIndex), mask at 0x9824 (formula): %v", mem)
	}
	must(g.SetFloat("Rate", 25.5))
	if v, _ := g.Int("RateReg"); v != 25500 {
		t.Errorf("converter wrote %d, want 25500", v)
	}
	if _, err := g.Int("Loop"); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("self reference: %v", err)
	}
	if _, err := g.Int("Nope"); err == nil {
		t.Error("undeclared node read")
	}
}

// TestBrokenGenICam: broken XMLs give errors that say what is wrong.
func TestBrokenGenICam(t *testing.T) {
	for xml, want := range map[string]string{
		"":                              "no RegisterDescription",
		"<Foo/>":                        "root element",
		"<RegisterDescription><Integer": "line",
		"<RegisterDescription></RegisterDescription>": "no nodes",
		`<RegisterDescription><Enumeration Name="E"><EnumEntry Name="A"><Value>x</Value></EnumEntry></Enumeration></RegisterDescription>`: "entry A",
	} {
		_, err := parseGenICam([]byte(xml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error mentioning %q", xml, err, want)
		}
	}
}

// FuzzGenICam: no input makes the parser or the camera set-up panic.
func FuzzGenICam(f *testing.F) {
	f.Add([]byte(testXML))
	f.Add([]byte(`<RegisterDescription><Integer Name="Width"><pValue>W</pValue></Integer><IntReg Name="W"><pAddress>Width</pAddress></IntReg></RegisterDescription>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := parseGenICam(b)
		if err != nil {
			return
		}
		g := newGraph(doc, wordMem{})
		for name := range doc.Nodes {
			_, _ = g.Int(name)
			_ = g.SetInt(name, 7)
		}
	})
}

// TestChunkLayout: walking back from the end of a chunk-mode payload of an
// own profile, as a receiver does, finds every chunk enabled through its
// XML with its value, then the image.
func TestChunkLayout(t *testing.T) {
	c := newTestCamera(t, Config{Profile: ProfileSFNC, Width: 640, Height: 480})
	g := c.gc.g
	for _, e := range []string{"Timestamp", "FrameID", "OffsetX", "OffsetY"} {
		if err := g.SetEntry("ChunkSelector", e); err != nil {
			t.Fatal(err)
		}
		if err := g.SetInt("ChunkEnable", 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.SetInt("ChunkModeActive", 1); err != nil {
		t.Fatal(err)
	}
	cs := c.chunksLocked()
	if cs == nil {
		t.Fatal("chunk mode on, no chunks")
	}
	img := make([]byte, 640*480)
	b := cs.appendChunks(img, 42, 0x1122334455667788)
	if uint32(len(b)) != 640*480+cs.chunkBytes() {
		t.Fatalf("payload %d bytes, chunkBytes says %d", len(b), 640*480+cs.chunkBytes())
	}
	got := map[uint32][]byte{}
	for off := len(b); off > 0; {
		id := binary.BigEndian.Uint32(b[off-8:])
		n := int(binary.BigEndian.Uint32(b[off-4:]))
		if n > off-8 {
			t.Fatalf("chunk 0x%x: %d bytes before offset %d", id, n, off)
		}
		got[id] = b[off-8-n : off-8]
		off -= 8 + n
	}
	if binary.BigEndian.Uint64(got[0x11]) != 0x1122334455667788 || binary.BigEndian.Uint64(got[0x12]) != 42 ||
		len(got[0x15]) != 4 || len(got[0x16]) != 4 || len(got[chunkIDImage]) != 640*480 || got[0x13] != nil {
		t.Errorf("chunks found: %v", got)
	}
}

// TestNodeGraphLoopLeavesDepth: a reference loop is cut with an error, and
// cutting it leaves the graph's depth as it was, so that other features
// still evaluate after many cut loops (each cut used to leak one level, and
// after 64 every read failed).
func TestNodeGraphLoopLeavesDepth(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	doc, err := parseGenICam([]byte(`<RegisterDescription VendorName="V" ModelName="M">
 <Integer Name="A"><pValue>B</pValue></Integer>
 <Integer Name="B"><pValue>A</pValue></Integer>
 <Integer Name="W"><pValue>WReg</pValue></Integer>
 <IntReg Name="WReg"><Address>0x2000</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess></IntReg>
</RegisterDescription>`))
	if err != nil {
		t.Fatal(err)
	}
	g := newGraph(doc, wordMem{0x2003: 7})
	for i := range 100 {
		if _, err := g.Int("A"); err == nil || !strings.Contains(err.Error(), "reference loop") {
			t.Fatalf("read %d of a loop: %v, want a reference loop error", i, err)
		}
		if err := g.SetInt("B", 1); err == nil {
			t.Fatalf("write %d of a loop succeeded", i)
		}
	}
	if v, err := g.Int("W"); err != nil || v != 7 {
		t.Errorf("W after 100 cut loops: %d, %v; want 7", v, err)
	}
	if g.depth != 0 {
		t.Errorf("depth %d after the reads, want 0", g.depth)
	}
}

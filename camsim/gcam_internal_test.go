package camsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// newTestCamera is a camera of cfg on 127.0.0.1 (defaults applied) with
// no socket, logging nowhere.
func newTestCamera(t testing.TB, cfg Config) *camera {
	t.Helper()
	cfg.Address = netip.MustParseAddr("127.0.0.1")
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := newCamera(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// impersonate is a camera serving xmlText.
func impersonate(t testing.TB, xmlText []byte) *camera {
	t.Helper()
	return newTestCamera(t, Config{GenICam: xmlText})
}

// impersonateFile is a camera serving the vendor XML file of
// ../shared/vendor-xml.
func impersonateFile(t testing.TB, file string) *camera {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.VendorXMLDir(t), file))
	if err != nil {
		t.Fatal(err)
	}
	return impersonate(t, b)
}

// TestGenICamVendorXMLs: every vendor XML resolves every feature camsim
// simulates that it declares, and the PTP enable written in the camera's
// form reaches the PTP port.
func TestGenICamVendorXMLs(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	for _, path := range testenv.VendorXMLs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c := impersonate(t, b)
			gc := c.gc
			if len(gc.missing) != 0 {
				t.Errorf("unresolved: %v", gc.missing)
			}
			for _, role := range []string{"width", "height", "pixelFormat", "payload", "acqStart", "acqStop", "trigMode", "trigSource"} {
				if gc.f[role] == "" {
					t.Errorf("no %s feature found", role)
				}
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for role, want := range map[string]int64{"width": 640, "height": 480, "payload": 640 * 480} {
				gc.sampleLocked() // refreshes PayloadSize
				if v, err := gc.g.Int(gc.f[role]); err != nil || v != want {
					t.Errorf("%s = %d (%v), want %d", gc.f[role], v, err, want)
				}
			}
			if !gc.hasPTP() {
				return
			}
			if c.ptp.snapshot().Enabled {
				t.Fatal("PTP enabled at start")
			}
			if name := gc.f["ptpEnable"]; name != "" {
				err = gc.g.SetInt(name, 1)
			} else {
				err = gc.g.SetEntry(gc.f["ptpMode"], "Slave")
			}
			if err != nil {
				t.Fatal(err)
			}
			gc.watchLocked()
			if !c.ptp.snapshot().Enabled {
				t.Errorf("PTP enable written through the graph did not enable the port")
			}
		})
	}
}

// tisExcerptXML builds a minimal XML of the newer TIS 33GX174 firmware from
// the verbatim excerpts in ../shared: the complete elements as they are,
// the registers from their one-line summaries.
func tisExcerptXML(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.VendorXMLDir(t), "TheImagingSource_33GX174_ADGenICam.EXCERPTS.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	var out strings.Builder
	head := regexp.MustCompile(`<RegisterDescription[^>]*?StandardNameSpace="GEV"`).FindString(s)
	if head == "" {
		t.Fatal("excerpt: no RegisterDescription")
	}
	out.WriteString(head + ">\n")
	for _, name := range []string{`Integer Name="TimestampLatchValue"`, `IntSwissKnife Name="TimestampLatchValueBuilder"`, `Command Name="TimestampLatch"`} {
		kind := strings.Fields(name)[0]
		m := regexp.MustCompile(`(?s)<` + name + `.*?</` + kind + `>`).FindString(s)
		if m == "" {
			t.Fatalf("excerpt: no complete <%s>", name)
		}
		out.WriteString(m + "\n")
	}
	for _, m := range regexp.MustCompile(`<IntReg Name="(\w+)">\s*<Address>(\w+)</Address> \.\.\. <AccessMode>(\w+)</AccessMode>`).FindAllStringSubmatch(s, -1) {
		fmt.Fprintf(&out, "<IntReg Name=%q><Address>%s</Address><Length>4</Length><AccessMode>%s</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess></IntReg>\n", m[1], m[2], m[3])
	}
	out.WriteString("</RegisterDescription>\n")
	return []byte(out.String())
}

// TestGenICamTISLatchFormula: TIS's latch value 1000·((HIGH<<32)|LOW) in ns
// over the bootstrap latch registers makes the tick 1 MHz, and the value
// read through the formula is the device clock in ns.
func TestGenICamTISLatchFormula(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	c := impersonate(t, tisExcerptXML(t))
	if c.tickHz != 1_000_000 {
		t.Fatalf("tick %d Hz, want 1 MHz from the formula", c.tickHz)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.clock.Read()
	if st, _ := c.writeRegLocked(regTimestampControl, tsLatch); st != StatusSuccess {
		t.Fatalf("latch: %v", st)
	}
	after := c.clock.Read()
	v, err := c.gc.g.Int("TimestampLatchValue")
	if err != nil || uint64(v) < before/1000*1000 || uint64(v) > after || v%1000 != 0 {
		t.Errorf("TimestampLatchValue %d (%v), want a multiple of 1000 in [%d, %d]", v, err, before, after)
	}
}

// TestGenICamActionQueue: the Basler ace 2 takes scheduled ACTION_CMDs for
// its action group (keys written through its selector-indexed nodes) up to
// its ActionQueueSize, then answers OVERFLOW; a past action_time is LATE; a
// wrong group key gets silence.
func TestGenICamActionQueue(t *testing.T) {
	c := impersonateFile(t, "Basler_a2A2600-20gmBAS.xml")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.ctx = ctx
	c.sched = newScheduler(ctx, c.clock, c.fireAction0)
	c.mu.Lock()
	qs, err := c.gc.g.Int("ActionQueueSize")
	if err == nil {
		err = errors.Join(c.gc.g.SetInt("ActionDeviceKey", 0x1234),
			c.gc.g.SetInt("ActionGroupKey", 7), c.gc.g.SetInt("ActionGroupMask", 1))
	}
	c.mu.Unlock()
	if err != nil || qs != 2 {
		t.Fatalf("ActionQueueSize %d, keys: %v", qs, err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	send := func(group uint32, at uint64) (Status, bool) {
		p := make([]byte, 20)
		binary.BigEndian.PutUint32(p, 0x1234)
		binary.BigEndian.PutUint32(p[4:], group)
		binary.BigEndian.PutUint32(p[8:], 1)
		binary.BigEndian.PutUint64(p[12:], at)
		out := c.handle(MarshalCommand(FlagAckRequired|FlagActionHasTime, CmdAction, 1, p), src)
		if out == nil {
			return 0, false
		}
		a, err := ParseAck(out)
		if err != nil {
			t.Fatal(err)
		}
		return a.Status, true
	}
	future := c.ticks(c.clock.Read()) + 60*c.tickHz
	for i, want := range []Status{StatusSuccess, StatusSuccess, StatusOverflow} {
		if st, ok := send(7, future); !ok || st != want {
			t.Errorf("scheduled action %d: %v (answered %v), want %v", i+1, st, ok, want)
		}
	}
	if st, ok := send(7, 1); !ok || st != StatusActionLate {
		t.Errorf("past action_time: %v (answered %v), want ACTION_LATE", st, ok)
	}
	if _, ok := send(8, future); ok {
		t.Error("wrong group key answered")
	}
}

// TestGenICamUnresolvedListed: a feature whose path breaks is logged at
// start-up with the reason, never dropped silently.
func TestGenICamUnresolvedListed(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	xml := `<RegisterDescription VendorName="V" ModelName="M">
 <Boolean Name="PtpEnable"><pValue>Missing</pValue></Boolean>
 <Integer Name="Width"><pValue>WidthReg</pValue></Integer>
 <IntReg Name="WidthReg"><Address>0x2000</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort><Endianess>BigEndian</Endianess></IntReg>
 <Integer Name="Height"><pValue>HeightKnife</pValue></Integer>
 <IntSwissKnife Name="HeightKnife"><pVariable Name="A">WidthReg</pVariable><Formula>A &amp; 0</Formula></IntSwissKnife>
</RegisterDescription>`
	var logs strings.Builder
	cfg := Config{Address: netip.MustParseAddr("127.0.0.1"), GenICam: []byte(xml)}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := newCamera(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`PtpEnable: node \"Missing\" not declared`, "Height: IntSwissKnife HeightKnife: formula is not invertible"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs.String())
		}
	}
	if v, err := c.gc.g.Int("Width"); err != nil || v != 640 {
		t.Errorf("Width %d (%v): the resolvable feature still works", v, err)
	}
}

// TestGenICamLatchedStatus: a status the XML calls latched (Basler ace 2's
// PtpStatus, FLIR's GevIEEE1588StatusLatched) keeps its value until the
// data-set latch; a live one (FLIR's GevIEEE1588Status) follows at once.
func TestGenICamLatchedStatus(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	for _, tc := range []struct {
		file, latch string
		frozen      []string
		live        []string
	}{
		{"Basler_a2A2600-20gmBAS.xml", "PtpDataSetLatch", []string{"PtpStatus"}, nil},
		{"FLIR_BFS-PGE-50S4C.xml", "GevIEEE1588DataSetLatch", []string{"GevIEEE1588StatusLatched"}, []string{"GevIEEE1588Status"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := impersonateFile(t, tc.file)
			c.mu.Lock()
			defer c.mu.Unlock()
			gc := c.gc
			entry := func(name string) string {
				gc.sampleLocked() // what a read of the live values does
				e, err := gc.g.Entry(name)
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			before := map[string]string{}
			for _, n := range tc.frozen {
				before[n] = entry(n)
			}
			c.ptp.setEnabled(true)
			c.ptp.force(PTPMaster)
			for _, n := range tc.frozen {
				if got := entry(n); got != before[n] || got == "Master" {
					t.Errorf("%s = %s before %s, want still %s", n, got, tc.latch, before[n])
				}
			}
			for _, n := range tc.live {
				if got := entry(n); got != "Master" {
					t.Errorf("live %s = %s, want Master", n, got)
				}
			}
			cmd, _ := gc.g.node(tc.latch)
			_, r, err := gc.g.registerOf(tc.latch)
			if err != nil {
				t.Fatal(err)
			}
			cv, _ := parseGCInt(cmd.prop("CommandValue"))
			if err := gc.g.SetInt(cmd.prop("pValue"), cv); err != nil {
				t.Fatal(err)
			}
			gc.commandsLocked(uint32(r.addr))
			for _, n := range tc.frozen {
				if got := entry(n); got != "Master" {
					t.Errorf("%s = %s after %s, want Master", n, got, tc.latch)
				}
			}
		})
	}
}

// TestGenICamTriggerEntries: each camera's own action entry (Action0 on
// FLIR, Action1 on Basler and Hikrobot) set under TriggerSelector FrameStart
// arms the action trigger.
func TestGenICamTriggerEntries(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	for file, entry := range map[string]string{
		"FLIR_BFS-PGE-50S4C.xml": "Action0", "Basler_acA2040-35gm.xml": "Action1",
		"Basler_a2A2600-20gmBAS.xml": "Action1", "Hikrobot_HIKCamera-GEV.xml": "Action1",
		"AlliedVision_Manta_G235C.xml": "Action0", "TheImagingSource_DMK33GX174_aravisGigE.xml": "Action0",
	} {
		t.Run(file, func(t *testing.T) {
			c := impersonateFile(t, file)
			c.mu.Lock()
			defer c.mu.Unlock()
			g := c.gc.g
			if err := g.SetEntry("TriggerSelector", "FrameStart"); err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(g.SetEntry("TriggerMode", "On"), g.SetEntry("TriggerSource", entry)); err != nil {
				t.Fatal(err)
			}
			c.gc.watchLocked()
			if c.trigMode != 1 || c.trigSource != triggerSourceAction0 {
				t.Errorf("TriggerMode On, TriggerSource %s: mode %d source %d", entry, c.trigMode, c.trigSource)
			}
		})
	}
}

// TestGenICamActionQueueSize: ActionQueueSize reads what the XML declares
// (Basler ace 2: 2) or, where it reads a device register (FLIR and
// Hikrobot at 0x0970), camsim's firmware value; it is never 0, and the
// scheduler is bounded by it. Allied Vision's Manta maps it onto the
// ActionDeviceKey register 0x090C: that keeps the key, and the scheduler
// uses camsim's value.
func TestGenICamActionQueueSize(t *testing.T) {
	t.Parallel() // pure: no process, socket or namespace
	for _, c := range []struct {
		file       string
		read, used int64
	}{
		{"Basler_a2A2600-20gmBAS.xml", 2, 2},
		{"FLIR_BFS-PGE-50S4C.xml", gcActionQueue, gcActionQueue},
		{"Hikrobot_HIKCamera-GEV.xml", gcActionQueue, gcActionQueue},
		{"AlliedVision_Manta_G235C.xml", 0x5a5a, gcActionQueue},
	} {
		cam := impersonateFile(t, c.file)
		cam.mu.Lock()
		_, r, err := cam.gc.g.registerOf("ActionDeviceKey") // a client's write of the key
		if err == nil {
			_, _ = cam.writeRegLocked(uint32(r.addr), 0x5a5a)
		}
		v, err2 := cam.gc.g.Int("ActionQueueSize")
		cam.mu.Unlock()
		if err != nil || err2 != nil || v != c.read {
			t.Errorf("%s: ActionQueueSize %d (%v, %v), want %d", c.file, v, err, err2, c.read)
		}
		if got := cam.actionQueueSize(); int64(got) != c.used {
			t.Errorf("%s: scheduler bound %d, want %d", c.file, got, c.used)
		}
	}
}

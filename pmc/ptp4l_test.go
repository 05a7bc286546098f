package pmc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// pair is a grandmaster and a slave-only ptp4l on a veth pair, each in a
// namespace of its own.
type pair struct {
	gmNS, slNS *rig.Netns
	gm, sl     *rig.PTP4L
	gmDir      string
	domain     uint8
}

// startPair brings up the pair and waits until the grandmaster took the role
// and the slave chose it (UNCALIBRATED: free_running keeps the servo from
// locking, so the slave never reaches SLAVE).
func startPair(t *testing.T, ctx context.Context, domain uint8) *pair {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l", "pmc")
	p := &pair{domain: domain, gmDir: t.TempDir()}
	p.gmNS, p.slNS = testenv.NetnsPair(t, "ptpcam-pmc-")
	p.gm = testenv.PTP4L(t, p.gmNS, rig.PTP4LConfig{Interface: "veth0", Dir: p.gmDir, Domain: domain, Priority1: 100})
	p.sl = testenv.PTP4L(t, p.slNS, rig.PTP4LConfig{Interface: "veth0", Domain: domain, SlaveOnly: true})
	if err := p.gm.WaitLog(ctx, "assuming the grand master role"); err != nil {
		t.Fatal(err)
	}
	if err := p.sl.WaitLog(ctx, "LISTENING to UNCALIBRATED"); err != nil {
		t.Fatal(err)
	}
	return p
}

func dial(t *testing.T, socket string, domain uint8) *Client {
	t.Helper()
	c, err := Dial(Config{Socket: socket, Domain: domain, ClientDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pmcBlock is one answer as the real pmc prints it.
type pmcBlock struct {
	source string // sourcePortIdentity of the answer
	id     string // e.g. CURRENT_DATA_SET
	fields map[string]string
}

// runPMC runs the real pmc against socket, in ns (its client socket is a
// file in /var/run, so the namespace does not matter, but this is where an
// operator would run it), and parses its text output.
func runPMC(t *testing.T, ctx context.Context, ns *rig.Netns, socket string, domain uint8, cmds ...string) []pmcBlock {
	t.Helper()
	args := []string{"-u", "-b", "0", "-s", socket, "-d", strconv.Itoa(int(domain))}
	for _, c := range cmds {
		args = append(args, "GET "+c)
	}
	out, err := ns.Command(ctx, "pmc", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pmc %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return parsePMC(t, string(out))
}

// parsePMC parses blocks like
//
//	\t000000.0000.000000-1 seq 0 RESPONSE MANAGEMENT CURRENT_DATA_SET
//	\t\tstepsRemoved     0
func parsePMC(t *testing.T, out string) []pmcBlock {
	t.Helper()
	var blocks []pmcBlock
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "\t\t"):
			if len(blocks) == 0 {
				t.Fatalf("pmc output: field before any answer: %q\n%s", line, out)
			}
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			blocks[len(blocks)-1].fields[k] = strings.TrimSpace(v)
		case strings.HasPrefix(line, "\t"):
			f := strings.Fields(line)
			if len(f) != 6 || f[3] != "RESPONSE" || f[4] != "MANAGEMENT" {
				t.Fatalf("pmc output: unexpected answer line %q\n%s", line, out)
			}
			blocks = append(blocks, pmcBlock{source: f[0], id: f[5], fields: map[string]string{}})
		}
	}
	return blocks
}

func b01(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// The pmcFields functions print what this package decoded the way pmc
// (v3.1.1 pmc.c) prints it, so every field can be compared as text.

func pmcDefault(d DefaultDataSet) map[string]string {
	return map[string]string{
		"twoStepFlag":             b01(d.TwoStepFlag),
		"slaveOnly":               b01(d.SlaveOnly),
		"numberPorts":             fmt.Sprint(d.NumberPorts),
		"priority1":               fmt.Sprint(d.Priority1),
		"clockClass":              fmt.Sprint(d.ClockQuality.ClockClass),
		"clockAccuracy":           fmt.Sprintf("0x%02x", d.ClockQuality.ClockAccuracy),
		"offsetScaledLogVariance": fmt.Sprintf("0x%04x", d.ClockQuality.OffsetScaledLogVariance),
		"priority2":               fmt.Sprint(d.Priority2),
		"clockIdentity":           d.ClockIdentity.String(),
		"domainNumber":            fmt.Sprint(d.DomainNumber),
	}
}

func pmcCurrent(d CurrentDataSet) map[string]string {
	return map[string]string{
		"stepsRemoved":     fmt.Sprint(int16(d.StepsRemoved)), // pmc prints it with %hd
		"offsetFromMaster": fmt.Sprintf("%.1f", d.OffsetFromMaster.Nanoseconds()),
		"meanPathDelay":    fmt.Sprintf("%.1f", d.MeanPathDelay.Nanoseconds()),
	}
}

func pmcParent(d ParentDataSet) map[string]string {
	return map[string]string{
		"parentPortIdentity":                    d.ParentPortIdentity.String(),
		"parentStats":                           b01(d.ParentStats),
		"observedParentOffsetScaledLogVariance": fmt.Sprintf("0x%04x", d.ObservedParentOffsetScaledLogVariance),
		"observedParentClockPhaseChangeRate":    fmt.Sprintf("0x%08x", uint32(d.ObservedParentClockPhaseChangeRate)),
		"grandmasterPriority1":                  fmt.Sprint(d.GrandmasterPriority1),
		"gm.ClockClass":                         fmt.Sprint(d.GrandmasterClockQuality.ClockClass),
		"gm.ClockAccuracy":                      fmt.Sprintf("0x%02x", d.GrandmasterClockQuality.ClockAccuracy),
		"gm.OffsetScaledLogVariance":            fmt.Sprintf("0x%04x", d.GrandmasterClockQuality.OffsetScaledLogVariance),
		"grandmasterPriority2":                  fmt.Sprint(d.GrandmasterPriority2),
		"grandmasterIdentity":                   d.GrandmasterIdentity.String(),
	}
}

// pmcTimeFlags prints the time property flags and source as pmc does in
// both TIME_PROPERTIES_DATA_SET and GRANDMASTER_SETTINGS_NP, with the UTC
// offset, into m.
func pmcTimeFlags(m map[string]string, utcOffset int16, f TimeFlags, source uint8) map[string]string {
	m["currentUtcOffset"] = fmt.Sprint(utcOffset)
	m["leap61"], m["leap59"] = b01(f.Leap61), b01(f.Leap59)
	m["currentUtcOffsetValid"], m["ptpTimescale"] = b01(f.CurrentUTCOffsetValid), b01(f.PTPTimescale)
	m["timeTraceable"], m["frequencyTraceable"] = b01(f.TimeTraceable), b01(f.FrequencyTraceable)
	m["timeSource"] = fmt.Sprintf("0x%02x", source)
	return m
}

func pmcTimeProperties(d TimePropertiesDataSet) map[string]string {
	return pmcTimeFlags(map[string]string{}, d.CurrentUTCOffset, d.TimeFlags, d.TimeSource)
}

func pmcTimeStatus(d TimeStatusNP) map[string]string {
	present := "false"
	if d.GMPresent {
		present = "true"
	}
	return map[string]string{
		"master_offset":              fmt.Sprint(d.MasterOffset),
		"ingress_time":               fmt.Sprint(d.IngressTime),
		"cumulativeScaledRateOffset": fmt.Sprintf("%+.9f", d.CumulativeRateOffset()),
		"scaledLastGmPhaseChange":    fmt.Sprint(d.ScaledLastGmPhaseChange),
		"gmTimeBaseIndicator":        fmt.Sprint(d.GMTimeBaseIndicator),
		"lastGmPhaseChange":          d.LastGmPhaseChange.String(),
		"gmPresent":                  present,
		"gmIdentity":                 d.GMIdentity.String(),
	}
}

func pmcGMSettings(d GrandmasterSettingsNP) map[string]string {
	return pmcTimeFlags(map[string]string{
		"clockClass":              fmt.Sprint(d.ClockQuality.ClockClass),
		"clockAccuracy":           fmt.Sprintf("0x%02x", d.ClockQuality.ClockAccuracy),
		"offsetScaledLogVariance": fmt.Sprintf("0x%04x", d.ClockQuality.OffsetScaledLogVariance),
	}, d.UTCOffset, d.TimeFlags, d.TimeSource)
}

func pmcPort(d PortDataSet) map[string]string {
	return map[string]string{
		"portIdentity":            d.PortIdentity.String(),
		"portState":               d.PortState.String(),
		"logMinDelayReqInterval":  fmt.Sprint(d.LogMinDelayReqInterval),
		"peerMeanPathDelay":       fmt.Sprint(int64(d.PeerMeanPathDelay) >> 16), // pmc shifts, it does not round
		"logAnnounceInterval":     fmt.Sprint(d.LogAnnounceInterval),
		"announceReceiptTimeout":  fmt.Sprint(d.AnnounceReceiptTimeout),
		"logSyncInterval":         fmt.Sprint(d.LogSyncInterval),
		"delayMechanism":          fmt.Sprint(d.DelayMechanism),
		"logMinPdelayReqInterval": fmt.Sprint(d.LogMinPdelayReqInterval),
		"versionNumber":           fmt.Sprint(d.VersionNumber),
	}
}

func pmcPortProperties(d PortPropertiesNP) map[string]string {
	return map[string]string{
		"portIdentity": d.PortIdentity.String(),
		"portState":    d.PortState.String(),
		"timestamping": TimestampingName(d.Timestamping),
		"interface":    d.Interface,
	}
}

// diffFields reports every field whose text differs, and fields only one
// side has.
func diffFields(want, got map[string]string) []string {
	var d []string
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			d = append(d, fmt.Sprintf("%s: pmc does not print it (native %q)", k, w))
		} else if g != w {
			d = append(d, fmt.Sprintf("%s: pmc %q, native %q", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%s: pmc prints %q, not decoded", k, g))
		}
	}
	return d
}

// crossCheck reads one clock-wide dataset natively, then with pmc, then
// natively again, and asserts every field pmc prints equals the native
// value from before or from after the pmc call. A field that changes in
// between (the slave's offsets change once per second) still has to equal
// one of them, so nothing is compared loosely. It retries a few times in
// case a value changed twice during the ~100 ms pmc takes.
func crossCheck(t *testing.T, ctx context.Context, c *Client, ns *rig.Netns, socket string, domain uint8, id ManagementID, read func() (map[string]string, error)) {
	t.Helper()
	var last []string
	for try := 0; try < 5; try++ {
		before, err := read()
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		blocks := runPMC(t, ctx, ns, socket, domain, id.String())
		after, err := read()
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if len(blocks) != 1 || blocks[0].id != id.String() {
			t.Fatalf("pmc GET %s: want one answer, got %+v", id, blocks)
		}
		got := blocks[0].fields
		last = nil
		for _, d := range diffFields(before, got) {
			k, _, _ := strings.Cut(d, ":")
			if after[k] != got[k] || strings.Contains(d, "not decoded") || strings.Contains(d, "does not print") {
				last = append(last, d)
			}
		}
		if len(last) == 0 {
			return
		}
	}
	t.Errorf("%s differs from pmc:\n  %s", id, strings.Join(last, "\n  "))
}

// fieldsOf reads a dataset with get and prints it as pmc would, for
// crossCheck.
func fieldsOf[T any](ctx context.Context, get func(context.Context) (T, error), show func(T) map[string]string) func() (map[string]string, error) {
	return func() (map[string]string, error) {
		d, err := get(ctx)
		return show(d), err
	}
}

func TestPTP4L(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const domain = 7 // not the default, so a domain mix-up would show
	p := startPair(t, ctx, domain)
	gmc := dial(t, p.gm.Socket, domain)
	slc := dial(t, p.sl.Socket, domain)

	gmDef, err := gmc.DefaultDataSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slDef, err := slc.DefaultDataSet(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CrossCheckWithPmc", func(t *testing.T) {
		for _, side := range []struct {
			name   string
			c      *Client
			ns     *rig.Netns
			socket string
		}{{"grandmaster", gmc, p.gmNS, p.gm.Socket}, {"slave", slc, p.slNS, p.sl.Socket}} {
			t.Run(side.name, func(t *testing.T) {
				c, ns, sock := side.c, side.ns, side.socket
				for _, d := range []struct {
					id   ManagementID
					read func() (map[string]string, error)
				}{
					{IDDefaultDataSet, fieldsOf(ctx, c.DefaultDataSet, pmcDefault)},
					{IDCurrentDataSet, fieldsOf(ctx, c.CurrentDataSet, pmcCurrent)},
					{IDParentDataSet, fieldsOf(ctx, c.ParentDataSet, pmcParent)},
					{IDTimePropertiesDataSet, fieldsOf(ctx, c.TimePropertiesDataSet, pmcTimeProperties)},
					{IDTimeStatusNP, fieldsOf(ctx, c.TimeStatusNP, pmcTimeStatus)},
					{IDGrandmasterSettingsNP, fieldsOf(ctx, c.GrandmasterSettingsNP, pmcGMSettings)},
				} {
					crossCheck(t, ctx, c, ns, sock, domain, d.id, d.read)
				}

				// Port datasets: one wildcard GET, one answer per port.
				pds, err := c.PortDataSets(ctx, 0)
				if err != nil {
					t.Fatal(err)
				}
				pps, err := c.PortPropertiesNP(ctx, 0)
				if err != nil {
					t.Fatal(err)
				}
				blocks := runPMC(t, ctx, ns, sock, domain, "PORT_DATA_SET", "PORT_PROPERTIES_NP")
				var gotPDS, gotPPS []pmcBlock
				for _, b := range blocks {
					switch b.id {
					case "PORT_DATA_SET":
						gotPDS = append(gotPDS, b)
					case "PORT_PROPERTIES_NP":
						gotPPS = append(gotPPS, b)
					}
				}
				if len(pds) != 1 || len(gotPDS) != 1 || len(pps) != 1 || len(gotPPS) != 1 {
					t.Fatalf("want one port: native %d/%d, pmc %d/%d", len(pds), len(pps), len(gotPDS), len(gotPPS))
				}
				// peerMeanPathDelay is 0 with E2E and the port's other
				// fields are configuration, so they are stable.
				if d := diffFields(pmcPort(pds[0]), gotPDS[0].fields); len(d) > 0 {
					t.Errorf("PORT_DATA_SET differs from pmc:\n  %s", strings.Join(d, "\n  "))
				}
				if d := diffFields(pmcPortProperties(pps[0]), gotPPS[0].fields); len(d) > 0 {
					t.Errorf("PORT_PROPERTIES_NP differs from pmc:\n  %s", strings.Join(d, "\n  "))
				}
				if gotPDS[0].source != pds[0].PortIdentity.String() {
					t.Errorf("PORT_DATA_SET answered by %s, native portIdentity %s", gotPDS[0].source, pds[0].PortIdentity)
				}
			})
		}
	})

	t.Run("Snapshot", func(t *testing.T) {
		gs, err := gmc.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := slc.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r := InferRole(gs); r != RoleGrandmaster {
			t.Errorf("grandmaster role %s, ports %+v", r, gs.Ports)
		}
		if r := InferRole(ss); r != RoleUncalibrated {
			t.Errorf("slave role %s, ports %+v", r, ss.Ports)
		}
		if gs.Default != gmDef || ss.Default != slDef {
			t.Errorf("snapshot DEFAULT_DATA_SET differs from a single GET")
		}
		if ss.Parent.GrandmasterIdentity != gmDef.ClockIdentity {
			t.Errorf("slave's grandmaster %s, grandmaster's clockIdentity %s", ss.Parent.GrandmasterIdentity, gmDef.ClockIdentity)
		}
		if ss.Parent.ParentPortIdentity != (PortIdentity{gmDef.ClockIdentity, 1}) {
			t.Errorf("slave's parent port %s, want %s-1", ss.Parent.ParentPortIdentity, gmDef.ClockIdentity)
		}
		if ss.TimeStatus.GMIdentity != gmDef.ClockIdentity || !ss.TimeStatus.GMPresent {
			t.Errorf("slave TIME_STATUS_NP gm %s present %v", ss.TimeStatus.GMIdentity, ss.TimeStatus.GMPresent)
		}
		if ss.Current.StepsRemoved != 1 || gs.Current.StepsRemoved != 0 {
			t.Errorf("stepsRemoved slave %d grandmaster %d", ss.Current.StepsRemoved, gs.Current.StepsRemoved)
		}
		if gs.Parent.GrandmasterIdentity != gmDef.ClockIdentity || gs.TimeStatus.GMPresent {
			t.Errorf("grandmaster's own parent dataset: %+v, gmPresent %v", gs.Parent, gs.TimeStatus.GMPresent)
		}
		if !ss.Default.SlaveOnly || gs.Default.SlaveOnly || gs.Default.Priority1 != 100 || ss.Default.Priority1 != 128 {
			t.Errorf("DEFAULT_DATA_SET slaveOnly/priority1: gm %+v slave %+v", gs.Default, ss.Default)
		}
		if gs.Default.DomainNumber != domain || gs.Default.NumberPorts != 1 {
			t.Errorf("grandmaster domain %d numberPorts %d", gs.Default.DomainNumber, gs.Default.NumberPorts)
		}
		if gs.GrandmasterSettings == nil || ss.GrandmasterSettings == nil {
			t.Fatalf("GRANDMASTER_SETTINGS_NP missing: gm %v slave %v", gs.GrandmasterSettings, ss.GrandmasterSettings)
		}
		for _, c := range []struct {
			s     *Snapshot
			state PortState
		}{{gs, PortStateMaster}, {ss, PortStateUncalibrated}} {
			if len(c.s.Ports) != 1 || c.s.Ports[0].PortState != c.state || c.s.Ports[0].Interface != "veth0" ||
				c.s.Ports[0].PortIdentity.ClockIdentity != c.s.Default.ClockIdentity {
				t.Errorf("ports %+v, want one %s port on veth0", c.s.Ports, c.state)
			}
		}
	})

	t.Run("WrongDomain", func(t *testing.T) {
		c, err := Dial(Config{Socket: p.gm.Socket, Domain: domain + 1, Timeout: 200 * time.Millisecond, ClientDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.CurrentDataSet(ctx)
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "check domain") || !strings.Contains(err.Error(), p.gm.Socket) {
			t.Fatalf("wrong domain: want a timeout naming the socket and hinting at the domain, got %v", err)
		}
	})

	t.Run("StaleAnswersIgnored", func(t *testing.T) {
		c, err := Dial(Config{Socket: p.gm.Socket, Domain: domain, Timeout: 300 * time.Millisecond, ClientDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// An exchange that gives up before ptp4l answers leaves the answer
		// queued on the socket. Make one: a GET sent with the client's own
		// numbering and never read, and wait until its answer is queued.
		c.mu.Lock()
		_, err = c.send([]*call{{id: IDCurrentDataSet, want: 1}})
		c.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		waitQueued(t, c, 5*time.Second)
		// The next exchange must not count it: asking for two answers to a
		// clock-wide GET, which ptp4l answers once, has to time out with one.
		handled := 0
		cl := &call{id: IDCurrentDataSet, want: 2, handle: func(b []byte) error {
			var d CurrentDataSet
			handled++
			return d.UnmarshalBinary(b)
		}}
		err = c.exchange(ctx, []*call{cl})
		if !errors.Is(err, ErrTimeout) || handled != 1 || !strings.Contains(err.Error(), "1 of 2 answers") {
			t.Fatalf("after a stale answer: want a timeout with 1 of 2 answers handled, got %d handled, error %v", handled, err)
		}
		if n := queued(t, c); n != 0 {
			t.Fatalf("%d bytes still queued: the stale answer was not read", n)
		}
	})

	t.Run("PortServiceStatsNP", func(t *testing.T) {
		// PORT_SERVICE_STATS_NP arrived in linuxptp 4.0; 3.1.1 answers
		// NO_SUCH_ID. Which of the two is due follows from ptp4l -v.
		known := ptp4lMajor(t) >= 4
		st, err := gmc.PortServiceStatsNP(ctx, 0)
		var me *ManagementError
		switch {
		case known && err != nil:
			t.Fatalf("ptp4l %d.x knows PORT_SERVICE_STATS_NP: %v", ptp4lMajor(t), err)
		case known:
			if len(st) != 1 || st[0].PortIdentity != (PortIdentity{gmDef.ClockIdentity, 1}) {
				t.Fatalf("want the grandmaster's port %s-1, got %+v", gmDef.ClockIdentity, st)
			}
		case !errors.As(err, &me):
			t.Fatalf("ptp4l %d.x: want a management error, got %v (answers %+v)", ptp4lMajor(t), err, st)
		case me.ManagementID != IDPortServiceStatsNP || me.ErrorID != ErrNoSuchID:
			t.Fatalf("got %v", me)
		case me.Error() != "PORT_SERVICE_STATS_NP: NO_SUCH_ID" || !strings.Contains(err.Error(), p.gm.Socket):
			t.Fatalf("error text %q (wrapped: %q)", me.Error(), err)
		}
	})

	if os.Getenv("PMC_CAPTURE_CORPUS") != "" {
		t.Run("CaptureCorpus", func(t *testing.T) { captureCorpus(t, p) })
	}
}

// ptp4lMajor is the major version ptp4l -v prints (3 for 3.1.1).
func ptp4lMajor(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("ptp4l", "-v").CombinedOutput()
	if err != nil {
		t.Fatalf("ptp4l -v: %v: %s", err, out)
	}
	major, _, _ := strings.Cut(strings.TrimSpace(string(out)), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		t.Fatalf("ptp4l -v printed %q, not a version", out)
	}
	return n
}

// queued is the size of the datagram waiting on the client's socket, 0 if
// none.
func queued(t *testing.T, c *Client) int {
	t.Helper()
	rc, err := c.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var rerr error
	buf := make([]byte, 1)
	if err := rc.Control(func(fd uintptr) {
		// MSG_TRUNC: the datagram's full length, not the 1 byte copied.
		n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT|syscall.MSG_TRUNC)
	}); err != nil {
		t.Fatal(err)
	}
	if errors.Is(rerr, syscall.EAGAIN) {
		return 0
	}
	if rerr != nil {
		t.Fatalf("peek: %v", rerr)
	}
	return n
}

// waitQueued waits until a datagram is queued on the client's socket.
func waitQueued(t *testing.T, c *Client, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for queued(t, c) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no answer queued within %s", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPTP4LKilledAndRestarted has a pair of its own: it kills the
// grandmaster.
func TestPTP4LKilledAndRestarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const domain = 7
	p := startPair(t, ctx, domain)
	c := dial(t, p.gm.Socket, domain)
	gmDef, err := c.DefaultDataSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// SIGKILL leaves the socket file behind: sendto gets ECONNREFUSED.
	for _, pid := range p.gmNS.PIDs(ctx) {
		n, _ := strconv.Atoi(pid)
		if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	<-p.gm.Done()
	_, err = c.CurrentDataSet(ctx)
	if err == nil || !strings.Contains(err.Error(), p.gm.Socket) {
		t.Fatalf("ptp4l killed: want an error naming %s, got %v", p.gm.Socket, err)
	}
	t.Logf("killed: %v", err)

	gm, err := rig.StartPTP4L(ctx, p.gmNS, rig.PTP4LConfig{Interface: "veth0", Dir: p.gmDir, Domain: domain, Priority1: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gm.Stop)
	// StartPTP4L may return while the dead one's socket file is still
	// there; ptp4l replaces it when it binds, within its start-up.
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := c.DefaultDataSet(ctx)
		if err == nil {
			if d.ClockIdentity != gmDef.ClockIdentity {
				t.Fatalf("restarted ptp4l has clockIdentity %s, was %s", d.ClockIdentity, gmDef.ClockIdentity)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("same client after restart: %v\n%s", err, gm.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServerSocketMissing(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "no-ptp4l-here")
	c := dial(t, sock, 0)
	_, err := c.CurrentDataSet(context.Background())
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Fatalf("want an error naming %s, got %v", sock, err)
	}
	if errors.Is(err, ErrTimeout) {
		t.Fatalf("a missing socket should fail at once, not time out: %v", err)
	}
}

func TestCloseRemovesSocketAndDir(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	c, err := Dial(Config{Socket: filepath.Join(parent, "ptp4l"), ClientDir: parent})
	if err != nil {
		t.Fatal(err)
	}
	path := c.LocalPath()
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("client directory %s mode %v, want 0700", filepath.Dir(path), fi.Mode().Perm())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("client socket %s: %v %v", path, fi, err)
	}
	// A second client gets another path.
	c2, err := Dial(Config{ClientDir: parent})
	if err != nil {
		t.Fatal(err)
	}
	if c2.LocalPath() == path {
		t.Errorf("two clients share %s", path)
	}
	c2.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("client directory still there after Close: %v", err)
	}
	if _, err := c.CurrentDataSet(context.Background()); err == nil {
		t.Error("request on a closed client succeeded")
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 0 {
		t.Errorf("left in %s: %v", parent, ents)
	}
}

func TestDialLongPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(Config{ClientDir: dir})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("want an error naming the too-long path, got %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// rawGet sends GET id with the package's encoder from a socket of its own and
// returns every datagram ptp4l answers within a short time, unparsed.
func rawGet(t *testing.T, socket string, domain uint8, id ManagementID, answers int) [][]byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raw.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := appendGet(nil, getRequest{Domain: domain, SequenceID: 4242, ID: id})
	if _, err := conn.WriteToUnix(msg, &net.UnixAddr{Name: socket, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	buf := make([]byte, 65536)
	conn.SetReadDeadline(time.Now().Add(time.Second))
	for len(out) < answers {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("GET %s: %d of %d answers: %v", id, len(out), answers, err)
		}
		out = append(out, append([]byte(nil), buf[:n]...))
	}
	return out
}

// captureCorpus writes real answers of both instances as the FuzzDecode seed
// corpus: PMC_CAPTURE_CORPUS=1 go test ./pmc/ -run TestPTP4L/CaptureCorpus.
func captureCorpus(t *testing.T, p *pair) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ids := []ManagementID{IDDefaultDataSet, IDCurrentDataSet, IDParentDataSet, IDTimePropertiesDataSet,
		IDPortDataSet, IDPortPropertiesNP, IDTimeStatusNP, IDGrandmasterSettingsNP, IDPortServiceStatsNP}
	for _, side := range []struct{ name, socket string }{{"gm", p.gm.Socket}, {"slave", p.sl.Socket}} {
		for _, id := range ids {
			for i, b := range rawGet(t, side.socket, p.domain, id, 1) {
				name := fmt.Sprintf("%s-%s-%d", side.name, strings.ToLower(id.String()), i)
				body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

package collector

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/pmc"
	"github.com/ptpcam/ptpcam/rig"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Offsets into a management message (IEEE 1588 clauses 13.3 and 15.4):
// the header's sequenceId, and the managementId of a MANAGEMENT TLV or of a
// MANAGEMENT_ERROR_STATUS TLV.
const (
	offSequenceID = 30
	offTLVType    = 48
	offMgmtID     = 52
	offErrMgmtID  = 54
)

// mgmtID is the managementId a request or an answer is about.
func mgmtID(b []byte) (pmc.ManagementID, bool) {
	if len(b) < offMgmtID+2 {
		return 0, false
	}
	if binary.BigEndian.Uint16(b[offTLVType:]) == 0x0002 { // MANAGEMENT_ERROR_STATUS
		if len(b) < offErrMgmtID+2 {
			return 0, false
		}
		return pmc.ManagementID(binary.BigEndian.Uint16(b[offErrMgmtID:])), true
	}
	return pmc.ManagementID(binary.BigEndian.Uint16(b[offMgmtID:])), true
}

// readCorpus reads the "go test fuzz v1" files of dir whose names start with
// prefix, keyed by the managementId of the answer they hold.
func readCorpus(t *testing.T, dir, prefix string, into map[pmc.ManagementID][]byte) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a one-[]byte fuzz corpus file", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		id, ok := mgmtID([]byte(s))
		if !ok {
			t.Fatalf("%s: %d bytes, not a management message", e.Name(), len(s))
		}
		into[id] = []byte(s)
	}
}

// answers are the captured answers of one real ptp4l 3.1.1: the nine of
// pmc's seed corpus, and PORT_STATS_NP captured for this package
// (TestCapturePortStats).
func answers(t *testing.T, side string) map[pmc.ManagementID][]byte {
	t.Helper()
	out := map[pmc.ManagementID][]byte{}
	readCorpus(t, filepath.Join("..", "pmc", "testdata", "fuzz", "FuzzDecode"), side+"-", out)
	readCorpus(t, filepath.Join("testdata", "ptp4l-3.1.1"), side+"-", out)
	if len(out) != 10 {
		t.Fatalf("%s: %d captured answers, want 10 (9 in pmc/testdata, PORT_STATS_NP in testdata/ptp4l-3.1.1)", side, len(out))
	}
	return out
}

// replayPTP4L is a real Unix datagram server at path that answers every GET
// with the captured answer for its managementId, the request's sequenceId
// patched in, as ptp4l does. It records which IDs were asked.
type replayPTP4L struct {
	conn *net.UnixConn
	mu   sync.Mutex
	asks map[pmc.ManagementID]int
}

func startReplay(t *testing.T, path string, ans map[pmc.ManagementID][]byte) *replayPTP4L {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	r := &replayPTP4L{conn: conn, asks: map[pmc.ManagementID]int{}}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done; os.Remove(path) })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			id, ok := mgmtID(buf[:n])
			if !ok {
				continue
			}
			r.mu.Lock()
			r.asks[id]++
			r.mu.Unlock()
			a, ok := ans[id]
			if !ok || from == nil {
				continue // unknown: no answer, as ptp4l for another domain
			}
			out := append([]byte(nil), a...)
			copy(out[offSequenceID:], buf[offSequenceID:offSequenceID+2])
			conn.WriteToUnix(out, from)
		}
	}()
	return r
}

func (r *replayPTP4L) asked(id pmc.ManagementID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.asks[id]
}

// hostUpdater adapts the host collector to prometheus.Collector.
type hostUpdater struct{ c *HostCollector }

func (u hostUpdater) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(u, ch) }
func (u hostUpdater) Collect(ch chan<- prometheus.Metric) {
	if err := u.c.Update(ch); err != nil {
		panic(err)
	}
}

// replayHost starts a replaying ptp4l per side under relative socket names
// (the socket label then does not depend on the temporary directory) and a
// host collector on a fixed clock.
func replayHost(t *testing.T, ans map[string]map[pmc.ManagementID][]byte) (*HostCollector, map[string]*replayPTP4L) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	servers := map[string]*replayPTP4L{}
	var socks []string
	for _, side := range []string{"gm", "slave"} {
		if ans[side] == nil {
			continue
		}
		sock := side + ".sock"
		servers[side] = startReplay(t, sock, ans[side])
		socks = append(socks, sock)
	}
	c, err := NewHostCollector(slog.New(slog.DiscardHandler), HostConfig{
		Sockets: socks, PMC: pmc.Config{Timeout: 2 * time.Second, ClientDir: dir}, OffsetWindow: time.Minute, ExpectGrandmaster: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range c.sources {
		s.now = func() time.Time { return at }
		t.Cleanup(s.close)
	}
	return c, servers
}

// TestHostCollectorGolden: the collector's whole output for a grandmaster
// and a slave ptp4l, replayed from their captured answers, against
// testdata/host.prom (go test -run HostCollectorGolden -update rewrites it).
func TestHostCollectorGolden(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "host.prom"))
	if err != nil {
		t.Fatal(err)
	}
	c, servers := replayHost(t, map[string]map[pmc.ManagementID][]byte{"gm": answers(t, "gm"), "slave": answers(t, "slave")})
	if *update {
		// Not testutil.CollectAndFormat: without names it keeps no family.
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(hostUpdater{c})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(hostUpdater{c}, f); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.CollectAndLint(hostUpdater{c}); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %+v", err, probs)
	}
	// 3.1.1 answered PORT_SERVICE_STATS_NP with NO_SUCH_ID on the first
	// scrape: later scrapes do not ask again.
	for side, s := range servers {
		if n := s.asked(pmc.IDPortServiceStatsNP); n != 1 {
			t.Errorf("%s: PORT_SERVICE_STATS_NP asked %d times over three scrapes, want 1", side, n)
		}
		if n := s.asked(pmc.IDPortStatsNP); n < 3 {
			t.Errorf("%s: PORT_STATS_NP asked %d times over three scrapes", side, n)
		}
	}
}

// serviceStatsAnswer builds a linuxptp 4.0 PORT_SERVICE_STATS_NP answer on
// the header of a captured PORT_STATS_NP answer: 3.1.1 cannot give one.
func serviceStatsAnswer(t *testing.T, statsAnswer []byte, st pmc.PortServiceStatsNP) []byte {
	t.Helper()
	data, _ := st.MarshalBinary()
	b := append([]byte(nil), statsAnswer[:offTLVType]...)
	b = binary.BigEndian.AppendUint16(b, 0x0001) // MANAGEMENT
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(data)))
	b = binary.BigEndian.AppendUint16(b, uint16(pmc.IDPortServiceStatsNP))
	b = append(b, data...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b))) // messageLength
	return b
}

func TestHostCollectorServiceStats(t *testing.T) {
	ans := answers(t, "slave")
	var ps pmc.PortStatsNP
	if err := ps.UnmarshalBinary(ans[pmc.IDPortStatsNP][offMgmtID+2:]); err != nil {
		t.Fatal(err)
	}
	ans[pmc.IDPortServiceStatsNP] = serviceStatsAnswer(t, ans[pmc.IDPortStatsNP], pmc.PortServiceStatsNP{
		PortIdentity: ps.PortIdentity, AnnounceTimeout: 2, SyncTimeout: 5, DelayTimeout: 1,
	})
	c, _ := replayHost(t, map[string]map[pmc.ManagementID][]byte{"slave": ans})
	want := `
# HELP ptpcam_ptp_port_announce_timeouts_total announceReceiptTimeout expiries of the port since ptp4l started (PORT_SERVICE_STATS_NP, linuxptp >= 4.0).
# TYPE ptpcam_ptp_port_announce_timeouts_total counter
ptpcam_ptp_port_announce_timeouts_total{interface="veth0",port="1",socket="slave.sock"} 2
# HELP ptpcam_ptp_port_service_stats_available 1 when ptp4l answers PORT_SERVICE_STATS_NP (linuxptp >= 4.0), so that the timeout counters exist; 0 when it answered NO_SUCH_ID.
# TYPE ptpcam_ptp_port_service_stats_available gauge
ptpcam_ptp_port_service_stats_available{socket="slave.sock"} 1
# HELP ptpcam_ptp_port_sync_timeouts_total Sync receipt timeouts of the port since ptp4l started: the master's Sync stopped arriving (PORT_SERVICE_STATS_NP, linuxptp >= 4.0).
# TYPE ptpcam_ptp_port_sync_timeouts_total counter
ptpcam_ptp_port_sync_timeouts_total{interface="veth0",port="1",socket="slave.sock"} 5
`
	if err := testutil.CollectAndCompare(hostUpdater{c}, strings.NewReader(want),
		"ptpcam_ptp_port_announce_timeouts_total", "ptpcam_ptp_port_sync_timeouts_total", "ptpcam_ptp_port_service_stats_available"); err != nil {
		t.Error(err)
	}
}

// TestHostCollectorDeadline: Update gives up at the scrape timeout, not
// after a fixed 10 s, and a ptp4l that never answers is up 0.
func TestHostCollectorDeadline(t *testing.T) {
	c, _ := replayHost(t, map[string]map[pmc.ManagementID][]byte{"gm": {}})
	c.cfg.ScrapeTimeout = 300 * time.Millisecond
	start := time.Now()
	got := testutil.ToFloat64(metricOf(c.Update, "ptpcam_ptp_up"))
	if got != 0 {
		t.Errorf("up = %v for a ptp4l that never answers", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Update took %v with a 300ms scrape timeout and a 2s request timeout", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch := make(chan prometheus.Metric, 100)
	if err := c.UpdateContext(ctx, ch); err != nil {
		t.Fatal(err)
	}
	close(ch)
	for m := range ch {
		if strings.Contains(m.Desc().String(), `"ptpcam_ptp_up"`) && testutil.ToFloat64(constCollector{m}) != 0 {
			t.Errorf("cancelled context: up = 1")
		}
	}
}

type constCollector struct{ m prometheus.Metric }

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.Desc() }
func (c constCollector) Collect(ch chan<- prometheus.Metric) { ch <- c.m }

var capture = flag.Bool("capture", false, "rewrite testdata/ptp4l-3.1.1 from real ptp4l (TestPortStatsFromRealPTP4L)")

// TestPortStatsFromRealPTP4L asks a real grandmaster and slave ptp4l for
// PORT_STATS_NP through a recording relay and decodes the raw answers: the
// grandmaster has sent Announce and Sync, the slave received them. With
// -capture the answers become testdata/ptp4l-3.1.1, which the golden test
// replays.
func TestPortStatsFromRealPTP4L(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ptp4l")
	out, _ := filepath.Abs(filepath.Join("testdata", "ptp4l-3.1.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gmNS, err := rig.NewNetns(ctx, rig.UniqueName("ptpcam-cap-"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gmNS.Close() })
	slNS, err := rig.NewNetns(ctx, rig.UniqueName("ptpcam-cap-"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slNS.Close() })
	if err := rig.VethPair(ctx, gmNS, "veth0", "10.77.9.1/24", slNS, "veth0", "10.77.9.2/24"); err != nil {
		t.Fatal(err)
	}
	gm, err := rig.StartPTP4L(ctx, gmNS, rig.PTP4LConfig{Interface: "veth0", Dir: t.TempDir(), Priority1: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gm.Stop)
	sl, err := rig.StartPTP4L(ctx, slNS, rig.PTP4LConfig{Interface: "veth0", Dir: t.TempDir(), SlaveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sl.Stop)
	if err := sl.WaitLog(ctx, "to UNCALIBRATED"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		side, sock string
		counts     func(pmc.PortStatsNP) [16]uint64
	}{
		{"gm", gm.Socket, func(p pmc.PortStatsNP) [16]uint64 { return p.TxMsgType }},
		{"slave", sl.Socket, func(p pmc.PortStatsNP) [16]uint64 { return p.RxMsgType }},
	} {
		raw := captureOne(t, c.sock)
		if id, _ := mgmtID(raw); id != pmc.IDPortStatsNP {
			t.Fatalf("%s: answer about %s", c.side, id)
		}
		var ps pmc.PortStatsNP
		if err := ps.UnmarshalBinary(raw[offMgmtID+2:]); err != nil {
			t.Fatal(err)
		}
		n := c.counts(ps)
		if ps.PortIdentity.PortNumber != 1 || n[pmc.MsgAnnounce] < 1 || n[pmc.MsgSync] < 1 || n[pmc.MsgAnnounce] > 1000 {
			t.Errorf("%s: PORT_STATS_NP %+v: want port 1 with a few Announce and Sync (little-endian counters)", c.side, ps)
		}
		if *capture {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(raw)) + ")\n"
			if err := os.WriteFile(filepath.Join(out, c.side+"-port_stats_np-0"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// captureOne sends a PORT_STATS_NP GET built by a real pmc.Client through a
// relay socket and returns ptp4l's raw answer.
func captureOne(t *testing.T, sock string) []byte {
	t.Helper()
	dir := t.TempDir()
	relay := filepath.Join(dir, "relay.sock")
	rc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: relay, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cl, err := pmc.Dial(pmc.Config{Socket: relay, ClientDir: dir, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 2048)
		n, from, err := rc.ReadFromUnix(buf)
		if err != nil {
			return
		}
		rc.WriteToUnix(buf[:n], &net.UnixAddr{Name: sock, Net: "unixgram"})
		rc.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, _, err := rc.ReadFromUnix(buf)
		if err != nil {
			return
		}
		got <- append([]byte(nil), buf[:m]...)
		rc.WriteToUnix(buf[:m], from)
	}()
	if _, err := cl.PortStatsNP(context.Background(), 1); err != nil {
		t.Fatalf("PORT_STATS_NP through the relay: %v", err)
	}
	return <-got
}

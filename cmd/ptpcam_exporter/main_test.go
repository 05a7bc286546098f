package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// ptpPair is a grandmaster and a slave-only ptp4l joined by a veth pair.
type ptpPair struct {
	gmNS, slNS *rig.Netns
	gm, sl     *rig.PTP4L
	gmDir      string
}

func startPair(t *testing.T) *ptpPair {
	t.Helper()
	p := &ptpPair{gmDir: t.TempDir()}
	p.gmNS, p.slNS = testenv.NetnsPair(t, "ptpcam-e2e-")
	p.gm = testenv.PTP4L(t, p.gmNS, rig.PTP4LConfig{Interface: "veth0", Dir: p.gmDir, Priority1: 100})
	p.sl = testenv.PTP4L(t, p.slNS, rig.PTP4LConfig{Interface: "veth0", SlaveOnly: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.gm.WaitLog(ctx, "assuming the grand master role"); err != nil {
		t.Fatal(err)
	}
	if err := p.sl.WaitLog(ctx, "to UNCALIBRATED"); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMain(m *testing.M) { testenv.Main(m) }

// exporterBin is the exporter built from this module (testenv.Build).
func exporterBin(t testing.TB) string {
	t.Helper()
	return filepath.Join(testenv.Build(t, "ptpcam_exporter"), "ptpcam_exporter")
}

// startExporter runs the binary on loopback in the machine's namespace: the
// host collector only talks to ptp4l's socket through the file system. The
// camera collector stays off here, since camera discovery broadcasts and may
// only run inside a rig's namespace.
func startExporter(t *testing.T, args ...string) (addr string, log *testenv.LockedBuffer) {
	t.Helper()
	return runExporter(t, exporterBin(t), append([]string{"--no-collector.camera"}, args...)...)
}

// runExporter runs bin on a port of 127.0.0.1 it binds itself until the test
// ends (SIGTERM, so that it removes its client sockets), and returns the
// address it listens on and its output.
func runExporter(t *testing.T, bin string, args ...string) (addr string, log *testenv.LockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"--web.listen-address", "127.0.0.1:0"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	log, exited := testenv.Start(t, cmd)
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return testenv.ListenAddress(t, log, exited, 10*time.Second), log
}

func scrape(t testing.TB, client *http.Client, url string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing scrape: %v\n%s", err, body)
	}
	return mfs, string(body)
}

// value returns the value of the series of family name whose labels include
// all of want, or fails.
func value(t testing.TB, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := lookup(mfs, name, want)
	if !ok {
		t.Fatalf("no series %s%v", name, want)
	}
	return v
}

func lookup(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func TestExporterHostMetrics(t *testing.T) {
	p := startPair(t)
	addr, log := startExporter(t, "--ptp.socket", p.gm.Socket, "--ptp.socket", p.sl.Socket, "--ptp.poll-interval", "200ms")
	url := "http://" + addr + "/metrics"
	mfs, body := scrape(t, http.DefaultClient, url)

	gm := map[string]string{"socket": p.gm.Socket}
	sl := map[string]string{"socket": p.sl.Socket}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ptpcam_ptp_up", gm, 1},
		{"ptpcam_ptp_up", sl, 1},
		{"ptpcam_ptp_role", with(gm, "role", "grandmaster"), 1},
		{"ptpcam_ptp_role", with(gm, "role", "slave"), 0},
		{"ptpcam_ptp_role", with(sl, "role", "uncalibrated"), 1},
		{"ptpcam_ptp_role", with(sl, "role", "grandmaster"), 0},
		{"ptpcam_ptp_port_state", with(gm, "port", "1", "interface", "veth0", "state", "master"), 1},
		{"ptpcam_ptp_port_state", with(sl, "port", "1", "interface", "veth0", "state", "uncalibrated"), 1},
		{"ptpcam_ptp_port_state", with(sl, "port", "1", "interface", "veth0", "state", "slave"), 0},
		{"ptpcam_ptp_steps_removed", gm, 0},
		{"ptpcam_ptp_steps_removed", sl, 1},
		{"ptpcam_ptp_grandmaster_present", gm, 0},
		{"ptpcam_ptp_grandmaster_present", sl, 1},
		{"ptpcam_ptp_offset_from_master_seconds", gm, 0},
		{"ptpcam_ptp_current_utc_offset_seconds", gm, 37},
		{"ptpcam_ptp_grandmaster_priority1", sl, 100},
		{"ptpcam_ptp_expected_grandmaster", gm, 1},
		{"ptpcam_scrape_collector_success", map[string]string{"collector": "host"}, 1},
	}
	for _, c := range checks {
		if got := value(t, mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Both clocks name the same grandmaster: the GM's own identity.
	var gmID, slGM string
	for _, m := range mfs["ptpcam_ptp_clock_info"].Metric {
		if labelOf(m, "socket") == p.gm.Socket {
			gmID = labelOf(m, "clock_identity")
		}
	}
	for _, m := range mfs["ptpcam_ptp_grandmaster_info"].Metric {
		if labelOf(m, "socket") == p.sl.Socket {
			slGM = labelOf(m, "grandmaster_identity")
		}
	}
	if gmID == "" || gmID != slGM {
		t.Errorf("slave's grandmaster %q, grandmaster's own identity %q", slGM, gmID)
	}
	if _, ok := lookup(mfs, "ptpcam_ptp_sync_age_seconds", sl); !ok {
		t.Errorf("no sync age for the slave")
	}
	if _, ok := lookup(mfs, "ptpcam_ptp_sync_age_seconds", gm); ok {
		t.Errorf("sync age exported for the grandmaster, which receives no Sync")
	}
	if !strings.Contains(body, "ptpcam_exporter_build_info") {
		t.Errorf("no version metric")
	}
	// The exporter's own process and Go runtime, and ptp4l's port counters:
	// the grandmaster has sent Announce and Sync, the slave received them,
	// and 3.1.1 has no PORT_SERVICE_STATS_NP.
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines", "go_memstats_alloc_bytes"} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	for _, c := range []struct {
		base      map[string]string
		direction string
		typ       string
	}{{gm, "tx", "announce"}, {gm, "tx", "sync"}, {sl, "rx", "announce"}, {sl, "rx", "sync"}} {
		if got := value(t, mfs, "ptpcam_ptp_port_messages_total", with(c.base, "port", "1", "interface", "veth0", "direction", c.direction, "type", c.typ)); got < 1 {
			t.Errorf("%s %s %s messages = %v, want >= 1", c.base["socket"], c.direction, c.typ, got)
		}
	}
	if got := value(t, mfs, "ptpcam_ptp_port_service_stats_available", sl); got != 0 {
		t.Errorf("PORT_SERVICE_STATS_NP available = %v from ptp4l 3.1.1", got)
	}
	promtoolCheck(t, body)

	// ptp4l killed: the scrape still answers, with up 0 and a log line.
	p.gm.Stop()
	mfs, _ = scrape(t, http.DefaultClient, url)
	if got := value(t, mfs, "ptpcam_ptp_up", gm); got != 0 {
		t.Errorf("after killing ptp4l: up = %v, want 0", got)
	}
	if got := value(t, mfs, "ptpcam_ptp_up", sl); got != 1 {
		t.Errorf("the other ptp4l: up = %v, want 1", got)
	}
	// The log reaches the test through a pipe: give it a moment.
	waitLog(t, log, "ptp4l management socket unreachable")
	// Restarted: the next scrape recovers.
	testenv.PTP4L(t, p.gmNS, rig.PTP4LConfig{Interface: "veth0", Dir: p.gmDir, Priority1: 100})
	mfs, _ = scrape(t, http.DefaultClient, url)
	if got := value(t, mfs, "ptpcam_ptp_up", gm); got != 1 {
		t.Errorf("after restarting ptp4l: up = %v, want 1", got)
	}
}

// waitLog waits up to 5 s for the exporter's log to contain want.
func waitLog(t *testing.T, log *testenv.LockedBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), want); {
		if time.Now().After(deadline) {
			t.Errorf("exporter log lacks %q:\n%s", want, log.String())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func promtoolCheck(t testing.TB, body string) {
	t.Helper()
	testenv.RequireTool(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestExporterMissingSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-ptp4l")
	addr, log := startExporter(t, "--ptp.socket", sock, "--ptp.poll-interval", "0")
	mfs, _ := scrape(t, http.DefaultClient, "http://"+addr+"/metrics")
	if got := value(t, mfs, "ptpcam_ptp_up", map[string]string{"socket": sock}); got != 0 {
		t.Errorf("up = %v, want 0", got)
	}
	waitLog(t, log, sock)
}

func TestExporterBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--ptp.timeout", "soon"},
		{"--ptp.domain", "300"},
		{"--web.config.file", "/nonexistent/web.yml"},
	} {
		cmd := exec.Command(exporterBin(t), append(args, "--no-collector.camera", "--web.listen-address", "127.0.0.1:0")...)
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("%v: still running after 10s", args)
			continue
		}
		if err == nil {
			t.Errorf("%v: exit 0, want failure", args)
		}
		if !strings.Contains(string(out), strings.TrimPrefix(args[0], "--")) && !strings.Contains(string(out), args[1]) {
			t.Errorf("%v: error does not name the input:\n%s", args, out)
		}
	}
}

// The web config (exporter-toolkit): TLS and basic auth.
func TestExporterWebConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prom: %s\n", cert, key, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _ := startExporter(t, "--web.config.file", cfg, "--ptp.socket", filepath.Join(dir, "none"), "--ptp.poll-interval", "0")
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"prom", "wrong", 401}, {"", "", 401}, {"prom", "s3cret", 200}} {
		req, _ := http.NewRequest("GET", "https://"+addr+"/metrics", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("user %q password %q: %d, want %d", c.user, c.pass, resp.StatusCode, c.want)
		}
	}
	// Plain HTTP is refused on a TLS listener.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP got 200 from a TLS listener")
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// Built without Aravis, the exporter serves host metrics only and says so.
func TestExporterWithoutAravis(t *testing.T) {
	bin := testenv.BuildWith(t, "ptpcam_exporter-noaravis", "ptpcam_exporter", "-tags", "noaravis")
	sock := filepath.Join(t.TempDir(), "none")
	// The camera collector is left on: a build without Aravis must not try it.
	addr, log := runExporter(t, bin, "--ptp.socket", sock)
	_, body := scrape(t, http.DefaultClient, "http://"+addr+"/metrics")
	waitLog(t, log, "Built without Aravis: serving host metrics only")
	if !strings.Contains(body, `ptpcam_ptp_up{socket="`+sock+`"} 0`) || strings.Contains(body, "ptpcam_camera_") || strings.Contains(body, `collector="camera"`) {
		t.Errorf("want host metrics only:\n%s", body)
	}
}

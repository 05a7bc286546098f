package testenv

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestListenAddressFormats(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		`time=2026-12-02T01:00:00Z level=INFO source=tls_config.go:347 msg="Listening on" address=127.0.0.1:40123` + "\n",
		`{"time":"2026-12-02T01:00:00Z","level":"INFO","msg":"Listening on","address":"127.0.0.1:40123"}` + "\n",
	} {
		var b LockedBuffer
		b.Write([]byte("level=INFO msg=\"Starting\" address=ignored:1\n" + line))
		if got := ListenAddress(t, &b, nil, time.Second); got != "127.0.0.1:40123" {
			t.Errorf("%q: address %q, want 127.0.0.1:40123", line, got)
		}
	}
}

// TestListenAddressExporter: the exporter (built without Aravis) binds
// 127.0.0.1:0 itself; the address it logs answers /metrics.
func TestListenAddressExporter(t *testing.T) {
	bin := BuildWith(t, "ptpcam_exporter-noaravis", "ptpcam_exporter", "-tags", "noaravis")
	ctx, cancel := context.WithCancel(context.Background())
	var out LockedBuffer
	cmd := exec.CommandContext(ctx, bin, "--web.listen-address=127.0.0.1:0", "--ptp.socket", t.TempDir()+"/none")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })

	addr := ListenAddress(t, &out, exited, 30*time.Second)
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("address %s: the bound port, not the requested one, was expected", addr)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ptpcam_scrape_collector_success") {
		t.Fatalf("GET /metrics at %s: %s\n%.500s", addr, resp.Status, body)
	}
}

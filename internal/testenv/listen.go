package testenv

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// listeningOn matches exporter-toolkit's start-up line in logfmt and JSON:
// msg="Listening on" address=127.0.0.1:40123, or "address":"[::1]:40123".
var listeningOn = regexp.MustCompile(`Listening on.*?\baddress"?[=:]"?([^\s",]+)`)

// ListenAddress waits for a program started with --web.listen-address
// 127.0.0.1:0 to say where it listens (exporter-toolkit's "Listening on"
// line in out) and returns that host:port. The program binds the port
// itself, so no other process can take it between a test choosing a free
// port and the program binding it. exited, when closed, means the program
// ended: the wait fails at once with its output.
func ListenAddress(t testing.TB, out fmt.Stringer, exited <-chan struct{}, within time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := listeningOn.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case <-exited:
			if m := listeningOn.FindStringSubmatch(out.String()); m != nil {
				return m[1]
			}
			t.Fatalf("exited before listening; output:\n%s", out)
		case <-deadline.C:
			t.Fatalf("no \"Listening on\" line within %s; output:\n%s", within, out)
		case <-tick.C:
		}
	}
}

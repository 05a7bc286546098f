package camsim_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// linuxptpID formats a clock identity read as a number the way linuxptp prints it.
func linuxptpID(t *testing.T, decimal string) string {
	t.Helper()
	v, err := strconv.ParseUint(decimal, 10, 64)
	if err != nil {
		t.Fatalf("clock id %q: %v", decimal, err)
	}
	return fmt.Sprintf("%06x.%04x.%06x", v>>40, (v>>24)&0xFFFF, v&0xFFFFFF)
}

// TestPTPFollowsPTP4L: with a real ptp4l grandmaster on lo in domain 0,
// cameras in domain 0 (sfnc and gev names) become Slave with ptp4l's clock
// identity as grandmaster; a camera in domain 1 becomes its own master; when
// ptp4l stops, the slave falls back to Master.
func TestPTPFollowsPTP4L(t *testing.T) {
	ns := newNetns(t)
	testenv.RequireTool(t, "ptp4l")
	p, err := rig.StartPTP4L(t.Context(), ns, rig.PTP4LConfig{Interface: "lo", Dir: t.TempDir(), Domain: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)

	startCamsim(t, ns, "127.0.0.2", "05520125", "--ptp-domain", "0")
	startCamsim(t, ns, "127.0.0.3", "05520126", "--ptp-domain", "1")
	startCamsim(t, ns, "127.0.0.4", "05520127", "--ptp-domain", "0", "--profile", "gev")

	if f := features(t, ns, "127.0.0.2", "PtpStatus"); f["PtpStatus"] != "Disabled" {
		t.Errorf("PtpStatus before PtpEnable: %q, want Disabled", f["PtpStatus"])
	}
	features(t, ns, "127.0.0.2", "PtpEnable=true")
	features(t, ns, "127.0.0.3", "PtpEnable=true")
	features(t, ns, "127.0.0.4", "GevIEEE1588=true")

	waitFeature(t, ns, "127.0.0.2", "PtpStatus", "Slave", 30*time.Second)
	waitFeature(t, ns, "127.0.0.4", "GevIEEE1588Status", "Slave", 30*time.Second)
	waitFeature(t, ns, "127.0.0.3", "PtpStatus", "Master", 30*time.Second)

	if err := p.WaitLog(t.Context(), "as best master"); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`selected local clock (\S+) as best master`).FindStringSubmatch(p.Log())
	if m == nil {
		t.Fatalf("no clock identity in ptp4l's log:\n%s", p.Log())
	}
	gmID := m[1]
	f := features(t, ns, "127.0.0.2", "PtpGrandmasterClockID", "PtpClockID", "PtpDataSetLatch", "PtpOffsetFromMaster")
	if got := linuxptpID(t, f["PtpGrandmasterClockID"]); got != gmID {
		t.Errorf("PtpGrandmasterClockID %s, ptp4l is %s", got, gmID)
	}
	if off, err := strconv.ParseInt(f["PtpOffsetFromMaster"], 10, 64); err != nil || off < -1000 || off > 1000 {
		t.Errorf("PtpOffsetFromMaster %q while Slave, want a few ns", f["PtpOffsetFromMaster"])
	}
	g := features(t, ns, "127.0.0.4", "GevIEEE1588ParentClockId")
	if got := linuxptpID(t, g["GevIEEE1588ParentClockId"]); got != gmID {
		t.Errorf("gev camera's parent %s, ptp4l is %s", got, gmID)
	}
	b := features(t, ns, "127.0.0.3", "PtpGrandmasterClockID", "PtpClockID", "PtpOffsetFromMaster")
	if b["PtpGrandmasterClockID"] != b["PtpClockID"] || b["PtpOffsetFromMaster"] != "0" {
		t.Errorf("camera in another domain: grandmaster %s, own %s, offset %s; want itself, 0", b["PtpGrandmasterClockID"], b["PtpClockID"], b["PtpOffsetFromMaster"])
	}

	// Grandmaster gone: after the announce timeout the slave is its own master.
	p.Stop()
	waitFeature(t, ns, "127.0.0.2", "PtpStatus", "Master", 20*time.Second)
	features(t, ns, "127.0.0.2", "PtpEnable=false")
	waitFeature(t, ns, "127.0.0.2", "PtpStatus", "Disabled", 5*time.Second)
}

package pmc

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// seedDatasets are the five datasets the original scripts read with pmc.
var seedDatasets = []ManagementID{IDCurrentDataSet, IDParentDataSet, IDDefaultDataSet, IDTimeStatusNP, IDGrandmasterSettingsNP}

// BenchmarkNativeVsPmc compares, against a real ptp4l grandmaster in a
// network namespace, the median time of reading the five datasets the
// original scripts need:
//   - natively (one batched exchange of this package),
//   - with one `pmc -u` call asking all five,
//   - with one `pmc -u` call per dataset, as the original scripts do,
//
// and reports the three medians and both ratios from the same run. Each
// iteration takes ~0.6 s (pmc waits 100 ms for further answers on every
// call), so run it with a fixed count:
//
//	go test ./pmc/ -run '^$' -bench NativeVsPmc -benchtime 20x
func BenchmarkNativeVsPmc(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireTool(b, "ptp4l", "pmc")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := testenv.Netns(b, "ptpcam-pmcb-")
	// ptp4l needs a multicast-capable link: a veth pair inside the namespace.
	if err := rig.VethPair(ctx, ns, "veth0", "10.77.1.1/24", ns, "veth1", ""); err != nil {
		b.Fatal(err)
	}
	gm := testenv.PTP4L(b, ns, rig.PTP4LConfig{Interface: "veth0", Priority1: 100})
	if err := gm.WaitLog(ctx, "assuming the grand master role"); err != nil {
		b.Fatal(err)
	}
	c, err := Dial(Config{Socket: gm.Socket, ClientDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })

	native := func() {
		var calls []*call
		var d [5]any
		d[0], d[1], d[2], d[3], d[4] = new(CurrentDataSet), new(ParentDataSet), new(DefaultDataSet), new(TimeStatusNP), new(GrandmasterSettingsNP)
		for i, id := range seedDatasets {
			calls = append(calls, &call{id: id, want: 1, handle: d[i].(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary})
		}
		if err := c.exchange(ctx, calls); err != nil {
			b.Fatal(err)
		}
		for _, cl := range calls {
			if cl.err != nil {
				b.Fatal(cl.err)
			}
		}
	}
	// pmc -u only opens Unix sockets (its own in /var/run and ptp4l's), so
	// it runs directly, as the original scripts ran it: going through
	// `ip netns exec` would add its own start-up to pmc's time.
	pmc := func(ids ...ManagementID) {
		args := []string{"-u", "-b", "0", "-s", gm.Socket}
		for _, id := range ids {
			args = append(args, "GET "+id.String())
		}
		out, err := exec.CommandContext(ctx, "pmc", args...).CombinedOutput()
		if err != nil || strings.Count(string(out), "RESPONSE MANAGEMENT") != len(ids) {
			b.Fatalf("pmc %v: %v: %s", args, err, out)
		}
	}
	timed := func(f func()) time.Duration {
		t0 := time.Now()
		f()
		return time.Since(t0)
	}

	var tNative, tSnapshot, tBatched, tSeed []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Native reads are cheap: take several per iteration for a
		// steadier median.
		for j := 0; j < 10; j++ {
			tNative = append(tNative, timed(native))
			tSnapshot = append(tSnapshot, timed(func() {
				if _, err := c.Snapshot(ctx); err != nil {
					b.Fatal(err)
				}
			}))
		}
		tBatched = append(tBatched, timed(func() { pmc(seedDatasets...) }))
		tSeed = append(tSeed, timed(func() {
			for _, id := range seedDatasets {
				pmc(id)
			}
		}))
	}
	b.StopTimer()

	n, s, bt, sd := median(tNative), median(tSnapshot), median(tBatched), median(tSeed)
	b.ReportMetric(float64(n)/1e6, "native-ms")
	b.ReportMetric(float64(s)/1e6, "snapshot-ms")
	b.ReportMetric(float64(bt)/1e6, "pmc-batched-ms")
	b.ReportMetric(float64(sd)/1e6, "pmc-seed-ms")
	b.ReportMetric(float64(bt)/float64(n), "batched/native")
	b.ReportMetric(float64(sd)/float64(n), "seed/native")
	b.Logf("five datasets (CURRENT, PARENT, DEFAULT, TIME_STATUS_NP, GRANDMASTER_SETTINGS_NP), medians of %d native and %d pmc runs:", len(tNative), len(tBatched))
	b.Logf("  native (one batched exchange):   %v", n)
	b.Logf("  native Snapshot (8 GETs, ports): %v", s)
	b.Logf("  one pmc -u call, five GETs:      %v  (%.0fx native)", bt, float64(bt)/float64(n))
	b.Logf("  five pmc -u calls (seed's way):  %v  (%.0fx native)", sd, float64(sd)/float64(n))
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

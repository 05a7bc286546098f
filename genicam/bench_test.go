//go:build cgo && !noaravis

package genicam

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkLatch8 compares, with 8 camsims, the per-camera half bracket of the
// concurrent latch (LatchAll: each camera its own bracket) with the original
// script's sequential latch-then-read (one bracket around all latches), and
// with latching one camera at a time (each its own bracket, nothing else in
// flight: the floor of one GVCP round trip on this machine).
// Target: p99 ≤ 50 µs concurrent.
func BenchmarkLatch8(b *testing.B) {
	profiles := strings.Split(strings.Repeat("sfnc ", 8), " ")[:8]
	r, ok := inRig(b, camsimSpec(true, profiles...))
	if !ok {
		return
	}
	cams := openAll(b, r)
	ctx := context.Background()
	var conc, each, seq []time.Duration
	collect := func(dst *[]time.Duration, s []LatchSample, errs []error) {
		for i := range s {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			*dst = append(*dst, s[i].HalfBracket())
		}
	}
	for b.Loop() {
		s, errs := LatchAll(ctx, cams)
		collect(&conc, s, errs)
		for _, c := range cams {
			s, err := c.Latch(ctx)
			collect(&each, []LatchSample{s}, []error{err})
		}
		s, errs = LatchSequential(ctx, cams)
		collect(&seq, s, errs)
	}
	cp99, sp99 := percentile(conc, 99), percentile(seq, 99)
	b.ReportMetric(us(percentile(conc, 50)), "conc_p50_µs")
	b.ReportMetric(us(cp99), "conc_p99_µs")
	b.ReportMetric(us(percentile(each, 99)), "each_p99_µs")
	b.ReportMetric(us(percentile(seq, 50)), "seq_p50_µs")
	b.ReportMetric(us(sp99), "seq_p99_µs")
	b.ReportMetric(us(sp99)/us(cp99), "seq/conc_p99")
	fmt.Printf("half bracket, 8 cameras, %d samples per method:\n", len(conc))
	fmt.Printf("  %-40s %9s %9s %9s %9s\n", "method", "p50", "p90", "p99", "max")
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{
		{"concurrent (LatchAll)", conc},
		{"one at a time, own bracket", each},
		{"sequential latch-then-read (seed)", seq},
	} {
		fmt.Printf("  %-40s %9.1f %9.1f %9.1f %9.1f µs\n", m.name, us(percentile(m.d, 50)), us(percentile(m.d, 90)),
			us(percentile(m.d, 99)), us(percentile(m.d, 100)))
	}
	verdict := "met"
	if cp99 > 50*time.Microsecond {
		verdict = "NOT met"
	}
	fmt.Printf("sequential/concurrent p99: %.1f×; target concurrent p99 ≤ 50 µs: %s\n", us(sp99)/us(cp99), verdict)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(i-1, len(s)-1))]
}

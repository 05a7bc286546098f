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
// script's sequential latch-then-read (one bracket around all latches).
// Target: p99 ≤ 50 µs concurrent.
func BenchmarkLatch8(b *testing.B) {
	profiles := strings.Split(strings.Repeat("sfnc ", 8), " ")[:8]
	r, ok := inRig(b, camsimSpec(true, profiles...))
	if !ok {
		return
	}
	cams := openAll(b, r)
	ctx := context.Background()
	var conc, seq []time.Duration
	for b.Loop() {
		s, errs := LatchAll(ctx, cams)
		for i := range s {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			conc = append(conc, s[i].HalfBracket())
		}
		s, errs = LatchSequential(ctx, cams)
		for i := range s {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			seq = append(seq, s[i].HalfBracket())
		}
	}
	cp50, cp99 := percentile(conc, 50), percentile(conc, 99)
	sp50, sp99 := percentile(seq, 50), percentile(seq, 99)
	b.ReportMetric(us(cp50), "conc_p50_µs")
	b.ReportMetric(us(cp99), "conc_p99_µs")
	b.ReportMetric(us(sp50), "seq_p50_µs")
	b.ReportMetric(us(sp99), "seq_p99_µs")
	b.ReportMetric(us(sp99)/us(cp99), "seq/conc_p99")
	fmt.Printf("half-bracket over %d samples per method, 8 cameras: concurrent p50 %v p99 %v; sequential p50 %v p99 %v; ratio p99 %.1f×\n",
		len(conc), cp50, cp99, sp50, sp99, us(sp99)/us(cp99))
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

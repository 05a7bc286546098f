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

// BenchmarkLatch8 compares, with 8 camsims, the per-camera half bracket of:
//   - the concurrent latch (LatchAll: each camera its own bracket),
//   - the same without its PM QoS CPU latency request (HoldCPULatency),
//   - one camera at a time, each its own bracket, nothing else in flight: the
//     floor of one GVCP round trip on this machine,
//   - the original script's sequential latch-then-read (one bracket around
//     all latches).
//
// The methods take turns in every iteration, so they see the same machine.
// Sub-benchmark busy runs them back to back; idle lets the CPUs go idle for
// 1 ms before each, as they are before a sampler's latch: waking an idle CPU
// is what the tail is made of on a VM that halts idle vCPUs.
// Target: p99 ≤ 50 µs concurrent.
func BenchmarkLatch8(b *testing.B) {
	profiles := strings.Split(strings.Repeat("sfnc ", 8), " ")[:8]
	r, ok := inRig(b, camsimSpec(true, profiles...))
	if !ok {
		return
	}
	cams := openAll(b, r)
	release, qosErr := HoldCPULatency(0)
	release()
	qos := "held during latches"
	if qosErr != nil {
		qos = "not available: " + qosErr.Error()
	}
	for _, idle := range []time.Duration{0, time.Millisecond} {
		name := "busy"
		if idle > 0 {
			name = "idle"
		}
		b.Run(name, func(b *testing.B) { benchLatch(b, cams, idle, qos) })
	}
}

func benchLatch(b *testing.B, cams []*Camera, idle time.Duration, qos string) {
	ctx := context.Background()
	noHold := func(time.Duration) (func(), error) { return func() {}, nil }
	methods := []struct {
		name string
		run  func() ([]LatchSample, []error)
		hold func(time.Duration) (func(), error)
		d    []time.Duration
	}{
		{name: "concurrent (LatchAll)", run: func() ([]LatchSample, []error) { return LatchAll(ctx, cams) }, hold: HoldCPULatency},
		{name: "concurrent, no PM QoS request", run: func() ([]LatchSample, []error) { return LatchAll(ctx, cams) }, hold: noHold},
		{name: "one at a time, own bracket", run: func() ([]LatchSample, []error) {
			s, errs := make([]LatchSample, len(cams)), make([]error, len(cams))
			for i, c := range cams {
				s[i], errs[i] = c.Latch(ctx)
			}
			return s, errs
		}, hold: HoldCPULatency},
		{name: "sequential latch-then-read (seed)", run: func() ([]LatchSample, []error) { return latchSequential(ctx, cams) }, hold: noHold},
	}
	defer func() { holdCPULatency = HoldCPULatency }()
	for b.Loop() {
		for i := range methods {
			m := &methods[i]
			if idle > 0 {
				time.Sleep(idle)
			}
			holdCPULatency = m.hold
			s, errs := m.run()
			for j := range s {
				if errs[j] != nil {
					b.Fatal(errs[j])
				}
				m.d = append(m.d, s[j].HalfBracket())
			}
		}
	}
	conc, seq := methods[0].d, methods[3].d
	cp99, sp99 := percentile(conc, 99), percentile(seq, 99)
	b.ReportMetric(us(percentile(conc, 50)), "conc_p50_µs")
	b.ReportMetric(us(cp99), "conc_p99_µs")
	b.ReportMetric(us(percentile(methods[2].d, 99)), "each_p99_µs")
	b.ReportMetric(us(percentile(seq, 50)), "seq_p50_µs")
	b.ReportMetric(us(sp99), "seq_p99_µs")
	b.ReportMetric(us(sp99)/us(cp99), "seq/conc_p99")
	fmt.Printf("half bracket, 8 cameras, %s, %d samples per method; PM QoS CPU latency request: %s\n",
		b.Name(), len(conc), qos)
	fmt.Printf("  %-36s %8s %8s %8s %8s\n", "method", "p50", "p90", "p99", "max")
	for _, m := range methods {
		fmt.Printf("  %-36s %8.1f %8.1f %8.1f %8.1f µs\n", m.name, us(percentile(m.d, 50)), us(percentile(m.d, 90)),
			us(percentile(m.d, 99)), us(percentile(m.d, 100)))
	}
	verdict := "met"
	if cp99 > 50*time.Microsecond {
		verdict = "NOT met"
	}
	fmt.Printf("  sequential/concurrent p99: %.1f×; target concurrent p99 ≤ 50 µs: %s\n", us(sp99)/us(cp99), verdict)
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

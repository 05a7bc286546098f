package check

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/ptpcam/ptpcam/genicam"
)

// LatchCamera is what the timestamps check needs of a camera.
type LatchCamera interface {
	Info() genicam.DeviceInfo
	Latch(ctx context.Context) (genicam.LatchSample, error)
}

// Measurement is one camera's latch in one sample.
type Measurement struct {
	Serial       string `json:"serial"`
	CameraTimeNs int64  `json:"camera_time_ns"`
	// DeltaNs is camera time minus the midpoint of the host's bracket,
	// less the timescale correction.
	DeltaNs int64 `json:"delta_ns"`
	// UncertaintyNs is half the bracket: |true delta - DeltaNs| <= it.
	UncertaintyNs int64 `json:"uncertainty_ns"`
	// RawDeltaNs is camera time minus the host clock read after the latch,
	// without correction: the original --assume-realtime-ptp debug value.
	RawDeltaNs int64  `json:"raw_delta_ns"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

// Measure latches every camera concurrently, each with its own host bracket,
// so that no camera's result depends on its position in a list.
// correction is subtracted from every delta (currentUtcOffset for TAI
// cameras); threshold is the pass bound of |delta|.
func Measure(ctx context.Context, cams []LatchCamera, correction time.Duration, threshold time.Duration) []Measurement {
	// Each latch holds a PM QoS CPU latency request; taking one first wakes
	// the idle CPUs once, before any bracket opens.
	release, _ := genicam.HoldCPULatency(0)
	defer release()
	out := make([]Measurement, len(cams))
	var wg sync.WaitGroup
	for i, c := range cams {
		wg.Go(func() {
			m := Measurement{Serial: c.Info().Serial}
			s, err := c.Latch(ctx)
			if err != nil {
				m.Error = err.Error()
				out[i] = m
				return
			}
			m.CameraTimeNs = s.Device
			m.DeltaNs = int64(s.Offset() - correction)
			m.UncertaintyNs = int64(s.HalfBracket())
			m.RawDeltaNs = s.Device - s.HostAfter.UnixNano()
			m.OK = abs(m.DeltaNs) <= int64(threshold)
			out[i] = m
		})
	}
	wg.Wait()
	return out
}

// Stats summarizes one camera over all samples.
type Stats struct {
	Serial   string  `json:"serial"`
	Samples  int     `json:"samples"`
	MeanNs   float64 `json:"mean_delta_ns"`
	StddevNs float64 `json:"stddev_ns"`
	MaxAbsNs int64   `json:"max_abs_delta_ns"`
	Failed   int     `json:"failed_samples"`
	OK       bool    `json:"ok"`
}

// Statistics summarizes samples (one []Measurement per sample, cameras in
// the same order). A camera is OK when every one of its samples was.
// stddev is the sample standard deviation (n-1), 0 for one sample.
func Statistics(samples [][]Measurement) (per []Stats, maxAbs int64) {
	if len(samples) == 0 {
		return nil, 0
	}
	for i := range samples[0] {
		st := Stats{Serial: samples[0][i].Serial, OK: true}
		var sum float64
		var vals []float64
		for _, s := range samples {
			m := s[i]
			if m.Error != "" {
				st.Failed++
				st.OK = false
				continue
			}
			if !m.OK {
				st.OK = false
			}
			vals = append(vals, float64(m.DeltaNs))
			sum += float64(m.DeltaNs)
			st.MaxAbsNs = max(st.MaxAbsNs, abs(m.DeltaNs))
		}
		st.Samples = len(vals)
		if len(vals) > 0 {
			st.MeanNs = sum / float64(len(vals))
		}
		if len(vals) > 1 {
			var ss float64
			for _, v := range vals {
				ss += (v - st.MeanNs) * (v - st.MeanNs)
			}
			st.StddevNs = math.Sqrt(ss / float64(len(vals)-1))
		}
		maxAbs = max(maxAbs, st.MaxAbsNs)
		per = append(per, st)
	}
	return per, maxAbs
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

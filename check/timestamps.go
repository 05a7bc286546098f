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
	RawDeltaNs int64 `json:"raw_delta_ns"`
	// Latches is how many latches the measurement took to find its
	// narrowest bracket (genicam.BestLatch).
	Latches int `json:"latches"`
	// OK: the camera is within the threshold whatever its true delta in
	// DeltaNs ± UncertaintyNs.
	OK bool `json:"ok"`
	// Uncertain: DeltaNs ± UncertaintyNs straddles the threshold, so the
	// bracket cannot decide; not OK either.
	Uncertain bool   `json:"uncertain,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Judge sets OK and Uncertain from the delta, its uncertainty and the
// threshold: OK only when |delta| + uncertainty is within it, uncertain
// when |delta| - uncertainty still is.
func (m *Measurement) Judge(threshold time.Duration) {
	d, u := abs(m.DeltaNs), m.UncertaintyNs
	m.OK = d+u <= int64(threshold)
	m.Uncertain = !m.OK && d-u <= int64(threshold)
}

// Verdict is the measurement's word: OK, NG, UNCERTAIN or ERROR.
func (m Measurement) Verdict() string {
	switch {
	case m.Error != "":
		return "ERROR"
	case m.OK:
		return "OK"
	case m.Uncertain:
		return "UNCERTAIN"
	}
	return "NG"
}

// Measure latches every camera concurrently, each with its own host bracket,
// so that no camera's result depends on its position in a list, and keeps
// each camera's narrowest bracket of a few (genicam.BestLatch with p).
// correction is subtracted from every delta (currentUtcOffset for TAI
// cameras); threshold is the pass bound of |delta| (see Judge).
func Measure(ctx context.Context, cams []LatchCamera, correction, threshold time.Duration, p genicam.LatchPolicy) []Measurement {
	// Each latch holds a PM QoS CPU latency request; taking one first wakes
	// the idle CPUs once, before any bracket opens.
	release, _ := genicam.HoldCPULatency(0)
	defer release()
	out := make([]Measurement, len(cams))
	var wg sync.WaitGroup
	for i, c := range cams {
		wg.Go(func() {
			m := Measurement{Serial: c.Info().Serial}
			s, n, err := genicam.BestLatch(ctx, c, p)
			m.Latches = n
			if err != nil {
				m.Error = err.Error()
				out[i] = m
				return
			}
			m.CameraTimeNs = s.Device
			m.DeltaNs = int64(s.Offset() - correction)
			m.UncertaintyNs = int64(s.HalfBracket())
			m.RawDeltaNs = s.Device - s.HostAfter.UnixNano()
			m.Judge(threshold)
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
	// Uncertain counts the samples whose bracket could not decide.
	Uncertain int  `json:"uncertain_samples"`
	OK        bool `json:"ok"`
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
			if m.Uncertain {
				st.Uncertain++
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

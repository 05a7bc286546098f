package main_test

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/camsim"
	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// BenchmarkScrape: 8 camsims, the exporter sampling them every second, and
// 1 then 100 concurrent scrapers for a few intervals each. Reports scrape
// latency p50/p99 and the latches each camera saw per interval, which must
// not grow with the number of scrapers.
func BenchmarkScrape(b *testing.B) {
	r := testenv.UpRig(b, rig.Config{Cameras: rig.DefaultCameras(8, 0)})
	e := startRigExporter(b, r, "--camera.enable-ptp", "--camera.interval", "1s")
	const interval = time.Second
	window := 5 * interval
	latches := func() uint64 {
		var n uint64
		for _, c := range r.Cameras {
			st, err := camsim.DialControl(c.Control).State(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			n += st.Latches
		}
		return n
	}
	time.Sleep(2 * interval) // first samples, connections
	for _, scrapers := range []int{1, 100} {
		before := latches()
		start := time.Now()
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for range scrapers {
			wg.Go(func() {
				for time.Since(start) < window {
					t0 := time.Now()
					resp, err := e.client.Get(e.url)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					d := time.Since(t0)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		perCamPerInterval := float64(latches()-before) / float64(len(r.Cameras)) / (elapsed.Seconds() / interval.Seconds())
		slices.Sort(lat)
		p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.Logf("%3d scrapers: %6d scrapes, p50 %.2f ms, p99 %.2f ms, latches per camera per interval %.2f",
			scrapers, len(lat), p(0.5), p(0.99), perCamPerInterval)
		suffix := "_1"
		if scrapers > 1 {
			suffix = "_100"
		}
		b.ReportMetric(p(0.5), "p50-ms"+suffix)
		b.ReportMetric(p(0.99), "p99-ms"+suffix)
		b.ReportMetric(perCamPerInterval, "latches/cam/interval"+suffix)
	}
}

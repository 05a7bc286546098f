// Package collector holds ptpcam's Prometheus collectors: the host's PTP state
// read from ptp4l's management socket, and the cameras. Each concern is one
// Collector; Exporter runs them on every scrape and reports, per collector,
// whether it succeeded and how long it took, so one failing part never fails
// the whole scrape.
package collector

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the prefix of every metric ptpcam exports.
const Namespace = "ptpcam"

// Collector is one concern of the exporter.
type Collector interface {
	// Update sends the concern's metrics to ch. An error marks the
	// collector failed for this scrape; metrics already sent are kept.
	Update(ch chan<- prometheus.Metric) error
}

var (
	scrapeDurationDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "scrape", "collector_duration_seconds"),
		"Duration of a collector scrape.",
		[]string{"collector"}, nil,
	)
	scrapeSuccessDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "scrape", "collector_success"),
		"Whether a collector succeeded.",
		[]string{"collector"}, nil,
	)
)

// Exporter runs a set of named collectors on each scrape.
type Exporter struct {
	collectors map[string]Collector
	logger     *slog.Logger
}

// NewExporter returns a prometheus.Collector over the named collectors.
func NewExporter(logger *slog.Logger, collectors map[string]Collector) *Exporter {
	return &Exporter{collectors: collectors, logger: logger}
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- scrapeDurationDesc
	ch <- scrapeSuccessDesc
}

// Collect implements prometheus.Collector; collectors run concurrently.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for name, c := range e.collectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := c.Update(ch)
			success := 1.0
			if err != nil {
				success = 0
				e.logger.Error("collector failed", "collector", name, "duration_seconds", time.Since(start).Seconds(), "err", err)
			}
			ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, time.Since(start).Seconds(), name)
			ch <- prometheus.MustNewConstMetric(scrapeSuccessDesc, prometheus.GaugeValue, success, name)
		}()
	}
	wg.Wait()
}

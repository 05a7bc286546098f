package collector

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// only is a collector of what one Update sends that keep accepts (all of it
// when keep is nil), for testutil's ToFloat64, CollectAndCount and
// CollectAndFormat on one metric of a collector.
type only struct {
	update func(chan<- prometheus.Metric) error
	keep   func(prometheus.Metric) bool
}

func (o only) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(o, ch) }
func (o only) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 1000)
	_ = o.update(all)
	close(all)
	for m := range all {
		if o.keep == nil || o.keep(m) {
			ch <- m
		}
	}
}

// isMetric tells whether m is of the metric family name.
func isMetric(m prometheus.Metric, name string) bool {
	return strings.Contains(m.Desc().String(), fmt.Sprintf("fqName: %q", name))
}

// metricOf collects the metric name of Update.
func metricOf(update func(chan<- prometheus.Metric) error, name string) only {
	return only{update, func(m prometheus.Metric) bool { return isMetric(m, name) }}
}

// cameraMetric collects the metric name of one camera of c.
func cameraMetric(c *CameraCollector, name, serial string) only {
	return only{c.Update, func(m prometheus.Metric) bool { return isMetric(m, name) && serialOf(m) == serial }}
}

// Package metric holds what every ptpcam metric shares, so that the
// exporter's collectors (collector/) and the recorder (record/) can use it
// without one importing the other: the namespace in front of each name, and
// how a condition becomes a sample value.
package metric

// Namespace is the prefix of every metric ptpcam exports
// (prometheus.BuildFQName(Namespace, subsystem, name)).
const Namespace = "ptpcam"

// Bool is a condition as a sample value: 1 if true, 0 if false, as state
// sets and up/valid gauges want it.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

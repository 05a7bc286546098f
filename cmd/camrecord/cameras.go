package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ptpcam/ptpcam/collector"
	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/pmc"
)

// sampleCameras measures the clocks of camrecord's open cameras on
// --camera.sample-interval with ptpcam_exporter's camera collector, and
// serves its ptpcam_camera_* series on camrecord's metrics endpoint: while
// camrecord controls the cameras the exporter cannot latch them (it reports
// them held), so camrecord's endpoint carries their deltas and the desync
// alert goes on during a take. The collector neither takes nor leaves the
// cameras' control nor closes them (collector.ControlledSource). The
// returned stop ends sampling and waits for it, before the cameras close.
func sampleCameras(ctx context.Context, logger *slog.Logger, o *options, reg *prometheus.Registry, cams []*genicam.Camera) (stop func(), err error) {
	if *o.sampleInterval == 0 {
		logger.Info("Camera clock samples off (--camera.sample-interval 0)")
		return func() {}, nil
	}
	ref := collector.NewPMCReference(pmc.Config{Socket: *o.socket, Domain: *o.domain})
	cc, err := collector.NewCameraCollector(logger.With("collector", "camera"), collector.ControlledSource{Cameras: cams}, ref,
		collector.CameraConfig{Max: len(cams), Interval: *o.sampleInterval, Timeout: *o.sampleTimeout, Timescale: *o.timescale})
	if err != nil {
		ref.Close()
		return nil, err
	}
	exp := collector.NewExporter(logger, map[string]collector.Collector{"camera": cc})
	if err := reg.Register(exp); err != nil {
		ref.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	running.Go(func() { cc.Run(sctx) })
	return func() {
		cancel()
		running.Wait()
		reg.Unregister(exp)
		ref.Close()
	}, nil
}

// Package testenv holds the preconditions of ptpcam's tests that run real
// parts (ptp4l, Aravis, ffmpeg, Prometheus) in network namespaces.
//
// Outside CI a missing tool or privilege skips the test with the reason. With
// CI=true it fails instead: a green CI run that skipped the real parts would be
// a lie.
//
// What to use, so that tests do one thing one way:
//   - preconditions: RequireRoot, RequireTool, and Skip for anything else;
//     never t.Skip, which would pass silently under CI (testenv.go).
//   - binaries: Build (the module's commands, once per test process, into
//     one directory CleanupBuild removes from TestMain), BuildWith for a
//     command with extra go build flags (build.go).
//   - namespaces and ptp4l with cleanup: Netns, NetnsPair, PTP4L (netns.go);
//     a whole simulated rig: UpRig (rig.go).
//   - a child's output read while it runs: LockedBuffer (buffer.go); the
//     address a child bound itself with --web.listen-address 127.0.0.1:0:
//     ListenAddress, instead of a port picked, closed and hoped to be
//     free still (listen.go).
//   - what a video file holds: VideoFrames (media.go).
//   - the tree's data: ModuleRoot, KnownMetrics (metrics.go), AlertRules
//     (rules.go); the vendor XMLs in ../shared: VendorXMLDir, VendorXMLs,
//     which skip when it is missing, and fail under CI (vendorxml.go).
package testenv

// Package rig builds a simulated capture rig out of real parts: Linux network
// namespaces joined by veth pairs and a bridge, linuxptp's ptp4l as the host's
// grandmaster with software timestamping, and one camsim per camera.
//
// Everything that broadcasts or multicasts (ptp4l, camsim, Aravis discovery)
// runs inside namespaces the rig created, never in the machine's own.
//
// # Layout
//
// A rig named NAME (Up) is a host namespace NAME-host with a bridge br0 and
// the host's veth ptp0 (10.213.0.1/24, ptp4l's interface: ptp4l cannot
// timestamp on a bridge) whose peer is a bridge port, and one namespace
// NAME-cN per camera with eth0 (10.213.0.10+N) on the bridge and camsim
// listening there. The exporter, the checks and camrecord run in NAME-host,
// the only place camera discovery is allowed. Its state (rig.json, sockets,
// logs) is kept under DefaultStateDir/NAME, saved before anything is
// created, so that Down can clean up after a crash at any point. Without
// root (Config.Unprivileged) it is one user and network namespace with only
// loopback: cameras on 127.0.0.10+N, ptp4l on lo.
//
// # Where things live
//
//   - rig.go: Config, Up, Load, Down, and what `rig up` prints (Env).
//   - netns.go: Netns (`ip netns`), veth pairs, sysctls, commands run inside.
//   - userns.go: the unprivileged holder of a user and network namespace.
//   - ptp4l.go: StartPTP4L, one ptp4l with its config, log and socket.
//   - socket.go: listeners and connections made inside a namespace.
//   - offload.go: the camera veths' UDP segmentation offload.
//
// cmd/rig is the command over this package; internal/testenv's UpRig,
// Netns and PTP4L give tests the same parts with cleanup.
package rig

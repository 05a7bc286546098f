// Package check holds the rig checks operators run before and during a
// shoot, shared by ptpcamcheck and camrecord's preflight: is every camera
// synchronized to one master (the sync check), and how far is each camera's
// clock from the host's (the timestamps check).
//
// # Where things live
//
//   - check.go: the sync check. ReadHost (one pmc.Client Snapshot, the
//     host's role through pmc.InferRole) and ReadCamera (PTP enable and
//     status through genicam) read the parts; Evaluate turns them into a
//     Verdict (converged, masters, why not); WaitSync polls both until the
//     verdict converges or the timeout passes, enabling PTP first if asked.
//   - timestamps.go: the timestamps check. Measure latches every camera
//     concurrently (genicam.BestLatch: the narrowest host bracket of a few),
//     Judge gives each Measurement OK, NG or UNCERTAIN against the
//     threshold, Statistics summarises samples per camera.
//
// Neither check prints or exits: cmd/ptpcamcheck formats the results,
// camrecord stores the SyncResult in its session file.
package check

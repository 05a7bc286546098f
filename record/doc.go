// Package record records several PTP-synchronized GigE Vision cameras, each
// into its own ffmpeg, starting on one common device-time instant.
//
// # Pipeline
//
// Per camera, two goroutines and a bounded queue of the stream's own buffers:
//
//	Aravis stream --Next--> acquire --queue--> write: vmsplice whole frames into ffmpeg's stdin --> Release
//
// The acquirer queues the Aravis buffer itself; the writer splices its pages
// into the pipe and gives the buffer back once ffmpeg has read them. The
// stream keeps enough buffers for the queue, the pipe and two frame
// retentions, so a slow encoder costs dropped frames (at a frame boundary,
// counted with their reason) and never starves acquisition. Repeats and
// black frames are copied. The writer only ever writes whole frames, with no
// deadline: a cut write would misalign ffmpeg for the rest of the file.
//
// # Alignment
//
// Frames are placed on the trigger grid start + k/fps by their device
// timestamp (frame ids wrap at 16 bits on GigE Vision 1.x and only cross-
// check). With alignment on, every grid point k gets output frame k: a
// missing, dropped or incomplete frame is replaced by the previous frame
// written again (black before the first) and marked in the sidecar, so frame
// k of every camera's file is trigger k.
//
// # Stopping
//
// A take ends after Config.Duration worth of triggers, or when the context
// passed to Run ends (SIGINT/SIGTERM in camrecord): acquisition stops, the
// queues drain, every file is padded (aligned) to the same frame count,
// stdin is closed and ffmpeg finalizes. The force channel kills ffmpeg
// instead of waiting. A camera that fails is reported in its CameraResult;
// the other cameras go on.
//
// # Segments
//
// A camera's take is one file, or several segment files (cam..._2.mkv, _3,
// ...), and the sidecar's segment column maps every trigger to its file:
//   - With Config.SegmentDuration, every camera starts a new file at the same
//     triggers, every SegmentDuration of the grid: the new ffmpeg starts
//     before the old one is told to finish, so no frame waits for either
//     (NVENC, whose sessions GPUs cap, finishes first; the queue waits).
//   - An ffmpeg that dies mid-take (NVENC sessions exhausted, a crash, a
//     kill) does not end the camera's recording: the writer starts a new
//     ffmpeg into the next segment file from the frame the dead one did not
//     take, on a CPU encoder if the dead one was NVENC. The frames the dead
//     ffmpeg had not yet stored are lost with it; after the take ffprobe
//     counts what its file holds, and the session file says so per segment.
//     After maxRestarts the camera is reported failed.
//
// # Where things live
//
//   - record.go: Recorder, New, Prepare and Run, a sequence of named steps:
//     configure the cameras, find the common start (commonStart, from
//     concurrent latches), open each camera's files and ffmpeg (openFiles),
//     arm the schedulers and streams (arm), announce, record, results. The
//     one failure path before the take undoes what was set up.
//   - config.go: Config, its defaults and Validate (bad input fails before
//     anything is opened).
//   - pipeline.go: camRec, one camera's pipeline, and which goroutine owns
//     which field; endOfTake, the frame count every file ends at.
//   - acquire.go: the acquirer (stream.Next, placing frames on the grid,
//     drops), the watchdog, the drainer and the take's monitor (start skew).
//   - writer.go: the writer (grid order, fills, padding to the end).
//   - splice.go: whole frames vmspliced into ffmpeg's stdin, and when the
//     stream's buffer may go back.
//   - ffmpeg.go: encoder choice (planEncoders: NVENC probe, fall-back to
//     CPU), command lines, ffmpegProc (one ffmpeg process: start, finish,
//     stop with a grace period, abort, kill) and its -progress parser.
//   - segments.go: time segments and the replacement of an ffmpeg that died.
//   - sidecar.go: the per-frame CSV and the atomically written session file.
//   - results.go: Result, CameraResult, Segment, the session file's shape
//     and ffprobe's count of what each file holds.
//   - metrics.go: Recorder as a prometheus.Collector (ptpcam_record_*).
//   - progress.go: the console progress line.
//
// # How a frame travels
//
// cmd/camrecord selects and opens the cameras (genicam.Find, OpenDevice),
// waits for PTP to converge (check.WaitSync) and hands them to Run through
// FromGenicam. Aravis' stream thread fills one of the stream's buffers
// (genicam.Stream); the acquirer takes it with Next, places it on the grid
// by its timestamp and queues the buffer itself; the writer vmsplices its
// pages into the camera's ffmpeg and writes its sidecar row; once ffmpeg
// has read the pages the buffer is released back to the stream. ffmpeg
// encodes into the segment file; after the take ffprobe counts what the
// file holds.
package record

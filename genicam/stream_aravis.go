//go:build cgo && !noaravis

package genicam

// #cgo pkg-config: aravis-0.8
// #include <arv.h>
// #include <stdlib.h>
//
// // gp_gv_stream_receive sets how much a GigE Vision stream may buffer and
// // ask again for: the socket's receive buffer (bytes; 0 leaves the kernel's
// // default, about 90 full-size packets) and the share of a frame's packets
// // Aravis may request to be resent (0 leaves Aravis' 0.25). g_object_set is
// // variadic, which cgo cannot call.
// static void gp_gv_stream_receive(ArvStream *s, guint socket_buffer, double request_ratio) {
// 	if (s == NULL || !ARV_IS_GV_STREAM(s)) return;
// 	if (socket_buffer > 0)
// 		g_object_set(s, "socket-buffer", ARV_GV_STREAM_SOCKET_BUFFER_FIXED,
// 			"socket-buffer-size", (gint)socket_buffer, NULL);
// 	if (request_ratio > 0) g_object_set(s, "packet-request-ratio", request_ratio, NULL);
// }
//
// static double gp_gv_stream_double(ArvStream *s, const char *prop) {
// 	double v = 0;
// 	if (s != NULL && ARV_IS_GV_STREAM(s)) g_object_get(s, prop, &v, NULL);
// 	return v;
// }
//
// static gint gp_gv_stream_int(ArvStream *s, const char *prop) {
// 	gint v = 0;
// 	if (s != NULL && ARV_IS_GV_STREAM(s)) g_object_get(s, prop, &v, NULL);
// 	return v;
// }
import "C"

import (
	"unsafe"
)

// tuneReceive applies cfg's socket buffer and resend share to a new stream,
// before acquisition starts (Aravis sizes the socket when its thread begins).
func tuneReceive(st *C.ArvStream, cfg StreamConfig) {
	ratio := cfg.ResendRatio
	if ratio > 1 {
		ratio = 1
	}
	C.gp_gv_stream_receive(st, C.guint(max(cfg.SocketBuffer, 0)), C.double(max(ratio, 0)))
}

// receiveSettings returns the stream's socket buffer size setting (bytes) and
// packet request ratio as Aravis has them.
func (s *Stream) receiveSettings() (socketBuffer int, resendRatio float64) {
	sb, rr := C.CString("socket-buffer-size"), C.CString("packet-request-ratio")
	defer C.free(unsafe.Pointer(sb))
	defer C.free(unsafe.Pointer(rr))
	return int(C.gp_gv_stream_int(s.stream, sb)), float64(C.gp_gv_stream_double(s.stream, rr))
}

//go:build cgo && !noaravis

#include "arvglue.h"

ArvGvDevice *gp_gv_device(ArvDevice *dev) {
	return ARV_IS_GV_DEVICE(dev) ? ARV_GV_DEVICE(dev) : NULL;
}

// gp_node_kind tells which typed interface a feature node implements; the
// GObject type macros are not callable from Go.
int gp_node_kind(ArvDevice *dev, const char *name) {
	ArvGcNode *n = arv_device_get_feature(dev, name);
	if (n == NULL) return GP_NONE;
	if (ARV_IS_GC_ENUMERATION(n)) return GP_ENUM;
	if (ARV_IS_GC_COMMAND(n)) return GP_COMMAND;
	if (ARV_IS_GC_BOOLEAN(n)) return GP_BOOLEAN;
	if (ARV_IS_GC_FLOAT(n)) return GP_FLOAT;
	if (ARV_IS_GC_INTEGER(n)) return GP_INTEGER;
	if (ARV_IS_GC_STRING(n)) return GP_STRING;
	return GP_OTHER;
}

// gp_sockaddr_ip returns the IP of an inet socket address as a string the
// caller frees with g_free, or NULL.
char *gp_sockaddr_ip(GSocketAddress *a) {
	if (a == NULL || !G_IS_INET_SOCKET_ADDRESS(a)) return NULL;
	return g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(a)));
}

void gp_unref(gpointer p) { if (p != NULL) g_object_unref(p); }

static ArvGcFeatureNode *gp_feature(ArvDevice *dev, const char *name) {
	ArvGcNode *n = arv_device_get_feature(dev, name);
	return (n != NULL && ARV_IS_GC_FEATURE_NODE(n)) ? ARV_GC_FEATURE_NODE(n) : NULL;
}

// gp_access is the node's actual access mode (ARV_GC_ACCESS_MODE_*), -1 when
// the node is missing. Aravis' default access-check policy lets a read-only
// node be written, so ptpcam checks this itself.
int gp_access(ArvDevice *dev, const char *name) {
	ArvGcFeatureNode *f = gp_feature(dev, name);
	return f == NULL ? -1 : (int) arv_gc_feature_node_get_actual_access_mode(f);
}

const char *gp_description(ArvDevice *dev, const char *name) {
	ArvGcFeatureNode *f = gp_feature(dev, name);
	return f == NULL ? NULL : arv_gc_feature_node_get_description(f);
}

const char *gp_int_unit(ArvDevice *dev, const char *name) {
	ArvGcNode *n = arv_device_get_feature(dev, name);
	return (n != NULL && ARV_IS_GC_INTEGER(n)) ? arv_gc_integer_get_unit(ARV_GC_INTEGER(n)) : NULL;
}

int gp_int_range(ArvDevice *dev, const char *name, gint64 *lo, gint64 *hi, GError **err) {
	ArvGcNode *n = arv_device_get_feature(dev, name);
	if (n == NULL || !ARV_IS_GC_INTEGER(n)) return 0;
	*lo = arv_gc_integer_get_min(ARV_GC_INTEGER(n), err);
	if (*err != NULL) return 0;
	*hi = arv_gc_integer_get_max(ARV_GC_INTEGER(n), err);
	return *err == NULL;
}

// gp_enum_entry_name returns the i-th entry of an enumeration (only
// implemented ones when only_impl), or NULL past the last.
const char *gp_enum_entry_name(ArvDevice *dev, const char *name, int i, int only_impl) {
	ArvGcNode *n = arv_device_get_feature(dev, name);
	if (n == NULL || !ARV_IS_GC_ENUMERATION(n)) return NULL;
	const GSList *l = arv_gc_enumeration_get_entries(ARV_GC_ENUMERATION(n));
	for (; l != NULL; l = l->next) {
		GError *e = NULL;
		gboolean impl = arv_gc_feature_node_is_implemented(ARV_GC_FEATURE_NODE(l->data), &e);
		if (e != NULL) { g_error_free(e); impl = TRUE; }
		if (only_impl && !impl) continue;
		if (i-- == 0) return arv_gc_feature_node_get_name(ARV_GC_FEATURE_NODE(l->data));
	}
	return NULL;
}

// gp_enum_read reads an enumeration as its entry name, and its integer value
// when no entry matches (Aravis then returns NULL without error).
const char *gp_enum_read(ArvDevice *dev, const char *name, gint64 *raw, GError **err) {
	ArvGcNode *n = arv_device_get_feature(dev, name);
	if (n == NULL || !ARV_IS_GC_ENUMERATION(n)) return arv_device_get_string_feature_value(dev, name, err);
	const char *s = arv_gc_enumeration_get_string_value(ARV_GC_ENUMERATION(n), err);
	if (s == NULL && *err == NULL) *raw = arv_gc_enumeration_get_int_value(ARV_GC_ENUMERATION(n), err);
	return s;
}

// gp_execute_timed executes a command feature between two reads of
// CLOCK_REALTIME (the clock time.Now reads), all in one C call: the bracket
// then holds only the command's round trip, never the Go scheduler's delay in
// handing the thread a P again after the cgo call.
void gp_execute_timed(ArvDevice *dev, const char *name, struct timespec *before,
		struct timespec *after, GError **err) {
	clock_gettime(CLOCK_REALTIME, before);
	arv_device_execute_command(dev, name, err);
	clock_gettime(CLOCK_REALTIME, after);
}

// gp_gv_stream_tune sets the GigE Vision stream's timing properties (µs; 0
// leaves one as it is); g_object_set is variadic, which cgo cannot call.
void gp_gv_stream_tune(ArvStream *s, guint frame_retention_us, guint packet_timeout_us) {
	if (s == NULL || !ARV_IS_GV_STREAM(s)) return;
	if (frame_retention_us > 0) g_object_set(s, "frame-retention", frame_retention_us, NULL);
	if (packet_timeout_us > 0) g_object_set(s, "packet-timeout", packet_timeout_us, NULL);
}

// gp_gv_stream_receive sets how much a GigE Vision stream may buffer and ask
// again for: the socket's receive buffer (bytes; 0 leaves the kernel's
// default, about 90 full-size packets) and the share of a frame's packets
// Aravis may request to be resent (0 leaves Aravis' 0.25).
void gp_gv_stream_receive(ArvStream *s, guint socket_buffer, double request_ratio) {
	if (s == NULL || !ARV_IS_GV_STREAM(s)) return;
	if (socket_buffer > 0)
		g_object_set(s, "socket-buffer", ARV_GV_STREAM_SOCKET_BUFFER_FIXED,
			"socket-buffer-size", (gint)socket_buffer, NULL);
	if (request_ratio > 0) g_object_set(s, "packet-request-ratio", request_ratio, NULL);
}

guint gp_gv_stream_uint(ArvStream *s, const char *prop) {
	guint v = 0;
	if (s != NULL && ARV_IS_GV_STREAM(s)) g_object_get(s, prop, &v, NULL);
	return v;
}

gint gp_gv_stream_int(ArvStream *s, const char *prop) {
	gint v = 0;
	if (s != NULL && ARV_IS_GV_STREAM(s)) g_object_get(s, prop, &v, NULL);
	return v;
}

double gp_gv_stream_double(ArvStream *s, const char *prop) {
	double v = 0;
	if (s != NULL && ARV_IS_GV_STREAM(s)) g_object_get(s, prop, &v, NULL);
	return v;
}

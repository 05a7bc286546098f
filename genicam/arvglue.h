// C helpers of the genicam package's Aravis binding (arvglue.c): what cgo
// cannot call itself (GObject type macros, variadic g_object_set/get) and
// what must run without the Go scheduler in between (the timed latch).
#ifndef PTPCAM_GENICAM_ARVGLUE_H
#define PTPCAM_GENICAM_ARVGLUE_H

#include <arv.h>
#include <time.h>

// Node kinds for gp_node_kind; Go mirrors them as nodeKind.
enum { GP_NONE, GP_INTEGER, GP_FLOAT, GP_BOOLEAN, GP_ENUM, GP_STRING, GP_COMMAND, GP_OTHER };

// Devices and nodes.
ArvGvDevice *gp_gv_device(ArvDevice *dev);
int gp_node_kind(ArvDevice *dev, const char *name);
char *gp_sockaddr_ip(GSocketAddress *a);
void gp_unref(gpointer p);

// Feature node metadata (caps_aravis.go).
int gp_access(ArvDevice *dev, const char *name);
const char *gp_description(ArvDevice *dev, const char *name);
const char *gp_int_unit(ArvDevice *dev, const char *name);
int gp_int_range(ArvDevice *dev, const char *name, gint64 *lo, gint64 *hi, GError **err);
const char *gp_enum_entry_name(ArvDevice *dev, const char *name, int i, int only_impl);
const char *gp_enum_read(ArvDevice *dev, const char *name, gint64 *raw, GError **err);

// The latch between two host clock reads (latch_aravis.go).
void gp_execute_timed(ArvDevice *dev, const char *name, struct timespec *before,
		struct timespec *after, GError **err);

// GigE Vision stream properties (stream_aravis.go).
void gp_gv_stream_tune(ArvStream *s, guint frame_retention_us, guint packet_timeout_us);
void gp_gv_stream_receive(ArvStream *s, guint socket_buffer, double request_ratio);
guint gp_gv_stream_uint(ArvStream *s, const char *prop);
gint gp_gv_stream_int(ArvStream *s, const char *prop);
double gp_gv_stream_double(ArvStream *s, const char *prop);

#endif

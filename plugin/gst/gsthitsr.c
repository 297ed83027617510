/* gsthitsr.c: the GStreamer element "hitsr", a thin video filter over libhitsr (hitsr.h).
 *
 *   gst-launch-1.0 videotestsrc ! video/x-raw,width=320,height=180 ! hitsr scale=2 ! videoconvert ! autovideosink
 *
 * Caps: RGB, RGBA or I420 (BT.601 limited range, as libhitsr reads and writes it) in and out (the
 * formats may differ), the source pad's size is the sink pad's × scale. Properties: scale (1..16;
 * the model's own are 1, 2 and 4, others are resampled from the next larger), mode, device, model.
 * The model is loaded when the element starts (READY → PAUSED) and freed when it stops; the
 * properties change only while it is stopped. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "hitsr.h"

GST_DEBUG_CATEGORY_STATIC(hitsr_debug);
#define GST_CAT_DEFAULT hitsr_debug

#define GST_TYPE_HITSR (gst_hitsr_get_type())
G_DECLARE_FINAL_TYPE(GstHitsr, gst_hitsr, GST, HITSR, GstVideoFilter)

struct _GstHitsr {
	GstVideoFilter parent;
	gint scale;
	gchar *mode, *device, *model;
	hitsr_t h;
};

G_DEFINE_TYPE(GstHitsr, gst_hitsr, GST_TYPE_VIDEO_FILTER)

enum { PROP_0, PROP_SCALE, PROP_MODE, PROP_DEVICE, PROP_MODEL };

#define CAPS GST_VIDEO_CAPS_MAKE("{ RGB, RGBA }") "; " GST_VIDEO_CAPS_MAKE("I420") ", colorimetry = (string) bt601"
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS));

static void gst_hitsr_set_property(GObject *obj, guint id, const GValue *v, GParamSpec *spec) {
	GstHitsr *self = GST_HITSR(obj);
	GST_OBJECT_LOCK(self);
	if (self->h) { /* the model is loaded with the values it started with */
		GST_OBJECT_UNLOCK(self);
		GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("hitsr: %s can only be changed while the element is stopped (NULL or READY); kept as it was", spec->name), (NULL));
		return;
	}
	switch (id) {
	case PROP_SCALE:
		self->scale = g_value_get_int(v);
		break;
	case PROP_MODE:
		g_free(self->mode);
		self->mode = g_value_dup_string(v);
		break;
	case PROP_DEVICE:
		g_free(self->device);
		self->device = g_value_dup_string(v);
		break;
	case PROP_MODEL:
		g_free(self->model);
		self->model = g_value_dup_string(v);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, spec);
	}
	GST_OBJECT_UNLOCK(self);
}

static void gst_hitsr_get_property(GObject *obj, guint id, GValue *v, GParamSpec *spec) {
	GstHitsr *self = GST_HITSR(obj);
	GST_OBJECT_LOCK(self);
	switch (id) {
	case PROP_SCALE:
		g_value_set_int(v, self->scale);
		break;
	case PROP_MODE:
		g_value_set_string(v, self->mode);
		break;
	case PROP_DEVICE:
		g_value_set_string(v, self->device);
		break;
	case PROP_MODEL:
		g_value_set_string(v, self->model);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, spec);
	}
	GST_OBJECT_UNLOCK(self);
}

/* scale_dim maps a width or height field across the element: ×scale towards the source pad,
 * ÷scale towards the sink pad (only sizes that divide). Returns FALSE when nothing maps. */
static gboolean scale_dim(const GValue *in, GValue *out, gint scale, gboolean up) {
	if (G_VALUE_HOLDS_INT(in)) {
		gint v = g_value_get_int(in);
		if (!up && v % scale)
			return FALSE;
		g_value_init(out, G_TYPE_INT);
		g_value_set_int(out, up ? MIN((gint64)v * scale, G_MAXINT) : v / scale);
		return TRUE;
	}
	if (GST_VALUE_HOLDS_INT_RANGE(in)) {
		gint lo = gst_value_get_int_range_min(in), hi = gst_value_get_int_range_max(in);
		lo = up ? MIN((gint64)lo * scale, G_MAXINT) : (lo + scale - 1) / scale;
		hi = up ? MIN((gint64)hi * scale, G_MAXINT) : hi / scale;
		if (lo > hi)
			return FALSE;
		g_value_init(out, GST_TYPE_INT_RANGE);
		gst_value_set_int_range(out, MAX(lo, 1), MAX(hi, 1));
		return TRUE;
	}
	if (GST_VALUE_HOLDS_LIST(in)) {
		g_value_init(out, GST_TYPE_LIST);
		for (guint i = 0; i < gst_value_list_get_size(in); i++) {
			GValue o = G_VALUE_INIT;
			if (scale_dim(gst_value_list_get_value(in, i), &o, scale, up))
				gst_value_list_append_and_take_value(out, &o);
		}
		if (gst_value_list_get_size(out) > 0)
			return TRUE;
		g_value_unset(out);
	}
	return FALSE;
}

static GstCaps *gst_hitsr_transform_caps(GstBaseTransform *bt, GstPadDirection dir, GstCaps *caps, GstCaps *filter) {
	GstHitsr *self = GST_HITSR(bt);
	GST_OBJECT_LOCK(self);
	gint scale = self->scale;
	GST_OBJECT_UNLOCK(self);
	gboolean up = dir == GST_PAD_SINK;
	GstCaps *res = gst_caps_new_empty();
	for (guint i = 0; i < gst_caps_get_size(caps); i++) {
		GstStructure *s = gst_structure_copy(gst_caps_get_structure(caps, i));
		GValue w = G_VALUE_INIT, h = G_VALUE_INIT;
		const GValue *iw = gst_structure_get_value(s, "width"), *ih = gst_structure_get_value(s, "height");
		if (iw && ih) {
			if (!scale_dim(iw, &w, scale, up) || !scale_dim(ih, &h, scale, up)) {
				g_value_unset(&w);
				gst_structure_free(s);
				continue;
			}
			gst_structure_take_value(s, "width", &w);
			gst_structure_take_value(s, "height", &h);
		}
		gst_structure_remove_fields(s, "format", "colorimetry", "chroma-site", NULL); /* the other side's template sets them */
		gst_caps_append_structure(res, s);
	}
	GstCaps *tmpl = gst_static_pad_template_get_caps(up ? &src_template : &sink_template);
	GstCaps *out = gst_caps_intersect(res, tmpl);
	gst_caps_unref(tmpl);
	gst_caps_unref(res);
	if (filter) {
		GstCaps *f = gst_caps_intersect_full(filter, out, GST_CAPS_INTERSECT_FIRST);
		gst_caps_unref(out);
		out = f;
	}
	GST_DEBUG_OBJECT(self, "%s %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT, up ? "sink" : "src", caps, out);
	return out;
}

/* fixate_caps prefers the input's format on the output. */
static GstCaps *gst_hitsr_fixate_caps(GstBaseTransform *bt, GstPadDirection dir, GstCaps *caps, GstCaps *othercaps) {
	othercaps = gst_caps_make_writable(othercaps);
	const gchar *fmt = gst_structure_get_string(gst_caps_get_structure(caps, 0), "format");
	if (fmt) {
		GstCaps *same = gst_caps_copy(othercaps);
		gst_caps_set_simple(same, "format", G_TYPE_STRING, fmt, NULL);
		GstCaps *both = gst_caps_intersect(same, othercaps);
		gst_caps_unref(same);
		if (!gst_caps_is_empty(both)) {
			gst_caps_unref(othercaps);
			othercaps = both;
		} else {
			gst_caps_unref(both);
		}
	}
	return GST_BASE_TRANSFORM_CLASS(gst_hitsr_parent_class)->fixate_caps(bt, dir, caps, othercaps);
}

static gboolean gst_hitsr_start(GstBaseTransform *bt) {
	GstHitsr *self = GST_HITSR(bt);
	GST_OBJECT_LOCK(self);
	int scale = self->scale;
	gchar *model = g_strdup(self->model), *device = g_strdup(self->device), *mode = g_strdup(self->mode);
	GST_OBJECT_UNLOCK(self);
	int rc = hitsr_open(&self->h, model, device, mode, &scale, 1);
	g_free(model);
	g_free(device);
	g_free(mode);
	if (rc != HITSR_OK) {
		self->h = 0;
		GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("hitsr: %s", hitsr_error(0)), (NULL));
		return FALSE;
	}
	return TRUE;
}

static gboolean gst_hitsr_stop(GstBaseTransform *bt) {
	GstHitsr *self = GST_HITSR(bt);
	if (self->h)
		hitsr_close(self->h);
	self->h = 0;
	return TRUE;
}

static int hitsr_format(GstVideoFormat f) {
	switch (f) {
	case GST_VIDEO_FORMAT_RGB:
		return HITSR_FORMAT_RGB;
	case GST_VIDEO_FORMAT_RGBA:
		return HITSR_FORMAT_RGBA;
	default:
		return HITSR_FORMAT_I420;
	}
}

static hitsr_frame wrap(GstVideoFrame *vf) {
	hitsr_frame f = {0};
	f.format = hitsr_format(GST_VIDEO_FRAME_FORMAT(vf));
	f.width = GST_VIDEO_FRAME_WIDTH(vf);
	f.height = GST_VIDEO_FRAME_HEIGHT(vf);
	for (guint i = 0; i < GST_VIDEO_FRAME_N_PLANES(vf) && i < 3; i++) {
		f.data[i] = GST_VIDEO_FRAME_PLANE_DATA(vf, i);
		f.stride[i] = GST_VIDEO_FRAME_PLANE_STRIDE(vf, i);
	}
	return f;
}

static GstFlowReturn gst_hitsr_transform_frame(GstVideoFilter *vf, GstVideoFrame *in, GstVideoFrame *out) {
	GstHitsr *self = GST_HITSR(vf);
	gint64 t0 = g_get_monotonic_time();
	hitsr_frame fi = wrap(in), fo = wrap(out);
	fi.pts = GST_BUFFER_PTS_IS_VALID(in->buffer) ? (int64_t)GST_BUFFER_PTS(in->buffer) : -1;
	if (hitsr_push(self->h, &fi) != HITSR_OK || hitsr_pull(self->h, fo.width / fi.width, &fo) != HITSR_OK) {
		GST_ELEMENT_ERROR(self, STREAM, FAILED, ("hitsr: %s", hitsr_error(self->h)), (NULL));
		return GST_FLOW_ERROR;
	}
	GST_INFO_OBJECT(self, "frame pts %" GST_TIME_FORMAT " %dx%d -> %dx%d in %.1f ms", GST_TIME_ARGS(GST_BUFFER_PTS(in->buffer)),
	                fi.width, fi.height, fo.width, fo.height, (g_get_monotonic_time() - t0) / 1000.0);
	return GST_FLOW_OK;
}

static void gst_hitsr_finalize(GObject *obj) {
	GstHitsr *self = GST_HITSR(obj);
	g_free(self->mode);
	g_free(self->device);
	g_free(self->model);
	G_OBJECT_CLASS(gst_hitsr_parent_class)->finalize(obj);
}

static void gst_hitsr_class_init(GstHitsrClass *klass) {
	GObjectClass *oc = G_OBJECT_CLASS(klass);
	GstElementClass *ec = GST_ELEMENT_CLASS(klass);
	GstBaseTransformClass *bc = GST_BASE_TRANSFORM_CLASS(klass);
	oc->set_property = gst_hitsr_set_property;
	oc->get_property = gst_hitsr_get_property;
	oc->finalize = gst_hitsr_finalize;
	GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
	g_object_class_install_property(oc, PROP_SCALE,
	                                g_param_spec_int("scale", "Scale", "Output size ÷ input size (the model's own: 1, 2, 4; others are resampled from the next larger)", 1, 16, 2, rw));
	g_object_class_install_property(oc, PROP_MODE,
	                                g_param_spec_string("mode", "Mode", "fidelity (the conv backbone, fast), full (the token pass) or auto", "auto", rw));
	g_object_class_install_property(oc, PROP_DEVICE,
	                                g_param_spec_string("device", "Device", "auto (a Vulkan GPU, else the CPU), cpu, vulkan or vulkan:N", "auto", rw));
	g_object_class_install_property(oc, PROP_MODEL,
	                                g_param_spec_string("model", "Model", "Weights file (empty: the model built into libhitsr)", "", rw));
	gst_element_class_set_static_metadata(ec, "hitsr super-resolution", "Filter/Effect/Video/Scaler",
	                                      "Upscales video with the hitsr model (×1, ×2, ×4 natively)", "hitsr");
	gst_element_class_add_static_pad_template(ec, &sink_template);
	gst_element_class_add_static_pad_template(ec, &src_template);
	bc->transform_caps = gst_hitsr_transform_caps;
	bc->fixate_caps = gst_hitsr_fixate_caps;
	bc->start = gst_hitsr_start;
	bc->stop = gst_hitsr_stop;
	bc->passthrough_on_same_caps = FALSE;
	GST_VIDEO_FILTER_CLASS(klass)->transform_frame = gst_hitsr_transform_frame;
}

static void gst_hitsr_init(GstHitsr *self) {
	self->scale = 2;
	self->mode = g_strdup("auto");
	self->device = g_strdup("auto");
	self->model = g_strdup("");
}

static gboolean plugin_init(GstPlugin *plugin) {
	GST_DEBUG_CATEGORY_INIT(hitsr_debug, "hitsr", 0, "hitsr super-resolution");
	return gst_element_register(plugin, "hitsr", GST_RANK_NONE, GST_TYPE_HITSR);
}

#define PACKAGE "hitsr"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, hitsr, "hitsr super-resolution", plugin_init, "0.1", "unknown",
                  "hitsr", "https://github.com/hitsr/hitsr")

/* A property set on the element while it runs is refused (a warning; the model keeps the values it
 * started with) and the stream goes on: scale=4 at the 5th of 20 buffers, then every buffer still
 * comes out at ×2. Prints "ok" and exits 0, or says what failed. */
#include <gst/gst.h>
#include <stdio.h>

static GstElement *hitsr;
static int seen, sink_bytes_bad;

static GstPadProbeReturn at_source(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
	(void)pad, (void)info, (void)data;
	if (++seen == 5)
		g_object_set(hitsr, "scale", 4, NULL);
	return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn at_sink(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
	(void)pad, (void)data;
	if (gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info)) != 128 * 96 * 3)
		sink_bytes_bad++;
	return GST_PAD_PROBE_OK;
}

int main(int argc, char **argv) {
	gst_init(&argc, &argv);
	GstElement *p = gst_parse_launch("videotestsrc name=src num-buffers=20 ! video/x-raw,width=64,height=48,format=RGB "
	                                 "! hitsr name=h device=cpu scale=2 ! fakesink name=sink sync=false", NULL);
	hitsr = gst_bin_get_by_name(GST_BIN(p), "h");
	GstElement *src = gst_bin_get_by_name(GST_BIN(p), "src"), *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
	GstPad *sp = gst_element_get_static_pad(src, "src"), *kp = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(sp, GST_PAD_PROBE_TYPE_BUFFER, at_source, NULL, NULL);
	gst_pad_add_probe(kp, GST_PAD_PROBE_TYPE_BUFFER, at_sink, NULL, NULL);
	gst_element_set_state(p, GST_STATE_PLAYING);
	GstBus *bus = gst_element_get_bus(p);
	int warned = 0, rc = 0;
	for (;;) {
		GstMessage *m = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
		if (!m) {
			puts("timed out");
			rc = 1;
			break;
		}
		GstMessageType t = GST_MESSAGE_TYPE(m);
		gst_message_unref(m);
		if (t == GST_MESSAGE_WARNING) {
			warned++;
			continue;
		}
		if (t == GST_MESSAGE_ERROR) {
			puts("error: the stream failed");
			rc = 1;
		}
		break;
	}
	int scale = 0;
	g_object_get(hitsr, "scale", &scale, NULL);
	if (!rc && (scale != 2 || !warned || sink_bytes_bad || seen != 20)) {
		printf("scale reads %d, %d warnings, %d buffers not 128x96 RGB, %d buffers seen\n", scale, warned, sink_bytes_bad, seen);
		rc = 1;
	}
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(sp), gst_object_unref(kp), gst_object_unref(src), gst_object_unref(sink), gst_object_unref(hitsr);
	gst_object_unref(bus), gst_object_unref(p);
	if (!rc)
		puts("ok");
	return rc;
}

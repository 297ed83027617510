package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
)

// IsNetwork reports whether an input is a network stream (udp://, srt://, rtmp://, …): one that
// arrives at its sender's pace, and whose sender may go quiet without closing anything.
func IsNetwork(u string) bool {
	s := scheme(u)
	return s != "" && s != "file" && s != "pipe" && s != "data"
}

// socketSchemes are the protocols whose URL is HOST:PORT on a socket.
var socketSchemes = []string{"tcp", "udp", "srt", "rtp"}

// checkPort refuses a network URL's port above 65535, which FFmpeg would silently wrap
// (udp://host:99999 listens on 34463 and waits for ever), and, for an output of a socket protocol,
// a URL that names no port to send to or that Go cannot parse (FFmpeg fails at open with "Invalid
// argument"). Other URLs Go cannot parse are left to FFmpeg.
func checkPort(u string, output bool) error {
	if !IsNetwork(u) {
		return nil
	}
	send := output && slices.Contains(socketSchemes, scheme(u))
	pu, err := neturl.Parse(u)
	if err != nil {
		if send {
			return fmt.Errorf("not a valid URL (%v)", errors.Unwrap(err))
		}
		return nil
	}
	n, err := strconv.Atoi(pu.Port())
	switch {
	case pu.Port() != "" && (err != nil || n > 65535):
		return fmt.Errorf("invalid port %s (0-65535)", pu.Port())
	case send && (err != nil || n < 1):
		return fmt.Errorf("no port to send to (want %s://HOST:PORT, port 1-65535)", pu.Scheme)
	}
	return nil
}

// stallWatch ends a network input whose sender has gone away: once packets have arrived, no
// packet for timeout interrupts the blocked read, and the run finishes its outputs as at the
// end of a file (UDP and RTP have no end-of-stream; a quiet sender is the end).
type stallWatch struct {
	timeout time.Duration
	last    atomic.Int64 // time of the last packet (UnixNano); 0 before the first
	stalled atomic.Bool
}

// watchStalls starts watching in's reads until ctx ends.
func watchStalls(ctx context.Context, in *input, timeout time.Duration) *stallWatch {
	s := &stallWatch{timeout: timeout}
	go func() {
		t := time.NewTicker(min(timeout/4, 250*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if last := s.last.Load(); last != 0 && now.Sub(time.Unix(0, last)) > timeout {
					s.stalled.Store(true)
					in.interrupt()
					return
				}
			}
		}
	}()
	return s
}

// packet records a packet read.
func (s *stallWatch) packet() {
	if s != nil {
		s.last.Store(time.Now().UnixNano())
	}
}

// ended reports whether the watch ended the input.
func (s *stallWatch) ended() bool { return s != nil && s.stalled.Load() }

// liveProbe is the most of a network input read to find its streams (FFmpeg's analyzeduration,
// 5 s by default: the FLV of an RTMP stream announces audio whether it has any or not, and is
// read that long). What was read arrives at the model in one burst when the run starts.
const liveProbe = time.Second

// DefaultQueue is the model queue's length when Options.Queue is 0: 4 frames, or with Realtime
// twice liveProbe of the input's frames (at least 4), so the burst a live stream starts with
// is not dropped; only a model that stays behind drops frames, and the queue bounds latency.
func DefaultQueue(realtime bool, fps float64) int {
	if !realtime || math.IsNaN(fps) {
		return 4
	}
	return max(4, int(math.Ceil(min(2*liveProbe.Seconds()*fps, 256))))
}

// DefaultMaxDelay is Options.MaxDelay when 0: the model queue's length in input time (2 s
// with the realtime default queue), so the burst a live stream starts with is kept whole while
// a frame's wait for the model is bounded even when the model takes longer than a frame.
func DefaultMaxDelay(queue int, fps float64) time.Duration {
	if !(fps > 0) || math.IsInf(fps, 0) {
		return 2 * liveProbe
	}
	return time.Duration(float64(queue) / fps * float64(time.Second))
}

// enqueueFresh puts j on the model queue without waiting, stamped with the time it entered:
// when the queue is full, the oldest queued frame makes room (dropped is called for it), as a
// live viewer wants the newest. False when the run is aborted.
func enqueueFresh(abort context.Context, jobs chan *frameJob, j *frameJob, dropped func()) bool {
	j.queued = time.Now()
	for {
		select {
		case jobs <- j:
			return true
		case <-abort.Done():
			return false
		default:
		}
		select {
		case <-jobs:
			dropped()
		default: // the model took one meanwhile
		}
	}
}

// liveEncoderOptions adds to opts, for a live run, what keeps codec from holding frames back:
// x264's and x265's zerolatency tuning (no B-frames, no lookahead, slice threads instead of
// frame threads). The output's own settings (preset, crf, bitrate, a rendition's keyframe
// options) are applied by the encoder after the tuning, so they win.
func liveEncoderOptions(codec string, opts map[string]string) {
	if _, set := opts["tune"]; !set && (codec == "libx264" || codec == "libx265") {
		opts["tune"] = "zerolatency"
	}
}

// streamFormat is the container a network output takes unless one is named: MPEG-TS over udp,
// srt and tcp, MPEG-TS in RTP over rtp, FLV over rtmp; "" for anything else.
func streamFormat(url string) string {
	scheme, _, _ := strings.Cut(url, "://")
	switch strings.ToLower(scheme) {
	case "udp", "srt", "tcp":
		return "mpegts"
	case "rtp":
		return "rtp_mpegts"
	case "rtmp", "rtmps":
		return "flv"
	case "rtsp":
		return "rtsp"
	}
	return ""
}

// srtLinger is how long closing an SRT output may wait for its last packets to be delivered
// (libsrt otherwise drops what is unsent at close: the stream's last frames).
const srtLinger = "2"

// srtDrain is how long an SRT output stays open after its last packet. FFmpeg closes its SRT
// socket without blocking and then releases libsrt, which cuts the linger short: what libsrt
// had not sent yet (a loaded machine's last frames) was lost, and a receiver playing on
// libsrt's clock (120 ms behind by default) drops what it has not played when the sender goes.
const srtDrain = 2 * time.Second

// watchReceivers fails the run when a network output has been blocked in one write for longer
// than timeout, and interrupts that write.
func watchReceivers(ctx context.Context, outs []*output, timeout time.Duration, fail func(error)) {
	t := time.NewTicker(min(timeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, w := range outs {
			if w.interruptible() && w.stalledFor() > timeout {
				fail(errf(KindFailure, "%s: the receiver accepted no data for %v (--output-timeout)", w.name, timeout))
				w.intr.Interrupt()
				return
			}
		}
	}
}

// drainBeforeClose waits, for an output whose protocol loses data still in flight at close
// (srt://), until it has been delivered and played.
func drainBeforeClose(url string) {
	if isSRT(url) {
		time.Sleep(srtDrain)
	}
}

// outputURL is url with the options a network output needs unless given: linger for srt://.
func outputURL(url string) string {
	if !isSRT(url) || strings.Contains(url, "linger=") {
		return url
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "linger=" + srtLinger
}

// liveMuxerOptions adds to opts, for a live run, what lets a receiver pass on each frame as
// soon as it has arrived: MPEG-TS with the length of every video PES stated (one that does not
// fit 16 bits still goes without), so a demuxer need not wait for the next PES to end it.
func liveMuxerOptions(format string, opts *astiav.Dictionary) {
	if format == "mpegts" {
		opts.Set("omit_video_pes_length", "0", astiav.NewDictionaryFlags())
	}
}

func isSRT(url string) bool { return strings.HasPrefix(strings.ToLower(url), "srt://") }

// peerClosed reports a read error that is how FFmpeg's SRT and RTMP inputs report their connection
// closed (EIO, whether the sender ended the stream or the link was lost): the input's end, not a fault.
func peerClosed(url string, err error) bool { return IsNetwork(url) && errors.Is(err, astiav.ErrEio) }

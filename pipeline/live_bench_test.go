package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asticode/go-astiav"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

// Live latency: a live H.264 stream (testsrc2, HITSR_LIVE_SIZE at HITSR_LIVE_FPS; default
// 128x72 at 5 frames/s, what the shared 2-core machine sustains in fidelity mode beside a
// training job) is sent over UDP loopback at its own pace for HITSR_LIVE_SECONDS (default 600)
// and upscaled in fidelity mode (shipped model, CPU) with Realtime, the default queue and max
// delay (HITSR_LIVE_MAX_DELAY seconds sets it) to ×2 and ×4 MPEG-TS over UDP. Every frame carries its number as a binary code in its top rows;
// latency is a frame's send time to the arrival of the ×4 packet holding the same picture (the
// code read back from the decoded ×4 frame). p50/p95/max are printed for the run and per
// minute, with the frames sent and identified, the model queue and the fullest encoder queue
// (sampled every second) and the load average.
func BenchmarkLiveLatency(b *testing.B) {
	fftest.Need(b, "ffmpeg")
	size, fps, seconds := "128x72", 5, 600
	if v := os.Getenv("HITSR_LIVE_SIZE"); v != "" {
		size = v
	}
	if v, err := strconv.Atoi(os.Getenv("HITSR_LIVE_FPS")); err == nil && v > 0 {
		fps = v
	}
	if v, err := strconv.Atoi(os.Getenv("HITSR_LIVE_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	var maxDelay time.Duration // 0: the default
	if v, err := strconv.ParseFloat(os.Getenv("HITSR_LIVE_MAX_DELAY"), 64); err == nil && v > 0 {
		maxDelay = time.Duration(v * float64(time.Second))
	}
	var w, h int
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil || w < codeBits*codeCell || h < 2*codeCell {
		b.Fatalf("HITSR_LIVE_SIZE %q: want WxH, at least %dx%d (the frame code)", size, codeBits*codeCell, 2*codeCell)
	}
	if n := seconds * fps; n >= 1<<codeBits {
		b.Fatalf("%d frames: the frame code counts to %d", n, 1<<codeBits-1)
	}
	clip := filepath.Join(b.TempDir(), "live.ts")
	fftest.FFmpeg(b, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d:duration=%d,format=yuv420p,%s", size, fps, seconds, codeFilter),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", strconv.Itoa(fps), "-bf", "0", clip)
	m, err := hitsr.Load(shipped, "cpu")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if !m.Has(hitsr.Fidelity) {
		b.Skip("the shipped model has no fidelity network")
	}
	m.Mode = hitsr.Fidelity
	in, out := udpPort(b), udpPort(b)
	var mu sync.Mutex
	var sent []time.Time       // by frame number
	got := map[int]time.Time{} // frame number → arrival of its ×4 packet
	unread := 0                // ×4 frames whose code did not read back
	type queueSample struct {
		at              time.Duration
		queued, backlog int
	}
	var queues []queueSample
	load0 := loadAverage()
	loads := map[int]string{} // minute → the load average at its end (or the run's)

	recvErr, ran := make(chan error, 1), make(chan struct{})
	go func() {
		recvErr <- receiveCoded(fmt.Sprintf("udp://127.0.0.1:%d", out), w, ran, &mu, got, &unread)
	}()
	// Warnings (frames dropped, the input's end) on stdout.
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.Lock(os.Stdout), zap.WarnLevel))
	var st Stats
	runErr := make(chan error, 1)
	go func() {
		var err error
		lastSample := time.Duration(-1)
		st, err = Run(context.Background(), m, Options{Input: fmt.Sprintf("udp://127.0.0.1:%d", in), Realtime: true, MaxDelay: maxDelay,
			InputTimeout: 10 * time.Second, Log: log, Outputs: []Output{
				{URL: fmt.Sprintf("udp://127.0.0.1:%d", udpPort(b)), Target: hitsr.Target{Scale: 2}, CRF: 23, Preset: "ultrafast"},
				{URL: fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", out), Target: hitsr.Target{Scale: 4}, CRF: 23, Preset: "ultrafast"}},
			Progress: func(s Stats) {
				if s.Elapsed-lastSample >= time.Second {
					lastSample = s.Elapsed
					mu.Lock()
					queues = append(queues, queueSample{s.Elapsed, s.Queued, s.Backlog})
					loads[int(s.Elapsed.Minutes())] = loadAverage()
					mu.Unlock()
				}
			}})
		close(ran)
		runErr <- err
	}()
	time.Sleep(time.Second) // the receivers are bound
	b.ResetTimer()
	if err := sendClip(clip, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", in), &mu, &sent); err != nil {
		b.Fatal(err)
	}
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
	err = <-recvErr // 3 s after the run and the last packet
	b.StopTimer()
	if err != nil && !errors.Is(err, astiav.ErrExit) {
		b.Logf("receiver: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	say := func(format string, a ...any) { fmt.Printf("live latency: "+format+"\n", a...) } // all lines (b.Logf keeps 10)
	var all []float64
	perMinute := map[int][]float64{}
	for n, t := range got {
		if n >= len(sent) {
			b.Fatalf("frame %d read back; %d were sent", n, len(sent))
		}
		ms := float64(t.Sub(sent[n]).Microseconds()) / 1e3
		all = append(all, ms)
		minute := int(sent[n].Sub(sent[0]).Minutes())
		perMinute[minute] = append(perMinute[minute], ms)
	}
	if len(all) == 0 {
		b.Fatalf("no frame of the %d sent arrived in the ×4 stream (stats %+v)", len(sent), st)
	}
	p50, p95, pmax := percentiles(all)
	b.ReportMetric(p50, "p50_ms")
	b.ReportMetric(p95, "p95_ms")
	delay := "default"
	if maxDelay > 0 {
		delay = maxDelay.String()
	}
	say("%s at %d fps, %d s, fidelity mode on %s, max delay %s → ×2 + ×4 (x264 ultrafast, MPEG-TS over UDP), load average %s at the start, %s at the end (%d CPUs)",
		size, fps, seconds, m.Backend().Name(), delay, load0, loadAverage(), runtime.NumCPU())
	say("%d frames sent, %d decoded, %d done, %d dropped; %d identified in the ×4 stream, %d ×4 frames unreadable",
		len(sent), st.Decoded, st.Done, st.Dropped, len(all), unread)
	say("latency send → ×4 arrival: p50 %.0f ms, p95 %.0f ms, max %.0f ms", p50, p95, pmax)
	sentPerMinute := map[int]int{}
	for _, t := range sent {
		sentPerMinute[int(t.Sub(sent[0]).Minutes())]++
	}
	for minute := 0; minute <= seconds/60; minute++ {
		v := perMinute[minute]
		if len(v) == 0 {
			continue
		}
		q, bl := 0, 0
		for _, s := range queues {
			if int(s.at.Minutes()) == minute {
				q, bl = max(q, s.queued), max(bl, s.backlog)
			}
		}
		a, c, e := percentiles(v)
		say("minute %d: %d frames sent, %d identified, latency p50 %.0f / p95 %.0f / max %.0f ms; model queue max %d, encoder queue max %d; load average %s",
			minute, sentPerMinute[minute], len(v), a, c, e, q, bl, loads[minute])
	}
}

// The frame code: codeBits cells of codeCell×codeCell pixels across the top of the picture,
// white for a 1 bit, and below them the complement (a cell that reads the same in both rows
// is unreadable), so each frame names itself after any scaling and coding.
const codeBits, codeCell = 16, 8

// codeFilter draws frame N's code (geq: chroma planes are half size, their cells neutral).
var codeFilter = fmt.Sprintf("geq=lum='if(lt(Y,%[2]d)*lt(X,%[3]d),if(eq(mod(floor(N/pow(2,floor(X/%[1]d))),2),lt(Y,%[1]d)),235,16),lum(X,Y))'"+
	":cb='if(lt(Y,%[1]d)*lt(X,%[4]d),128,cb(X,Y))':cr='if(lt(Y,%[1]d)*lt(X,%[4]d),128,cr(X,Y))'",
	codeCell, 2*codeCell, codeBits*codeCell, codeBits*codeCell/2)

// readCode reads the frame code from a luma plane (stride bytes a row) upscaled by scale: the
// mean of each cell's middle half, bright or dark; ok is false when a cell and its complement
// read alike.
func readCode(luma []byte, stride, scale int) (n int, ok bool) {
	mean := func(x0, y0 int) bool {
		c := codeCell * scale
		sum, cnt := 0, 0
		for y := y0 + c/4; y < y0+3*c/4; y++ {
			for x := x0 + c/4; x < x0+3*c/4; x++ {
				sum += int(luma[y*stride+x])
				cnt++
			}
		}
		return sum > 126*cnt
	}
	for bit := range codeBits {
		x := bit * codeCell * scale
		one, zero := mean(x, 0), mean(x, codeCell*scale)
		if one == zero {
			return 0, false
		}
		if one {
			n |= 1 << bit
		}
	}
	return n, true
}

func percentiles(v []float64) (p50, p95, pmax float64) {
	slices.Sort(v)
	at := func(q float64) float64 { return v[min(int(q*float64(len(v))), len(v)-1)] }
	return at(0.5), at(0.95), v[len(v)-1]
}

func udpPort(b *testing.B) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// loadAverage is the 1-minute load average ("?" if unknown).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// sendClip plays clip (one H.264 stream without B-frames: packet k is frame k) to url as a
// live MPEG-TS stream, each packet written at its time, and appends each one's send time to
// sent.
func sendClip(clip, url string, mu *sync.Mutex, sent *[]time.Time) error {
	ic := astiav.AllocFormatContext()
	defer ic.Free()
	if err := ic.OpenInput(clip, nil, nil); err != nil {
		return err
	}
	defer ic.CloseInput()
	if err := ic.FindStreamInfo(nil); err != nil {
		return err
	}
	ist := ic.Streams()[0]
	oc, err := astiav.AllocOutputFormatContext(nil, "mpegts", url)
	if err != nil {
		return err
	}
	defer oc.Free()
	ost := oc.NewStream(nil)
	if err := ist.CodecParameters().Copy(ost.CodecParameters()); err != nil {
		return err
	}
	ost.SetTimeBase(ist.TimeBase())
	ioc, err := astiav.OpenIOContext(url, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		return err
	}
	defer ioc.Close()
	oc.SetPb(ioc)
	opts := astiav.NewDictionary()
	defer opts.Free()
	opts.Set("flush_packets", "1", astiav.NewDictionaryFlags())
	if err := oc.WriteHeader(opts); err != nil {
		return err
	}
	tb := ist.TimeBase()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var start time.Time
	first := astiav.NoPtsValue
	for {
		if err := ic.ReadFrame(pkt); errors.Is(err, astiav.ErrEof) {
			return oc.WriteTrailer()
		} else if err != nil {
			return err
		}
		if first == astiav.NoPtsValue {
			first, start = pkt.Pts(), time.Now()
		}
		time.Sleep(time.Until(start.Add(time.Duration(float64(pkt.Pts()-first) * tb.Float64() * float64(time.Second)))))
		pkt.SetStreamIndex(0)
		pkt.RescaleTs(tb, ost.TimeBase())
		mu.Lock()
		*sent = append(*sent, time.Now())
		mu.Unlock()
		err := oc.WriteFrame(pkt)
		pkt.Unref()
		if err != nil {
			return err
		}
	}
}

// receiveCoded reads the MPEG-TS stream at url until ran is closed and no packet has arrived
// for 3 s, decodes its video (width: the clip's, for the scale) and records, by the frame code each
// decoded picture shows, the arrival time of the packet that carried it (the first arrival of
// a code counts); unread counts pictures whose code does not read back.
func receiveCoded(url string, width int, ran <-chan struct{}, mu *sync.Mutex, got map[int]time.Time, unread *int) error {
	fc := astiav.AllocFormatContext()
	defer fc.Free()
	intr := fc.SetInterruptCallback()
	last := time.Now() // guarded by mu
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
				mu.Lock()
				quiet := time.Since(last) > 3*time.Second
				mu.Unlock()
				select {
				case <-ran:
				default:
					quiet = false
				}
				if quiet {
					intr.Interrupt()
					return
				}
			}
		}
	}()
	if err := fc.OpenInput(url, astiav.FindInputFormat("mpegts"), nil); err != nil {
		return err
	}
	defer fc.CloseInput()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	var dec *astiav.CodecContext
	defer func() {
		if dec != nil {
			dec.Free()
		}
	}()
	arrived := map[int64]time.Time{} // packet pts → arrival
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			return err
		}
		now := time.Now()
		mu.Lock()
		last = now
		mu.Unlock()
		cp := fc.Streams()[pkt.StreamIndex()].CodecParameters()
		if cp.MediaType() != astiav.MediaTypeVideo {
			pkt.Unref()
			continue
		}
		if dec == nil {
			codec := astiav.FindDecoder(cp.CodecID())
			if codec == nil {
				return fmt.Errorf("no decoder for %s", cp.CodecID().Name())
			}
			dec = astiav.AllocCodecContext(codec)
			if err := cp.ToCodecContext(dec); err != nil {
				return err
			}
			dec.SetThreadCount(1) // no frame-thread delay
			if err := dec.Open(codec, nil); err != nil {
				return err
			}
		}
		arrived[pkt.Pts()] = now
		err := dec.SendPacket(pkt)
		pkt.Unref()
		if err != nil {
			continue // a packet lost in transit breaks a frame; the decoder recovers at the next keyframe
		}
		for dec.ReceiveFrame(frame) == nil {
			at, ok := arrived[frame.Pts()]
			delete(arrived, frame.Pts())
			var n int
			if ok && frame.PixelFormat() == astiav.PixelFormatYuv420P && frame.Width()%width == 0 {
				var img []byte
				if img, err = frame.Data().Bytes(1); err == nil {
					n, ok = readCode(img, frame.Width(), frame.Width()/width)
				} else {
					ok = false
				}
			} else {
				ok = false
			}
			mu.Lock()
			if !ok {
				*unread++
			} else if _, seen := got[n]; !seen {
				got[n] = at
			}
			mu.Unlock()
			frame.Unref()
		}
	}
}
